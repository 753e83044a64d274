//! MQTT ingestion against the real Mosquitto at 127.0.0.1:1883, on both storage backends. Each
//! test uses its own topic prefix and client ids, so tests run in parallel without seeing each
//! other's messages.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dothi_broker::mqtt::{self, IngestConfig, Ingestion};
use dothi_broker::{Broker, BrokerConfig};
use dothi_domain::Actor;
use dothi_ngsild::document::parse_time;
use dothi_ngsild::entity::{AttributeKind, Entity};
use dothi_store::iot::{Connection, DeviceSpec, IotCounts, MeasureMapping, MeasureType};
use dothi_store::ngsild::HistoryFilter;
use dothi_store::testing::{TestDb, BACKENDS};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;

const MQTT: &str = "mqtt://127.0.0.1:1883";
const VOCAB: &str = "https://uri.etsi.org/ngsi-ld/default-context/";
const LOCATION: &str = "https://uri.etsi.org/ngsi-ld/location";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    format!(
        "{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    )
}

struct Rig {
    broker: Broker,
    prefix: String,
    publisher: AsyncClient,
    _ingestion: Ingestion,
    _driver: tokio::task::JoinHandle<()>,
    _db: TestDb,
}

const KEY: &str = "khoa-bi-mat-cua-tram-0001";

fn gauge_spec(entity_id: &str) -> DeviceSpec {
    DeviceSpec {
        entity_id: entity_id.into(),
        entity_type: "FloodMonitoring".into(),
        context: None,
        description: Some("Trạm thủy văn Kim Long".into()),
        attributes: vec![
            MeasureMapping {
                measure: "waterLevel".into(),
                name: Some("currentLevel".into()),
                unit_code: Some("MTR".into()),
                kind: Some(MeasureType::Number),
            },
            MeasureMapping {
                measure: "alarm".into(),
                name: Some("alarmLevel".into()),
                unit_code: None,
                kind: Some(MeasureType::Integer),
            },
        ],
        static_attributes: serde_json::from_value(json!({
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5578, 16.4573]}},
            "alarmLevel2": {"type": "Property", "value": 2.0, "unitCode": "MTR"}
        }))
        .unwrap(),
    }
}

impl Rig {
    async fn new(backend: dothi_store::Backend) -> Rig {
        let db = TestDb::new(backend).await;
        let broker = Broker::new(db.store().await, BrokerConfig::default());
        let id = unique();
        let prefix = format!("dothi-test/{id}");
        let mut config = IngestConfig::new(MQTT);
        config.topic_prefix = prefix.clone();
        config.client_id = format!("dothi-test-ingest-{id}");
        config.clean_session = true;
        let ingestion = mqtt::spawn(broker.clone(), config).expect("valid configuration");
        let started = Instant::now();
        while broker.store.iot_stats().snapshot().connection != Connection::Connected {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no MQTT subscription: is Mosquitto running at {MQTT}?"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut options = MqttOptions::new(format!("dothi-test-pub-{id}"), "127.0.0.1", 1883);
        options.set_inflight(1000);
        let (publisher, mut eventloop) = AsyncClient::new(options, 1000);
        let driver = tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Rig {
            broker,
            prefix,
            publisher,
            _ingestion: ingestion,
            _driver: driver,
            _db: db,
        }
    }

    async fn device(&self, id: &str, entity_id: &str) {
        self.broker
            .store
            .iot_create_device(&Actor::system(), id, &gauge_spec(entity_id), Some(KEY))
            .await
            .expect("create device");
    }

    async fn publish(&self, topic_tail: &str, payload: impl Into<Vec<u8>>) {
        self.publisher
            .publish(
                format!("{}/{topic_tail}", self.prefix),
                QoS::AtLeastOnce,
                false,
                payload.into(),
            )
            .await
            .expect("publish");
    }

    /// Waits until `check` holds of the entity (which may not exist yet).
    async fn wait_entity(&self, id: &str, check: impl Fn(&Entity) -> bool) -> Entity {
        let started = Instant::now();
        loop {
            if let Ok(entity) = self.broker.entity(id).await {
                if check(&entity) {
                    return entity;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "entity {id} never reached the expected state: {:?}",
                self.broker.entity(id).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_counts(&self, device: &str, expected: IotCounts) {
        let started = Instant::now();
        while self.broker.store.iot_stats().device(device).counts != expected {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "device {device} counted {:?}, expected {expected:?}",
                self.broker.store.iot_stats().device(device)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn history(&self, entity_id: &str, attr: &str) -> Vec<f64> {
        self.broker
            .store
            .ngsild_history(&HistoryFilter {
                entity_ids: vec![entity_id.into()],
                attrs: vec![attr.into()],
                ..Default::default()
            })
            .await
            .expect("history")
            .into_iter()
            .filter_map(|r| r.num)
            .collect()
    }
}

fn current_level(entity: &Entity) -> Option<f64> {
    entity.attributes.get(&format!("{VOCAB}currentLevel"))?[0]
        .value
        .as_f64()
}

fn counts(accepted: u64, rejected: u64, malformed: u64) -> IotCounts {
    IotCounts {
        accepted,
        rejected,
        malformed,
        failed: 0,
    }
}

#[tokio::test]
async fn every_topic_of_the_scheme_updates_the_entity_with_observed_at() {
    for backend in BACKENDS {
        let rig = Rig::new(backend).await;
        let entity_id = format!("urn:ngsi-ld:FloodMonitoring:KimLong-{}", unique());
        rig.device("kim-long", &entity_id).await;

        // attrs: a JSON object of measures, the observation time given by the device.
        rig.publish(
            &format!("{KEY}/kim-long/attrs"),
            json!({"waterLevel": "3.42", "alarm": 2, "observedAt": "2025-11-25T08:00:00+07:00"})
                .to_string(),
        )
        .await;
        let entity = rig
            .wait_entity(&entity_id, |e| current_level(e) == Some(3.42))
            .await;
        assert_eq!(entity.types, vec![format!("{VOCAB}FloodMonitoring")]);
        let level = &entity.attributes[&format!("{VOCAB}currentLevel")][0];
        assert_eq!(
            (
                level.kind,
                level.value.clone(),
                level.unit_code.as_deref(),
                level.observed_at.as_deref()
            ),
            (
                AttributeKind::Property,
                json!(3.42),
                Some("MTR"),
                Some("2025-11-25T08:00:00+07:00")
            )
        );
        let alarm = &entity.attributes[&format!("{VOCAB}alarmLevel")][0];
        assert_eq!(alarm.value, json!(2));
        // The static attributes come with the entity.
        assert_eq!(
            entity.attributes[LOCATION][0].kind,
            AttributeKind::GeoProperty
        );
        assert_eq!(
            entity.attributes[&format!("{VOCAB}alarmLevel2")][0].value,
            json!(2.0)
        );

        // attrs/{measure}: a bare value, observed when received.
        let before = chrono::Utc::now().timestamp_millis();
        rig.publish(&format!("{KEY}/kim-long/attrs/waterLevel"), "3.5")
            .await;
        let entity = rig
            .wait_entity(&entity_id, |e| current_level(e) == Some(3.5))
            .await;
        let observed = entity.attributes[&format!("{VOCAB}currentLevel")][0]
            .observed_at
            .clone()
            .and_then(|t| parse_time(&t))
            .expect("observedAt set");
        let after = chrono::Utc::now().timestamp_millis();
        assert!(
            (before - 1000..=after).contains(&observed),
            "{before} <= {observed} <= {after}"
        );

        // ngsi-ld: an NGSI-LD fragment (normalized and concise members), observed when
        // received unless it says otherwise.
        rig.publish(
            &format!("{KEY}/kim-long/ngsi-ld"),
            json!({
                "currentLevel": {"type": "Property", "value": 3.61, "unitCode": "MTR"},
                "note": "Nước lên nhanh"
            })
            .to_string(),
        )
        .await;
        let entity = rig
            .wait_entity(&entity_id, |e| current_level(e) == Some(3.61))
            .await;
        let note = &entity.attributes[&format!("{VOCAB}note")][0];
        assert_eq!(note.value, json!("Nước lên nhanh"));
        let noted = note
            .observed_at
            .as_deref()
            .and_then(parse_time)
            .expect("observedAt");
        assert!(noted >= observed, "{noted} >= {observed}");
        // The history is in observation order.
        rig.wait_counts("kim-long", counts(3, 0, 0)).await;
        assert_eq!(
            rig.history(&entity_id, &format!("{VOCAB}currentLevel"))
                .await,
            vec![3.42, 3.5, 3.61]
        );
    }
}

#[tokio::test]
async fn a_wrong_key_or_an_unknown_device_is_rejected_and_changes_nothing() {
    for backend in BACKENDS {
        let rig = Rig::new(backend).await;
        let entity_id = format!("urn:ngsi-ld:FloodMonitoring:PhuOc-{}", unique());
        rig.device("phu-oc", &entity_id).await;
        rig.publish(
            &format!("{KEY}/phu-oc/attrs"),
            json!({"waterLevel": 1.0}).to_string(),
        )
        .await;
        rig.wait_entity(&entity_id, |e| current_level(e) == Some(1.0))
            .await;

        rig.publish(
            "khoa-sai-cua-ke-gia-mao-0001/phu-oc/attrs",
            json!({"waterLevel": 9.9}).to_string(),
        )
        .await;
        rig.publish(
            &format!("{KEY}/tram-khong-co/attrs"),
            json!({"waterLevel": 9.9}).to_string(),
        )
        .await;
        rig.publish(
            &format!("{KEY}/phu-oc/attrs"),
            json!({"waterLevel": 2.0}).to_string(),
        )
        .await;
        rig.wait_entity(&entity_id, |e| current_level(e) == Some(2.0))
            .await;
        rig.wait_counts("phu-oc", counts(2, 1, 0)).await;
        let stats = rig.broker.store.iot_stats().snapshot();
        assert_eq!(stats.overall, counts(2, 2, 0));
        assert_eq!(
            stats.devices["phu-oc"]
                .last_error
                .as_ref()
                .map(|e| e.reason.as_str()),
            Some("the API key in the topic is not this device's")
        );
        // The unknown device is counted overall only, so random ids cannot grow the table.
        assert!(!stats.devices.contains_key("tram-khong-co"));
        assert_eq!(
            rig.history(&entity_id, &format!("{VOCAB}currentLevel"))
                .await,
            vec![1.0, 2.0]
        );
    }
}

#[tokio::test]
async fn malformed_payloads_are_counted_with_their_reason_and_ingestion_goes_on() {
    for backend in BACKENDS {
        let rig = Rig::new(backend).await;
        let entity_id = format!("urn:ngsi-ld:FloodMonitoring:Hue-{}", unique());
        rig.device("hue", &entity_id).await;
        let topic = format!("{KEY}/hue/attrs");
        let bad: [(&str, Vec<u8>); 7] = [
            ("not JSON", b"waterLevel=3".to_vec()),
            ("an array", b"[1, 2]".to_vec()),
            ("unknown measure", br#"{"rainfall": 12}"#.to_vec()),
            ("wrong type", br#"{"waterLevel": "cao"}"#.to_vec()),
            (
                "bad observedAt",
                r#"{"waterLevel": 1, "observedAt": "hôm qua"}"#.as_bytes().to_vec(),
            ),
            ("no measure", b"{}".to_vec()),
            ("not UTF-8", vec![0xff, 0xfe]),
        ];
        for (_, payload) in &bad {
            rig.publish(&topic, payload.clone()).await;
        }
        rig.publish(&topic, json!({"waterLevel": 0.8}).to_string())
            .await;
        rig.wait_entity(&entity_id, |e| current_level(e) == Some(0.8))
            .await;
        rig.wait_counts("hue", counts(1, 0, 7)).await;
        let stats = rig.broker.store.iot_stats().snapshot();
        let last = stats.devices["hue"].last_error.clone().expect("last error");
        assert_eq!(
            (
                last.topic,
                last.reason.starts_with("the payload is not JSON")
            ),
            (format!("{}/{topic}", rig.prefix), true),
            "{}",
            last.reason
        );
        assert_eq!(
            rig.history(&entity_id, &format!("{VOCAB}currentLevel"))
                .await,
            vec![0.8]
        );
    }
}

#[tokio::test]
async fn a_burst_from_many_devices_is_stored_whole_and_in_order() {
    for backend in BACKENDS {
        let rig = Rig::new(backend).await;
        let run = unique();
        let devices: Vec<(String, String)> = (0..5)
            .map(|i| {
                (
                    format!("gauge-{i}"),
                    format!("urn:ngsi-ld:FloodMonitoring:burst-{run}-{i}"),
                )
            })
            .collect();
        for (id, entity_id) in &devices {
            rig.device(id, entity_id).await;
        }
        for n in 0..100 {
            for (id, _) in &devices {
                rig.publish(
                    &format!("{KEY}/{id}/attrs"),
                    json!({"waterLevel": n as f64 / 100.0}).to_string(),
                )
                .await;
            }
        }
        for (id, entity_id) in &devices {
            rig.wait_counts(id, counts(100, 0, 0)).await;
            let history = rig
                .history(entity_id, &format!("{VOCAB}currentLevel"))
                .await;
            let expected: Vec<f64> = (0..100).map(|n| n as f64 / 100.0).collect();
            assert_eq!(history, expected, "{id}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_mqtt_broker_does_not_stop_ingestion_from_starting() {
    let db = TestDb::new(dothi_store::Backend::Sqlite).await;
    let broker = Broker::new(db.store().await, BrokerConfig::default());
    let mut config = IngestConfig::new("mqtt://127.0.0.1:1");
    config.client_id = format!("dothi-test-{}", unique());
    let _ingestion = mqtt::spawn(broker.clone(), config).expect("starts anyway");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = broker.store.iot_stats().snapshot();
    assert_eq!(
        (stats.connection, stats.broker.as_deref()),
        (Connection::Connecting, Some("mqtt://127.0.0.1:1"))
    );
    let Err(e) = mqtt::spawn(broker, IngestConfig::new("http://127.0.0.1:1883")) else {
        panic!("an http URL is refused");
    };
    assert!(e.contains("mqtt://"), "{e}");
}

/// Holds every write of the store back: an exclusive SQLite transaction, or an exclusive lock on
/// the entity table in PostgreSQL. Dropping the connection releases it.
async fn lock_writes(db: &TestDb) -> sqlx::AnyConnection {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect");
    match db.backend {
        dothi_store::Backend::Sqlite => c.execute("BEGIN EXCLUSIVE").await,
        dothi_store::Backend::Postgres => {
            c.execute("BEGIN; LOCK TABLE ngsild_entities IN ACCESS EXCLUSIVE MODE")
                .await
        }
    }
    .expect("lock");
    c
}

/// Durability: a message is acknowledged to the MQTT broker only after its write committed. The
/// store is locked, three readings arrive, dothi "crashes" (its ingestion is dropped before the
/// write could commit) and comes back with the same persistent session: Mosquitto delivers the
/// unacknowledged readings again and all three are stored.
#[tokio::test]
async fn readings_received_but_not_yet_written_survive_a_crash() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let broker = Broker::new(db.store().await, BrokerConfig::default());
        let id = unique();
        let mut config = IngestConfig::new(MQTT);
        config.topic_prefix = format!("dothi-test/{id}");
        config.client_id = format!("dothi-test-durable-{id}");
        config.clean_session = false;
        let connected = |broker: &Broker| {
            broker.store.iot_stats().snapshot().connection == Connection::Connected
        };
        let started = Instant::now();
        let ingestion = mqtt::spawn(broker.clone(), config.clone()).expect("valid configuration");
        while !connected(&broker) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no MQTT subscription"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let entity_id = format!("urn:ngsi-ld:FloodMonitoring:durable-{id}");
        broker
            .store
            .iot_create_device(
                &Actor::system(),
                "kim-long",
                &gauge_spec(&entity_id),
                Some(KEY),
            )
            .await
            .expect("create device");

        let lock = lock_writes(&db).await;
        let mut options = MqttOptions::new(format!("dothi-test-pub-{id}"), "127.0.0.1", 1883);
        options.set_inflight(100);
        let (publisher, mut eventloop) = AsyncClient::new(options, 100);
        let driver = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        for level in [3.1, 3.2, 3.3] {
            publisher
                .publish(
                    format!("{}/{KEY}/kim-long/attrs", config.topic_prefix),
                    QoS::AtLeastOnce,
                    false,
                    json!({ "waterLevel": level }).to_string(),
                )
                .await
                .expect("publish");
        }
        // dothi has them (they are in its queue or its blocked transaction) but cannot write.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(ingestion);
        drop(lock);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            broker.entity(&entity_id).await.is_err(),
            "nothing was written before the crash"
        );

        let restarted = Broker::new(db.store().await, BrokerConfig::default());
        let _ingestion = mqtt::spawn(restarted.clone(), config.clone()).expect("restarts");
        let started = Instant::now();
        let attr = format!("{VOCAB}currentLevel");
        loop {
            let history: Vec<f64> = restarted
                .store
                .ngsild_history(&HistoryFilter {
                    entity_ids: vec![entity_id.clone()],
                    attrs: vec![attr.clone()],
                    ..Default::default()
                })
                .await
                .expect("history")
                .into_iter()
                .filter_map(|r| r.num)
                .collect();
            if history == vec![3.1, 3.2, 3.3] {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{backend:?}: after the restart the history is {history:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver.abort();
        // Leave no persistent session behind at Mosquitto.
        drop(_ingestion);
        let mut clean = config.clone();
        clean.clean_session = true;
        let cleaner = mqtt::spawn(restarted.clone(), clean).expect("clean session");
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(cleaner);
    }
}
