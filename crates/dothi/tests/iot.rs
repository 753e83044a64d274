//! `dothi simulate` and MQTT ingestion end to end, with the real binary and the Mosquitto at
//! 127.0.0.1:1883. Each test uses its own topic prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_dothi");

/// The demo devices and the measures each publishes (docs/IOT.md).
const DEVICES: [(&str, &[&str]); 9] = [
    ("aq-le-loi", &["pm25", "pm10", "no2", "o3", "aqi", "level"]),
    ("aq-phu-bai", &["pm25", "pm10", "no2", "o3", "aqi", "level"]),
    ("wq-huong", &["pH", "do", "turbidity", "temperature", "wqi"]),
    (
        "weather-hue",
        &[
            "precipitation",
            "temperature",
            "relativeHumidity",
            "windSpeed",
        ],
    ),
    (
        "light-le-loi-01",
        &["powerState", "illuminanceLevel", "status"],
    ),
    (
        "light-le-loi-02",
        &["powerState", "illuminanceLevel", "status"],
    ),
    ("lora-node-kim-long", &["batteryLevel", "rssi"]),
    ("gauge-kim-long", &["waterLevel", "alarm"]),
    ("gauge-phu-oc", &["waterLevel", "alarm"]),
];

fn prefix() -> String {
    format!(
        "dothi-test/{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )
}

fn simulate(prefix: &str, extra: &[&str]) {
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--mqtt-url",
            "mqtt://127.0.0.1:1883",
            "--topic-prefix",
            prefix,
            "--quiet",
        ])
        .args(extra)
        .output()
        .expect("run dothi simulate");
    assert!(
        out.status.success(),
        "dothi simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Subscribes to everything under `prefix` and collects messages until `quiet` passes without
/// one (after the first).
struct Collector {
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    _task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn new(prefix: &str) -> Collector {
        let id = format!("dothi-test-collect-{}", prefix.replace('/', "-"));
        let (client, mut eventloop) =
            AsyncClient::new(MqttOptions::new(id, "127.0.0.1", 1883), 100);
        client
            .subscribe(format!("{prefix}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _client = client;
            let mut subscribed = Some(subscribed_tx);
            while let Ok(event) = eventloop.poll().await {
                match event {
                    Event::Incoming(Packet::SubAck(_)) => {
                        if let Some(s) = subscribed.take() {
                            let _ = s.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let _ = tx.send((p.topic, p.payload.to_vec()));
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
            .await
            .expect("subscribed to Mosquitto at 127.0.0.1:1883")
            .unwrap();
        Collector { rx, _task: task }
    }

    async fn take(&mut self, n: usize) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while out.len() < n {
            let (topic, payload) = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", out.len()))
                .expect("collector running");
            let value: Value = serde_json::from_slice(&payload)
                .unwrap_or_else(|e| panic!("{topic}: not JSON ({e})"));
            out.push((topic, value));
        }
        out
    }
}

#[tokio::test]
async fn simulate_publishes_parsable_readings_for_every_demo_device() {
    let prefix = prefix();
    let mut collector = Collector::new(&prefix).await;
    simulate(&prefix, &["--ticks", "3", "--interval-ms", "10"]);
    let messages = collector.take(3 * DEVICES.len()).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (topic, payload) in &messages {
        let parts: Vec<&str> = topic
            .strip_prefix(&format!("{prefix}/"))
            .unwrap()
            .split('/')
            .collect();
        let [key, device, "attrs"] = parts.as_slice() else {
            panic!("unexpected topic {topic}");
        };
        assert_eq!(*key, format!("demo-key-{device}"), "{topic}");
        let (_, measures) = DEVICES
            .iter()
            .find(|(id, _)| id == device)
            .unwrap_or_else(|| panic!("unknown device {device}"));
        let object = payload.as_object().expect("a JSON object");
        let observed = object["observedAt"].as_str().expect("observedAt");
        assert!(
            chrono::DateTime::parse_from_rfc3339(observed).is_ok() && observed.ends_with("+07:00"),
            "{observed}"
        );
        let keys: BTreeSet<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "observedAt")
            .collect();
        assert_eq!(keys, measures.iter().copied().collect(), "{device}");
        for m in *measures {
            let v = &object[*m];
            let ok = match *m {
                "level" | "powerState" | "status" => v.is_string(),
                "aqi" | "wqi" | "alarm" => v.is_i64(),
                _ => v.is_number(),
            };
            assert!(ok, "{device}.{m} = {v}");
        }
        *seen.entry(device.to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> =
        DEVICES.iter().map(|(d, _)| (d.to_string(), 3)).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_flood_scenario_takes_both_gauges_through_every_alarm_level_and_back() {
    let prefix = prefix();
    let mut collector = Collector::new(&prefix).await;
    // 100 ticks of two simulated hours: the storm and the recession.
    simulate(
        &prefix,
        &[
            "--scenario",
            "flood",
            "--speed",
            "120",
            "--ticks",
            "100",
            "--interval-ms",
            "1",
        ],
    );
    let messages = collector.take(100 * DEVICES.len()).await;
    for gauge in ["gauge-kim-long", "gauge-phu-oc"] {
        let alarms: Vec<i64> = messages
            .iter()
            .filter(|(t, _)| t.contains(&format!("/{gauge}/")))
            .map(|(_, p)| p["alarm"].as_i64().unwrap())
            .collect();
        assert_eq!(alarms.len(), 100);
        let first_at = |level: i64| alarms.iter().position(|a| *a >= level).expect("reached");
        assert!(
            alarms[0] == 0 && first_at(1) < first_at(2) && first_at(2) < first_at(3),
            "{gauge}: {alarms:?}"
        );
        assert_eq!(*alarms.last().unwrap(), 0, "{gauge} recedes: {alarms:?}");
    }
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_demo_ingests_what_simulate_publishes() {
    let db = dothi_store::testing::TestDb::new(dothi_store::Backend::Sqlite).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = prefix();
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--mqtt-url",
            "mqtt://127.0.0.1:1883",
            "--mqtt-topic-prefix",
            &prefix,
        ])
        .env("DATABASE_URL", &db.url)
        // The demo catalogue's files: never in the working directory.
        .env(
            "DOTHI_DATA_DIR",
            std::env::temp_dir().join(format!("dothi-test-data-{}-{port}", std::process::id())),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dothi serve");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let started = Instant::now();
    let token = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "dothi did not start"
        );
        let signed_in = http
            .post(format!("{}/api/v1/auth/token", server.url))
            .json(&serde_json::json!({"username": "admin", "password": "dothi-admin-2026"}))
            .send()
            .await;
        if let Ok(r) = signed_in {
            if r.status().is_success() {
                let body: Value = r.json().await.unwrap();
                break body["access_token"].as_str().unwrap().to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stats = || async {
        http.get(format!("{}/api/v1/iot/stats", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    while stats().await["connection"] != "connected" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ingestion never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    simulate(
        &prefix,
        &[
            "--ticks",
            "2",
            "--interval-ms",
            "10",
            "--start",
            "2026-11-25T08:00:00+07:00",
        ],
    );
    let expected = serde_json::json!({"accepted": 18, "rejected": 0, "malformed": 0, "failed": 0});
    loop {
        let s = stats().await;
        if s["counts"] == expected {
            assert_eq!(s["devices"].as_array().unwrap().len(), 9);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "counted {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gauge: Value = http
        .get(format!(
            "{}/ngsi-ld/v1/entities/urn:ngsi-ld:FloodMonitoring:KimLong",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gauge["type"], "FloodMonitoring", "{gauge}");
    assert_eq!(gauge["currentLevel"]["unitCode"], "MTR", "{gauge}");
    // The second tick is ten simulated minutes after the start.
    assert_eq!(
        gauge["currentLevel"]["observedAt"], "2026-11-25T08:10:00+07:00",
        "{gauge}"
    );
    assert_eq!(gauge["alarmLevel3"]["value"], 3.5, "{gauge}");
    assert_eq!(gauge["location"]["type"], "GeoProperty", "{gauge}");
    let lights: Value = http
        .get(format!(
            "{}/ngsi-ld/v1/entities?type=Streetlight&options=keyValues",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: BTreeSet<String> = lights
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["id"].as_str().unwrap(),
                l["powerState"].as_str().unwrap()
            )
        })
        .collect();
    // 08:10 in Huế: the lights are off.
    assert_eq!(
        states,
        BTreeSet::from([
            "urn:ngsi-ld:Streetlight:le-loi-01 off".to_string(),
            "urn:ngsi-ld:Streetlight:le-loi-02 off".to_string()
        ])
    );
}
