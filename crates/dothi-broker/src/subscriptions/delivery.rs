//! The delivery worker: sends the notifications waiting in the storage outbox over HTTP (POST,
//! §6.11 binding) or MQTT (publish, QoS 1 by default), records the outcome on the subscription
//! (timesSent, timesFailed, lastSuccess, lastFailure), and retries failures with exponential
//! backoff (1 s, 2 s, 4 s … capped at 10 minutes) for as long as the subscription exists.
//!
//! A subscription's notifications are sent in order; after a failure the rest of its batch
//! waits for the same retry time, so a dead endpoint costs one attempt per backoff step.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dothi_store::ngsild::Delivery;
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use super::{link_url, state_of, Subscription};
use crate::registrations::CsourceSubscription;
use crate::{now_ms, Broker};

/// Deliveries claimed per round.
const BATCH: u32 = 200;
/// How long a claimed delivery stays invisible to other workers (another process).
const LEASE_MS: i64 = 120_000;
/// Per notification, HTTP or MQTT.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF_MS: i64 = 600_000;
const LINK_REL: &str = "http://www.w3.org/ns/json-ld#context";

/// Starts the delivery worker; it runs until aborted.
pub fn spawn_delivery_worker(broker: Broker) -> JoinHandle<()> {
    tokio::spawn(async move {
        let sender = Arc::new(Sender {
            // Header names as written (Link, receiverInfo keys): some receivers match them
            // case-sensitively.
            http: reqwest::Client::builder()
                .http1_title_case_headers()
                .timeout(SEND_TIMEOUT)
                .build()
                .unwrap_or_default(),
            mqtt: Mutex::new(HashMap::new()),
        });
        loop {
            let idle = match round(&broker, &sender).await {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "the notification worker failed a round; retrying");
                    true
                }
            };
            if idle {
                let _ = tokio::time::timeout(IDLE_POLL, broker.outbox.notified()).await;
            }
        }
    })
}

/// The retry delay after `attempts` failed attempts: 1 s, 2 s, 4 s … at most 10 minutes.
pub(crate) fn backoff_ms(attempts: i64) -> i64 {
    let exponent = attempts.clamp(1, 30) - 1;
    (1000_i64 << exponent).min(MAX_BACKOFF_MS)
}

async fn round(broker: &Broker, sender: &Arc<Sender>) -> crate::Result<usize> {
    let due = broker
        .store
        .ngsild_deliveries_due(now_ms(), BATCH, LEASE_MS)
        .await?;
    let n = due.len();
    let mut groups: Vec<(String, Vec<Delivery>)> = Vec::new();
    for d in due {
        match groups.iter_mut().find(|(id, _)| *id == d.subscription_id) {
            Some((_, list)) => list.push(d),
            None => groups.push((d.subscription_id.clone(), vec![d])),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (id, deliveries) in groups {
        let broker = broker.clone();
        let sender = sender.clone();
        tasks.spawn(async move {
            let claimed: Vec<(i64, i64)> = deliveries.iter().map(|d| (d.seq, d.attempts)).collect();
            let outcome = deliver_group(&broker, &sender, &id, deliveries).await;
            if let Err(e) = &outcome {
                tracing::warn!(subscription = %id, error = %e,
                    "notifications could not be settled; they are retried shortly");
                release(&broker, &claimed).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(n)
}

/// Gives claimed deliveries back after a failure of our own (storage, an unreadable
/// subscription), due again after the first backoff step, so that a passing storage error
/// delays a notification by a second rather than by the whole claim lease. Their attempt
/// counts stay: the receiver was not at fault. When even this fails, the lease runs out.
async fn release(broker: &Broker, claimed: &[(i64, i64)]) {
    let at = now_ms() + backoff_ms(1);
    for &(seq, attempts) in claimed {
        if let Err(e) = broker
            .store
            .ngsild_delivery_reschedule(seq, at, attempts)
            .await
        {
            tracing::warn!(seq, error = %e, "a claimed notification waits for its lease to end");
            return;
        }
    }
}

/// The subscription of kind `kind` and id `id` as its notifications are sent (a context source
/// registration subscription by the members it shares with entity ones); None when it is gone.
async fn outbox_subscription(
    broker: &Broker,
    kind: SubscriptionKind,
    id: &str,
) -> crate::Result<Option<Subscription>> {
    let Some(record) = broker.store.ngsild_subscription_get(kind, id).await? else {
        return Ok(None);
    };
    Ok(Some(match kind {
        SubscriptionKind::Entity => state_of::<Subscription>(record)?.subscription,
        SubscriptionKind::Csource => state_of::<CsourceSubscription>(record)?.subscription.base,
    }))
}

async fn deliver_group(
    broker: &Broker,
    sender: &Sender,
    id: &str,
    deliveries: Vec<Delivery>,
) -> crate::Result<()> {
    let store = &broker.store;
    // An entity subscription, or a context source registration one (`csource <id>`).
    let (kind, sub_id) = SubscriptionKind::of_outbox_key(id);
    let Some(sub) = outbox_subscription(broker, kind, sub_id).await? else {
        // Deleted meanwhile: its outbox went with it; drop stragglers.
        for d in &deliveries {
            store.ngsild_delivery_done(d.seq).await?;
        }
        return Ok(());
    };
    // An older notification waiting for its retry goes first (state notifications out of
    // order would leave the receiver with a stale state).
    if let (Some(first), Some(ours)) = (store.ngsild_delivery_first(id).await?, deliveries.first())
    {
        if first.seq < ours.seq {
            let at = first.next_attempt_at.max(now_ms() + 1);
            for d in &deliveries {
                store
                    .ngsild_delivery_reschedule(d.seq, at, d.attempts)
                    .await?;
            }
            return Ok(());
        }
    }
    let (_, reference) = broker.notification_context(&sub).await;
    for (i, d) in deliveries.iter().enumerate() {
        let outcome = sender.send(&sub, &reference, &d.payload).await;
        let at = now_ms();
        match outcome {
            Ok(()) => {
                // Bookkeeping first: once the outbox is empty, the counts are final.
                store
                    .ngsild_subscription_record_delivery(kind, sub_id, true, at)
                    .await?;
                store.ngsild_delivery_done(d.seq).await?;
            }
            Err(why) => {
                let attempts = d.attempts + 1;
                let next = at + backoff_ms(attempts);
                store
                    .ngsild_delivery_reschedule(d.seq, next, attempts)
                    .await?;
                store
                    .ngsild_subscription_record_delivery(kind, sub_id, false, at)
                    .await?;
                tracing::warn!(subscription = %id, endpoint = %sub.notification.endpoint.uri,
                    attempts, retry_in_ms = next - at, error = %why, "a notification failed");
                for rest in &deliveries[i + 1..] {
                    store
                        .ngsild_delivery_reschedule(rest.seq, next, rest.attempts)
                        .await?;
                }
                break;
            }
        }
    }
    Ok(())
}

struct Sender {
    http: reqwest::Client,
    /// One MQTT connection per broker and credentials.
    mqtt: Mutex<HashMap<String, Arc<MqttConnection>>>,
}

impl Sender {
    async fn send(
        &self,
        sub: &Subscription,
        reference: &Value,
        payload: &str,
    ) -> Result<(), String> {
        let notification: Value =
            serde_json::from_str(payload).map_err(|e| format!("unreadable payload: {e}"))?;
        let endpoint = &sub.notification.endpoint;
        let ld = endpoint.accept == "application/ld+json";
        let body = match notification {
            Value::Object(mut o) if ld => {
                // Each entity of `data` is a JSON-LD document of its own as well.
                if let Some(Value::Array(data)) = o.get_mut("data") {
                    for entity in data.iter_mut().filter_map(Value::as_object_mut) {
                        entity.insert("@context".into(), reference.clone());
                    }
                }
                o.insert("@context".into(), reference.clone());
                Value::Object(o)
            }
            other => other,
        };
        let link = format!(
            "<{}>; rel=\"{LINK_REL}\"; type=\"application/ld+json\"",
            link_url(reference)
        );
        let url = reqwest::Url::parse(&endpoint.uri).map_err(|e| e.to_string())?;
        if url.scheme() == "mqtt" {
            let mut metadata = Map::new();
            metadata.insert("Content-Type".into(), json!(endpoint.accept));
            if !ld {
                metadata.insert("Link".into(), json!(link));
            }
            for kv in &endpoint.receiver_info {
                metadata.insert(kv.key.clone(), json!(kv.value));
            }
            let message = json!({"metadata": metadata, "body": body});
            let qos = match endpoint
                .notifier_info
                .iter()
                .find(|kv| kv.key == "MQTT-QoS")
                .map(|kv| kv.value.as_str())
            {
                Some("0") => QoS::AtMostOnce,
                Some("2") => QoS::ExactlyOnce,
                _ => QoS::AtLeastOnce,
            };
            return self.publish(&url, qos, message.to_string()).await;
        }
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, endpoint.accept.as_str())
            .body(body.to_string());
        if !ld {
            request = request.header(reqwest::header::LINK, link);
        }
        for kv in &endpoint.receiver_info {
            request = request.header(kv.key.as_str(), kv.value.as_str());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered HTTP {}", response.status()))
        }
    }

    async fn publish(&self, url: &reqwest::Url, qos: QoS, message: String) -> Result<(), String> {
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port().unwrap_or(1883);
        let topic = url.path().trim_start_matches('/').to_string();
        let user = (!url.username().is_empty()).then(|| {
            (
                url.username().to_string(),
                url.password().unwrap_or_default().to_string(),
            )
        });
        let key = format!("{}@{host}:{port}", url.username());
        let connection = {
            let mut pool = self.mqtt.lock().await;
            pool.entry(key.clone())
                .or_insert_with(|| Arc::new(MqttConnection::open(&host, port, user)))
                .clone()
        };
        let outcome = connection.publish(&topic, qos, message).await;
        if outcome.is_err() {
            // A broken connection is rebuilt on the next attempt.
            let mut pool = self.mqtt.lock().await;
            if pool.get(&key).is_some_and(|c| Arc::ptr_eq(c, &connection)) {
                pool.remove(&key);
            }
        }
        outcome
    }
}

/// What the event loop of an MQTT connection reports to the publisher.
enum MqttEvent {
    /// A PUBLISH left (enough for QoS 0).
    Sent,
    /// A PUBACK or PUBCOMP arrived (QoS 1 and 2).
    Acknowledged,
    Failed(String),
}

/// One MQTT client connection; publishes are serialised, so each waits for its own
/// acknowledgement.
struct MqttConnection {
    client: AsyncClient,
    events: Mutex<mpsc::UnboundedReceiver<MqttEvent>>,
    event_loop: JoinHandle<()>,
}

impl MqttConnection {
    fn open(host: &str, port: u16, user: Option<(String, String)>) -> Self {
        let client_id = format!("dothi-notify-{:016x}", rand::random::<u64>());
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_keep_alive(Duration::from_secs(30));
        if let Some((name, password)) = user {
            options.set_credentials(name, password);
        }
        let (client, mut event_loop) = AsyncClient::new(options, 16);
        let (tx, rx) = mpsc::unbounded_channel();
        let event_loop = tokio::spawn(async move {
            loop {
                let event = match event_loop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => MqttEvent::Sent,
                    Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                        MqttEvent::Acknowledged
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = tx.send(MqttEvent::Failed(e.to_string()));
                        return;
                    }
                };
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        MqttConnection {
            client,
            events: Mutex::new(rx),
            event_loop,
        }
    }

    async fn publish(&self, topic: &str, qos: QoS, message: String) -> Result<(), String> {
        let mut events = self.events.lock().await;
        // Reports of an earlier, abandoned publish must not count for this one.
        while let Ok(event) = events.try_recv() {
            if let MqttEvent::Failed(why) = event {
                return Err(why);
            }
        }
        self.client
            .publish(topic, qos, false, message)
            .await
            .map_err(|e| e.to_string())?;
        let wait = async {
            loop {
                match events.recv().await {
                    Some(MqttEvent::Sent) if qos == QoS::AtMostOnce => return Ok(()),
                    Some(MqttEvent::Acknowledged) if qos != QoS::AtMostOnce => return Ok(()),
                    Some(MqttEvent::Failed(why)) => return Err(why),
                    Some(_) => continue,
                    None => return Err("the MQTT connection closed".to_string()),
                }
            }
        };
        tokio::time::timeout(SEND_TIMEOUT, wait)
            .await
            .map_err(|_| "the MQTT broker did not acknowledge within 10 s".to_string())?
    }
}

impl Drop for MqttConnection {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_from_one_second_up_to_ten_minutes() {
        let delays: Vec<i64> = [1, 2, 3, 4, 10, 11, 100].map(backoff_ms).to_vec();
        assert_eq!(
            delays,
            vec![1000, 2000, 4000, 8000, 512_000, 600_000, 600_000]
        );
    }
}
