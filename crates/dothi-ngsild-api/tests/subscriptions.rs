//! NGSI-LD subscriptions through HTTP on SQLite and PostgreSQL: CRUD, and notifications
//! received by a local HTTP endpoint and a real Mosquitto (127.0.0.1:1883), with their
//! filters, controls, bookkeeping and durability across failures and restarts.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::{problem, App, BACKENDS, CORE_LINK};
use dothi_broker::subscriptions::{spawn_delivery_worker, spawn_notifier, CURSOR};
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const KIM_LONG: &str = "urn:ngsi-ld:RiverGauge:KimLong";
const SUB: &str = "urn:ngsi-ld:Subscription:flood";
const CORE: &str = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

/// A local HTTP endpoint that records notifications; it can answer 500 to simulate an outage.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    failing: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let (r, f) = (received.clone(), failing.clone());
        let app = Router::new().route(
            "/notify",
            post(move |headers: HeaderMap, body: String| {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    if f.load(Ordering::SeqCst) {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    r.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            addr,
            received,
            failing,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/notify", self.addr)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits until `n` notifications arrived (fails after `secs`).
    async fn wait_for(&self, n: usize, secs: u64) -> Vec<(HeaderMap, Value)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} notifications, got {}: {:?}",
                got.len(),
                got.iter().map(|(_, b)| b).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Workers(JoinHandle<()>, JoinHandle<()>);

impl Workers {
    fn start(app: &App) -> Workers {
        Workers(
            spawn_notifier(app.broker.clone()),
            spawn_delivery_worker(app.broker.clone()),
        )
    }

    fn stop(self) {
        self.0.abort();
        self.1.abort();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.abort();
        self.1.abort();
    }
}

/// Waits until the notifier has read the whole change log and the outbox is empty, so that a
/// notification that is absent will stay absent.
async fn settle(app: &App) {
    let store = &app.broker.store;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let last = store.ngsild_last_change_seq().await.unwrap();
        let cursor = store.ngsild_cursor_get(CURSOR).await.unwrap().unwrap_or(0);
        let pending = store.ngsild_deliveries_pending().await.unwrap();
        if cursor >= last && pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "notifier did not settle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fault of the platform's own while sending (here a subscription row it cannot read) gives
/// the claimed notifications back at once: they go out about a second after the fault is gone,
/// not after the two-minute claim lease that only covers a crashed worker.
#[tokio::test]
async fn notifications_claimed_during_a_fault_of_ours_are_retried_within_seconds() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        create_subscription(&app, &subscription(&receiver.url(), json!({}))).await;
        app.sql("UPDATE ngsild_subscriptions SET body = 'x' || body")
            .await;
        let notification = json!({
            "id": "urn:ngsi-ld:Notification:staged", "type": "Notification",
            "subscriptionId": SUB, "notifiedAt": "2026-11-26T10:00:00.000Z", "data": []
        });
        let store = &app.broker.store;
        store
            .ngsild_deliveries_enqueue(&[(SUB.to_string(), notification.to_string())], 0)
            .await
            .unwrap();
        let worker = spawn_delivery_worker(app.broker.clone());
        // The worker claims the notification (due in two minutes), fails on the unreadable
        // subscription, and gives it back (due within a couple of seconds).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let first = store.ngsild_delivery_first(SUB).await.unwrap();
            let due = first
                .expect("the staged notification is kept")
                .next_attempt_at;
            let now = chrono::Utc::now().timestamp_millis();
            if due > 0 && due <= now + 2_000 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still claimed, due in {} ms",
                due - now
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(receiver.bodies().is_empty());
        app.sql("UPDATE ngsild_subscriptions SET body = substr(body, 2)")
            .await;
        let got = receiver.wait_for(1, 8).await;
        assert_eq!(receiver.bodies(), vec![notification], "{backend:?}");
        assert_eq!(got.len(), 1);
        // The worker settles the delivery after the receiver answered.
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.ngsild_deliveries_pending().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "the delivery was never settled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.abort();
    }
}

fn gauge(level: f64) -> Value {
    json!({
        "id": KIM_LONG,
        "type": "RiverGauge",
        "waterLevel": {"type": "Property", "value": level, "unitCode": "MTR", "observedAt": "2026-11-25T08:00:00Z"},
        "alarmLevel": {"type": "Property", "value": 2},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5419, 16.4659]}}
    })
}

fn subscription(endpoint: &str, extra: Value) -> Value {
    let mut body = json!({
        "id": SUB,
        "type": "Subscription",
        "entities": [{"type": "RiverGauge"}],
        "notification": {"endpoint": {"uri": endpoint, "accept": "application/json"}}
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create_subscription(app: &App, body: &Value) {
    let created = app.json("POST", "/ngsi-ld/v1/subscriptions", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

async fn set_level(app: &App, level: f64) {
    let answer = app
        .json(
            "PATCH",
            &format!("/ngsi-ld/v1/entities/{KIM_LONG}/attrs/waterLevel"),
            &json!({"value": level}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{:?}", answer.body);
}

/// Checks the random id and the time of a notification, and returns it without them.
fn without_id_and_time(mut notification: Value) -> Value {
    let o = notification.as_object_mut().unwrap();
    let id = o.remove("id").unwrap();
    assert!(
        id.as_str()
            .unwrap()
            .starts_with("urn:ngsi-ld:Notification:"),
        "{id}"
    );
    let at = o.remove("notifiedAt").unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(age.num_seconds().abs() < 60, "notifiedAt {at}");
    notification
}

fn levels(bodies: &[Value]) -> Vec<Value> {
    bodies
        .iter()
        .map(|b| b["data"][0]["waterLevel"]["value"].clone())
        .collect()
}

#[tokio::test]
async fn notification_carries_the_entity_compacted_in_the_subscription_context() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        let mut body = subscription(
            &receiver.url(),
            json!({
                "watchedAttributes": ["level"],
                "notification": {
                    "attributes": ["level"],
                    "format": "normalized",
                    "endpoint": {"uri": receiver.url(), "accept": "application/json",
                        "receiverInfo": [{"key": "X-Dothi-Token", "value": "song-huong"}]}
                },
                "@context": [{"level": "https://uri.etsi.org/ngsi-ld/default-context/waterLevel"}, CORE]
            }),
        );
        body["id"] = json!(SUB);
        let created = app
            .json_ld("POST", "/ngsi-ld/v1/subscriptions", &body)
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(
            created.header("location"),
            Some(format!("/ngsi-ld/v1/subscriptions/{SUB}").as_str())
        );
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;

        let got = receiver.wait_for(1, 10).await;
        let (headers, notification) = &got[0];
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/json",
            "{backend:?}"
        );
        assert_eq!(headers.get("link").unwrap(), CORE_LINK);
        assert_eq!(headers.get("x-dothi-token").unwrap(), "song-huong");
        assert_eq!(
            without_id_and_time(notification.clone()),
            json!({
                "type": "Notification",
                "subscriptionId": SUB,
                "data": [{
                    "id": KIM_LONG,
                    "type": "RiverGauge",
                    "level": {"type": "Property", "value": 3.2, "unitCode": "MTR",
                              "observedAt": "2026-11-25T08:00:00Z"}
                }]
            }),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn only_changes_of_watched_attributes_are_notified() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(
                &receiver.url(),
                json!({"watchedAttributes": ["waterLevel"]}),
            ),
        )
        .await;
        let other = app
            .json(
                "PATCH",
                &format!("/ngsi-ld/v1/entities/{KIM_LONG}/attrs/alarmLevel"),
                &json!({"value": 3}),
            )
            .await;
        assert_eq!(other.status, StatusCode::NO_CONTENT);
        set_level(&app, 3.6).await;
        settle(&app).await;
        assert_eq!(levels(&receiver.bodies()), vec![json!(3.6)], "{backend:?}");
        assert_eq!(receiver.bodies()[0]["data"][0]["alarmLevel"]["value"], 3);
    }
}

#[tokio::test]
async fn q_filter_notifies_only_states_that_match() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(
                &receiver.url(),
                json!({"q": "waterLevel>=3.5;alarmLevel==2", "notification": {
                    "format": "keyValues",
                    "endpoint": {"uri": receiver.url(), "accept": "application/json"}}}),
            ),
        )
        .await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        set_level(&app, 3.4).await;
        set_level(&app, 3.8).await;
        set_level(&app, 3.1).await;
        settle(&app).await;
        let bodies: Vec<Value> = receiver
            .bodies()
            .into_iter()
            .map(|b| b["data"].clone())
            .collect();
        assert_eq!(
            bodies,
            vec![json!([{
                "id": KIM_LONG, "type": "RiverGauge", "waterLevel": 3.8, "alarmLevel": 2,
                "location": {"type": "Point", "coordinates": [107.5419, 16.4659]}
            }])],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn geo_query_selects_entities_by_location() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        let _workers = Workers::start(&app);
        // Phú Ốc lies ~8 km from Kim Long: only a subscription around Kim Long hears it.
        for (id, point) in [
            ("urn:ngsi-ld:Subscription:near", [107.5419, 16.4659]),
            ("urn:ngsi-ld:Subscription:far", [107.60, 16.53]),
        ] {
            let mut body = subscription(
                &receiver.url(),
                json!({"geoQ": {"geometry": "Point", "coordinates": point,
                                "georel": "near;maxDistance==1000"}}),
            );
            body["id"] = json!(id);
            create_subscription(&app, &body).await;
        }
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        settle(&app).await;
        let subs: Vec<Value> = receiver
            .bodies()
            .iter()
            .map(|b| b["subscriptionId"].clone())
            .collect();
        assert_eq!(
            subs,
            vec![json!("urn:ngsi-ld:Subscription:near")],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn throttling_drops_notifications_within_the_period() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(&receiver.url(), json!({"throttling": 60})),
        )
        .await;
        set_level(&app, 3.3).await;
        set_level(&app, 3.4).await;
        set_level(&app, 3.5).await;
        settle(&app).await;
        assert_eq!(levels(&receiver.bodies()), vec![json!(3.3)], "{backend:?}");
    }
}

#[tokio::test]
async fn paused_subscription_hears_nothing_until_resumed() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(&receiver.url(), json!({"isActive": false})),
        )
        .await;
        let sub = app.get(&format!("/ngsi-ld/v1/subscriptions/{SUB}")).await;
        assert_eq!(
            (&sub.body["status"], &sub.body["isActive"]),
            (&json!("paused"), &json!(false))
        );
        set_level(&app, 3.3).await;
        settle(&app).await;
        assert_eq!(receiver.bodies(), Vec::<Value>::new(), "{backend:?}");

        let resumed = app
            .json(
                "PATCH",
                &format!("/ngsi-ld/v1/subscriptions/{SUB}"),
                &json!({"isActive": true}),
            )
            .await;
        assert_eq!(resumed.status, StatusCode::NO_CONTENT, "{:?}", resumed.body);
        let sub = app.get(&format!("/ngsi-ld/v1/subscriptions/{SUB}")).await;
        assert_eq!(sub.body["status"], "active");
        set_level(&app, 3.4).await;
        receiver.wait_for(1, 10).await;
        settle(&app).await;
        assert_eq!(levels(&receiver.bodies()), vec![json!(3.4)], "{backend:?}");
    }
}

#[tokio::test]
async fn expired_subscription_is_not_notified() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        let expires = chrono::Utc::now() + chrono::Duration::milliseconds(1200);
        create_subscription(
            &app,
            &subscription(
                &receiver.url(),
                json!({"expiresAt": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
            ),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sub = app.get(&format!("/ngsi-ld/v1/subscriptions/{SUB}")).await;
        assert_eq!(sub.body["status"], "expired", "{backend:?}");
        set_level(&app, 3.3).await;
        settle(&app).await;
        assert_eq!(receiver.bodies(), Vec::<Value>::new(), "{backend:?}");
    }
}

#[tokio::test]
async fn periodic_subscription_sends_the_matching_entities_every_interval() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(
                &receiver.url(),
                json!({"timeInterval": 1, "notification": {"format": "keyValues",
                    "attributes": ["waterLevel"],
                    "endpoint": {"uri": receiver.url(), "accept": "application/json"}}}),
            ),
        )
        .await;
        let started = Instant::now();
        let got = receiver.wait_for(2, 10).await;
        assert!(
            started.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            started.elapsed()
        );
        for (_, body) in got.into_iter().take(2) {
            assert_eq!(
                body["data"],
                json!([{"id": KIM_LONG, "type": "RiverGauge", "waterLevel": 3.2}]),
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn mqtt_endpoint_receives_the_notification_with_metadata() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let topic = format!("dothi-test/{:016x}", rand_u64());
        let mut options =
            MqttOptions::new(format!("dothi-test-{:08x}", rand_u64()), "127.0.0.1", 1883);
        options.set_keep_alive(Duration::from_secs(10));
        let (client, mut events) = AsyncClient::new(options, 10);
        client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let listener = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = tx.send(None);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Some(p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(e) => panic!("test MQTT client: {e}"),
                }
            }
        });
        assert_eq!(rx.recv().await, Some(None), "subscribed");
        let _workers = Workers::start(&app);
        create_subscription(
            &app,
            &subscription(
                &format!("mqtt://127.0.0.1:1883/{topic}"),
                json!({"notification": {"format": "keyValues", "attributes": ["waterLevel"],
                    "endpoint": {"uri": format!("mqtt://127.0.0.1:1883/{topic}"),
                        "accept": "application/json",
                        "receiverInfo": [{"key": "X-Dothi-Token", "value": "song-huong"}]}}}),
            ),
        )
        .await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let payload = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an MQTT notification within 10 s")
            .unwrap()
            .unwrap();
        listener.abort();
        let mut message: Value = serde_json::from_slice(&payload).unwrap();
        let body = without_id_and_time(message["body"].take());
        assert_eq!(
            message,
            json!({"metadata": {"Content-Type": "application/json", "Link": CORE_LINK,
                                "X-Dothi-Token": "song-huong"},
                   "body": null}),
            "{backend:?}"
        );
        assert_eq!(
            body,
            json!({"type": "Notification", "subscriptionId": SUB,
                   "data": [{"id": KIM_LONG, "type": "RiverGauge", "waterLevel": 3.2}]})
        );
        settle(&app).await;
        let sub = app.get(&format!("/ngsi-ld/v1/subscriptions/{SUB}")).await;
        assert_eq!(
            (
                &sub.body["notification"]["timesSent"],
                &sub.body["notification"]["status"]
            ),
            (&json!(1), &json!("ok"))
        );
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_the_endpoint_recovers_and_counted() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        receiver.fail(true);
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        create_subscription(&app, &subscription(&receiver.url(), json!({}))).await;
        set_level(&app, 3.3).await;

        let path = format!("/ngsi-ld/v1/subscriptions/{SUB}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let failed = loop {
            let sub = app.get(&path).await;
            if sub.body["notification"]["timesFailed"].as_i64() >= Some(2) {
                break sub.body;
            }
            assert!(Instant::now() < deadline, "{:?}", sub.body);
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let n = &failed["notification"];
        assert_eq!(n["status"], "failed", "{backend:?}");
        assert_eq!(n["timesSent"], n["timesFailed"]);
        assert_eq!(n["lastFailure"], n["lastNotification"]);
        assert_eq!(n.get("lastSuccess"), None);

        receiver.fail(false);
        let got = receiver.wait_for(1, 15).await;
        assert_eq!(levels(&[got[0].1.clone()]), vec![json!(3.3)]);
        settle(&app).await;
        let sub = app.get(&path).await;
        let n = &sub.body["notification"];
        let failures = n["timesFailed"].as_i64().unwrap();
        assert_eq!(n["status"], "ok", "{backend:?}");
        assert_eq!(n["timesSent"].as_i64(), Some(failures + 1));
        assert_eq!(n["lastSuccess"], n["lastNotification"]);
        assert!(n["lastFailure"].as_str() < n["lastSuccess"].as_str());
    }
}

#[tokio::test]
async fn restart_delivers_pending_notifications_and_changes_made_while_stopped() {
    for backend in BACKENDS {
        let mut app = App::new(backend).await;
        let receiver = Receiver::start().await;
        receiver.fail(true);
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let workers = Workers::start(&app);
        create_subscription(&app, &subscription(&receiver.url(), json!({}))).await;
        set_level(&app, 3.3).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while app
            .broker
            .store
            .ngsild_subscription_get(SubscriptionKind::Entity, SUB)
            .await
            .unwrap()
            .unwrap()
            .times_sent
            == 0
        {
            assert!(Instant::now() < deadline, "no attempt");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        workers.stop();
        // While nothing runs: a change, then a "restart" on the same database.
        set_level(&app, 3.4).await;
        app.restart().await;
        receiver.fail(false);
        let _workers = Workers::start(&app);
        let got = receiver.wait_for(2, 15).await;
        settle(&app).await;
        assert_eq!(
            levels(&got.into_iter().map(|(_, b)| b).collect::<Vec<_>>()),
            vec![json!(3.3), json!(3.4)],
            "{backend:?}"
        );
        assert_eq!(receiver.bodies().len(), 2);
    }
}

#[tokio::test]
async fn subscription_reads_back_whole_and_is_updated_listed_and_deleted() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let body = subscription(
            "http://127.0.0.1:9/notify",
            json!({"subscriptionName": "Báo động 2 Kim Long", "watchedAttributes": ["waterLevel"],
                   "q": "waterLevel>=3.5", "throttling": 10,
                   "expiresAt": "2040-01-01T00:00:00Z"}),
        );
        create_subscription(&app, &body).await;
        let path = format!("/ngsi-ld/v1/subscriptions/{SUB}");
        let expected = json!({
            "id": SUB,
            "type": "Subscription",
            "subscriptionName": "Báo động 2 Kim Long",
            "entities": [{"type": "RiverGauge"}],
            "watchedAttributes": ["waterLevel"],
            "notificationTrigger": ["attributeCreated", "attributeUpdated"],
            "q": "waterLevel>=3.5",
            "status": "active",
            "notification": {
                "format": "normalized",
                "endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"}
            },
            "expiresAt": "2040-01-01T00:00:00.000Z",
            "throttling": 10
        });
        let read = app.get(&path).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.header("link"), Some(CORE_LINK));
        assert_eq!(read.body, expected, "{backend:?}");

        let again = app.json("POST", "/ngsi-ld/v1/subscriptions", &body).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.body,
            problem(
                "AlreadyExists",
                "Already exists",
                409,
                &format!("a subscription with the id {SUB} already exists")
            )
        );

        // notification is replaced as a whole: without an endpoint it is refused.
        let partial = app
            .json(
                "PATCH",
                &path,
                &json!({"notification": {"format": "keyValues"}}),
            )
            .await;
        assert_eq!(
            partial.body,
            problem(
                "BadRequestData",
                "Bad request data",
                400,
                "notification needs an endpoint"
            )
        );
        let patched = app
            .json(
                "PATCH",
                &path,
                &json!({"throttling": null, "q": "waterLevel>=4",
                        "notification": {"format": "keyValues", "endpoint":
                            {"uri": "http://127.0.0.1:9/notify"}}}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::NO_CONTENT, "{:?}", patched.body);
        let mut expected_patched = expected.clone();
        expected_patched
            .as_object_mut()
            .unwrap()
            .remove("throttling");
        expected_patched["q"] = json!("waterLevel>=4");
        expected_patched["notification"]["format"] = json!("keyValues");
        assert_eq!(app.get(&path).await.body, expected_patched, "{backend:?}");

        let mut second = body.clone();
        second["id"] = json!("urn:ngsi-ld:Subscription:second");
        create_subscription(&app, &second).await;
        let listed = app
            .get("/ngsi-ld/v1/subscriptions?limit=1&offset=1&count=true")
            .await;
        assert_eq!(listed.header("ngsild-results-count"), Some("2"));
        let prev = "</ngsi-ld/v1/subscriptions?limit=1&offset=0>;rel=\"prev\";\
                    type=\"application/json\"";
        assert_eq!(
            listed.header("link"),
            Some(format!("{CORE_LINK}, {prev}").as_str())
        );
        let first = app.get("/ngsi-ld/v1/subscriptions?limit=1").await;
        let next = "</ngsi-ld/v1/subscriptions?limit=1&offset=1>;rel=\"next\";\
                    type=\"application/json\"";
        assert_eq!(
            first.header("link"),
            Some(format!("{CORE_LINK}, {next}").as_str())
        );
        assert_eq!(first.header("ngsild-results-count"), None);
        let ids: Vec<&Value> = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["id"])
            .collect();
        assert_eq!(ids, vec![&json!("urn:ngsi-ld:Subscription:second")]);

        let deleted = app.send("DELETE", &path, &[], None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let gone = app.get(&path).await;
        assert_eq!(
            gone.body,
            problem(
                "ResourceNotFound",
                "Resource not found",
                404,
                &format!("no subscription has the id {SUB}")
            )
        );
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn invalid_subscriptions_are_refused_with_problem_details() {
    let app = App::new(BACKENDS[0]).await;
    let cases = [
        (
            json!({"type": "Subscription", "entities": [{"type": "RiverGauge"}]}),
            "a subscription needs a notification member",
        ),
        (
            subscription("http://127.0.0.1:9/notify", json!({"throttling": -5})),
            "throttling must be a positive number of seconds, not -5",
        ),
        (
            subscription("http://127.0.0.1:9/notify", json!({"q": "waterLevel>>3"})),
            "q: invalid q at position 11: invalid value '>3': expected a number, quoted string, \
             date/time, true/false or URI",
        ),
        (
            subscription("gopher://x/", json!({})),
            "notification.endpoint.uri must be http, https or mqtt, not gopher",
        ),
        (
            subscription(
                "http://127.0.0.1:9/notify",
                json!({"timeInterval": 10, "watchedAttributes": ["waterLevel"]}),
            ),
            "timeInterval and watchedAttributes may not be used together (§5.2.12)",
        ),
    ];
    for (body, detail) in cases {
        let answer = app.json("POST", "/ngsi-ld/v1/subscriptions", &body).await;
        assert_eq!(
            (answer.status, answer.body),
            (
                StatusCode::BAD_REQUEST,
                problem("BadRequestData", "Bad request data", 400, detail)
            )
        );
    }
    let unknown = app
        .json(
            "PATCH",
            "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:none",
            &json!({"isActive": false}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_uri = app.get("/ngsi-ld/v1/subscriptions/flood").await;
    assert_eq!(
        not_uri.body,
        problem(
            "BadRequestData",
            "Bad request data",
            400,
            "the subscription id 'flood' is not a URI"
        )
    );
}

#[tokio::test]
async fn show_changes_and_deletions_are_notified_with_previous_values() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let receiver = Receiver::start().await;
        app.json("POST", "/ngsi-ld/v1/entities", &gauge(3.2)).await;
        let _workers = Workers::start(&app);
        let mut body = subscription(
            &receiver.url(),
            json!({"notificationTrigger": ["attributeUpdated", "attributeDeleted", "entityDeleted"]}),
        );
        body["notification"]["showChanges"] = json!(true);
        create_subscription(&app, &body).await;
        let entity_path = format!("/ngsi-ld/v1/entities/{KIM_LONG}");

        set_level(&app, 3.3).await;
        let mut updated = app.get(&entity_path).await.body;
        updated["waterLevel"]["previousValue"] = json!(3.2);
        let deleted = app
            .send(
                "DELETE",
                &format!("{entity_path}/attrs/alarmLevel"),
                &[],
                None,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let mut attr_deleted = app.get(&entity_path).await.body;
        attr_deleted["alarmLevel"] =
            json!({"type": "Property", "value": "urn:ngsi-ld:null", "previousValue": 2});
        let gone = app.send("DELETE", &entity_path, &[], None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);

        let got = receiver.wait_for(3, 10).await;
        let bodies: Vec<Value> = got
            .into_iter()
            .map(|(_, b)| without_id_and_time(b))
            .collect();
        let notification = |entity: Value| json!({"type": "Notification", "subscriptionId": SUB, "data": [entity]});
        assert_eq!(bodies[0], notification(updated), "{backend:?}");
        assert_eq!(bodies[1], notification(attr_deleted), "{backend:?}");
        let mut last = bodies[2].clone();
        let entity = last["data"][0].as_object_mut().unwrap();
        let deleted_at = entity.remove("deletedAt").unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(deleted_at.as_str().unwrap()).is_ok(),
            "{deleted_at}"
        );
        assert_eq!(
            last,
            notification(json!({
                "id": KIM_LONG,
                "type": "RiverGauge",
                "waterLevel": {"type": "Property", "value": "urn:ngsi-ld:null",
                               "previousValue": 3.3},
                "location": {"type": "GeoProperty", "value": "urn:ngsi-ld:null",
                             "previousValue": {"type": "Point",
                                               "coordinates": [107.5419, 16.4659]}}
            })),
            "{backend:?}"
        );
        settle(&app).await;
        assert_eq!(receiver.bodies().len(), 3, "{backend:?}");
    }
}

#[tokio::test]
async fn notification_members_are_validated_and_a_version_preference_applies_unaltered() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let refused = |extra: Value, detail: &str| {
            let mut body = subscription("http://127.0.0.1:9/notify", json!({}));
            for (k, v) in extra.as_object().unwrap() {
                body["notification"][k] = v.clone();
            }
            (
                body,
                problem("BadRequestData", "Bad request data", 400, detail),
            )
        };
        for (body, expected) in [
            refused(
                json!({"format": "keyValues", "showChanges": true}),
                "notification.showChanges cannot be true with the keyValues format (§5.2.14)",
            ),
            refused(
                json!({"pick": ["id"], "omit": ["id"]}),
                "'id' cannot be both in notification.pick and notification.omit (§4.21)",
            ),
            refused(
                json!({"pick": ["waterLevel"], "attributes": ["waterLevel"]}),
                "notification.attributes cannot be used together with pick or omit (§4.21)",
            ),
            refused(
                json!({"omit": []}),
                "notification.omit may not be an empty array",
            ),
        ] {
            let answer = app.json("POST", "/ngsi-ld/v1/subscriptions", &body).await;
            assert_eq!(answer.body, expected, "{backend:?}");
        }

        create_subscription(&app, &subscription("http://127.0.0.1:9/notify", json!({}))).await;
        let path = format!("/ngsi-ld/v1/subscriptions/{SUB}");
        for prefer in ["NGSI-LD=1.0", "respond-async, ngsi-ld=\"1.0\";q=0.1"] {
            let read = app.get_with(&path, &[("Prefer", prefer)]).await;
            assert_eq!(read.status, StatusCode::OK);
            assert_eq!(
                read.header("preference-applied"),
                Some("ngsi-ld=1.0"),
                "{prefer}"
            );
            assert_eq!(
                read.body,
                json!({"id": SUB, "type": "Subscription", "entities": [{"type": "RiverGauge"}],
                       "notificationTrigger": ["attributeCreated", "attributeUpdated"],
                       "status": "active",
                       "notification": {"format": "normalized", "endpoint":
                           {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"}}}),
                "{backend:?}"
            );
        }
        let plain = app.get_with(&path, &[("Prefer", "respond-async")]).await;
        assert_eq!(plain.header("preference-applied"), None);
    }
}
