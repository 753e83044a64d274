//! `dothi simulate`, and the demo IoT devices it plays: realistic readings for Huế published over
//! MQTT with the topic scheme of docs/IOT.md, so that the platform can be shown (and tested)
//! end to end without field hardware.
//!
//! The devices are registered by `dothi serve --demo` with fixed, public keys
//! ([`demo_devices`]); never use them in production. Readings follow the hour of the day in
//! Việt Nam (traffic peaks for PM2.5 and NO2, afternoon ozone, dusk-to-dawn street lights, a
//! tidal swing at Kim Long) and, in the `flood` scenario, a storm: heavy rain, then the Hương
//! and Bồ rivers rising through báo động 1, 2 and 3 at Kim Long and Phú Ốc, then receding.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};
use clap::{Args, ValueEnum};
use dothi_domain::Actor;
use dothi_store::iot::{DeviceSpec, MeasureMapping, MeasureType};
use dothi_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Map, Value};

/// Alarm levels (báo động 1, 2, 3) of the river gauges, metres. Kim Long 1.0/2.0/3.5 and Phú Ốc
/// 3.0/4.5 for BĐ2/BĐ3 match the provincial flood bulletins; Phú Ốc's BĐ1 (1.5 m) is the
/// project's working figure, to be confirmed with the hydro-meteorological station.
pub const KIM_LONG_ALARMS: [f64; 3] = [1.0, 2.0, 3.5];
pub const PHU_OC_ALARMS: [f64; 3] = [1.5, 3.0, 4.5];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Ordinary days: diurnal cycles, the odd shower.
    Normal,
    /// A storm: heavy rain, then rivers through báo động 1→2→3, then receding.
    Flood,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The MQTT broker to publish to.
    #[arg(long, env = "DOTHI_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
    /// First topic levels (as `dothi serve --mqtt-topic-prefix`).
    #[arg(long, env = "DOTHI_MQTT_TOPIC_PREFIX", default_value = "dothi/v1")]
    topic_prefix: String,
    /// Real milliseconds between ticks.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Simulated minutes per tick.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    #[arg(long, value_enum, default_value = "normal")]
    scenario: Scenario,
    /// Ticks to run; 0 runs until stopped.
    #[arg(long, default_value_t = 0)]
    ticks: u64,
    /// Seed of the random variations (the same seed gives the same readings).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Simulated start time, ISO 8601 with offset (default: now).
    #[arg(long)]
    start: Option<String>,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

// ---------------------------------------------------------------------------------------------
// The demo devices

/// What a demo device is, for the simulator.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// An air-quality station; `traffic` scales its traffic peaks.
    Air {
        traffic: f64,
    },
    Water,
    Weather,
    /// A street light; `faulty` lights break now and then.
    Light {
        faulty: bool,
    },
    /// A LoRaWAN node's own health.
    Node,
    /// A river gauge: (base level m, tidal amplitude m, flood peak m, alarm levels).
    Gauge {
        base: f64,
        tide: f64,
        peak: f64,
        rise_start_h: f64,
        peak_h: f64,
        alarms: [f64; 3],
    },
}

struct Demo {
    id: &'static str,
    key: &'static str,
    kind: Kind,
    spec: DeviceSpec,
}

fn measure(measure: &str, name: &str, unit: Option<&str>, kind: MeasureType) -> MeasureMapping {
    MeasureMapping {
        measure: measure.into(),
        name: (name != measure).then(|| name.to_string()),
        unit_code: unit.map(str::to_string),
        kind: Some(kind),
    }
}

fn point(lon: f64, lat: f64) -> Value {
    json!({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}})
}

fn statics(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn spec(
    entity_id: &str,
    entity_type: &str,
    description: &str,
    attributes: Vec<MeasureMapping>,
    static_attributes: Map<String, Value>,
) -> DeviceSpec {
    DeviceSpec {
        entity_id: entity_id.into(),
        entity_type: entity_type.into(),
        context: None,
        description: Some(description.into()),
        attributes,
        static_attributes,
    }
}

fn air_measures() -> Vec<MeasureMapping> {
    use MeasureType::*;
    vec![
        measure("pm25", "pm25", Some("GQ"), Number),
        measure("pm10", "pm10", Some("GQ"), Number),
        measure("no2", "no2", Some("GQ"), Number),
        measure("o3", "o3", Some("GQ"), Number),
        measure("aqi", "airQualityIndex", None, Integer),
        measure("level", "airQualityLevel", None, String),
    ]
}

fn gauge_spec(
    id: &str,
    name: &str,
    river: &str,
    lon: f64,
    lat: f64,
    alarms: [f64; 3],
) -> DeviceSpec {
    use MeasureType::*;
    spec(
        &format!("urn:ngsi-ld:FloodMonitoring:{id}"),
        "FloodMonitoring",
        &format!("Trạm thủy văn {name} ({river})"),
        vec![
            measure("waterLevel", "currentLevel", Some("MTR"), Number),
            measure("alarm", "alarmLevel", None, Integer),
        ],
        statics(vec![
            ("name", json!(format!("Trạm thủy văn {name}"))),
            ("river", json!(river)),
            ("location", point(lon, lat)),
            (
                "alarmLevel1",
                json!({"type": "Property", "value": alarms[0], "unitCode": "MTR"}),
            ),
            (
                "alarmLevel2",
                json!({"type": "Property", "value": alarms[1], "unitCode": "MTR"}),
            ),
            (
                "alarmLevel3",
                json!({"type": "Property", "value": alarms[2], "unitCode": "MTR"}),
            ),
        ]),
    )
}

/// The demo devices: (device id, public demo key, kind, spec).
fn demos() -> Vec<Demo> {
    use MeasureType::*;
    vec![
        Demo {
            id: "aq-le-loi",
            key: "demo-key-aq-le-loi",
            kind: Kind::Air { traffic: 1.0 },
            spec: spec(
                "urn:ngsi-ld:AirQualityObserved:hue-le-loi",
                "AirQualityObserved",
                "Trạm quan trắc không khí tự động đường Lê Lợi",
                air_measures(),
                statics(vec![
                    ("name", json!("Trạm quan trắc không khí Lê Lợi")),
                    ("location", point(107.5853, 16.4627)),
                ]),
            ),
        },
        Demo {
            id: "aq-phu-bai",
            key: "demo-key-aq-phu-bai",
            kind: Kind::Air { traffic: 1.4 },
            spec: spec(
                "urn:ngsi-ld:AirQualityObserved:hue-phu-bai",
                "AirQualityObserved",
                "Trạm quan trắc không khí khu công nghiệp Phú Bài",
                air_measures(),
                statics(vec![
                    ("name", json!("Trạm quan trắc không khí Phú Bài")),
                    ("location", point(107.6855, 16.3987)),
                ]),
            ),
        },
        Demo {
            id: "wq-huong",
            key: "demo-key-wq-huong",
            kind: Kind::Water,
            spec: spec(
                "urn:ngsi-ld:WaterQualityObserved:huong-giang",
                "WaterQualityObserved",
                "Trạm quan trắc chất lượng nước sông Hương (cầu Trường Tiền)",
                vec![
                    measure("pH", "pH", None, Number),
                    measure("do", "O2", Some("M1"), Number),
                    measure("turbidity", "turbidity", None, Number),
                    measure("temperature", "temperature", Some("CEL"), Number),
                    measure("wqi", "waterQualityIndex", None, Integer),
                ],
                statics(vec![
                    ("name", json!("Quan trắc nước sông Hương")),
                    ("location", point(107.5886, 16.4683)),
                ]),
            ),
        },
        Demo {
            id: "weather-hue",
            key: "demo-key-weather-hue",
            kind: Kind::Weather,
            spec: spec(
                "urn:ngsi-ld:WeatherObserved:hue",
                "WeatherObserved",
                "Trạm khí tượng Huế",
                vec![
                    measure("precipitation", "precipitation", Some("H67"), Number),
                    measure("temperature", "temperature", Some("CEL"), Number),
                    measure("relativeHumidity", "relativeHumidity", Some("C62"), Number),
                    measure("windSpeed", "windSpeed", Some("MTS"), Number),
                ],
                statics(vec![
                    ("name", json!("Trạm khí tượng Huế")),
                    ("location", point(107.5794, 16.4438)),
                ]),
            ),
        },
        Demo {
            id: "light-le-loi-01",
            key: "demo-key-light-le-loi-01",
            kind: Kind::Light { faulty: false },
            spec: light_spec("le-loi-01", 107.5901, 16.4662),
        },
        Demo {
            id: "light-le-loi-02",
            key: "demo-key-light-le-loi-02",
            kind: Kind::Light { faulty: true },
            spec: light_spec("le-loi-02", 107.5912, 16.4656),
        },
        Demo {
            id: "lora-node-kim-long",
            key: "demo-key-lora-node-kim-long",
            kind: Kind::Node,
            spec: spec(
                "urn:ngsi-ld:Device:lora-kim-long",
                "Device",
                "Nút LoRaWAN cấp nguồn năng lượng mặt trời tại trạm Kim Long",
                vec![
                    measure("batteryLevel", "batteryLevel", Some("C62"), Number),
                    measure("rssi", "rssi", Some("2N"), Number),
                ],
                statics(vec![
                    ("name", json!("Nút LoRaWAN Kim Long")),
                    ("location", point(107.5578, 16.4573)),
                ]),
            ),
        },
        Demo {
            id: "gauge-kim-long",
            key: "demo-key-gauge-kim-long",
            kind: Kind::Gauge {
                base: 0.45,
                tide: 0.12,
                peak: 3.85,
                rise_start_h: 9.0,
                peak_h: 40.0,
                alarms: KIM_LONG_ALARMS,
            },
            spec: gauge_spec(
                "KimLong",
                "Kim Long",
                "Sông Hương",
                107.5578,
                16.4573,
                KIM_LONG_ALARMS,
            ),
        },
        Demo {
            id: "gauge-phu-oc",
            key: "demo-key-gauge-phu-oc",
            kind: Kind::Gauge {
                base: 0.85,
                tide: 0.03,
                peak: 4.85,
                rise_start_h: 7.0,
                peak_h: 34.0,
                alarms: PHU_OC_ALARMS,
            },
            spec: gauge_spec(
                "PhuOc",
                "Phú Ốc",
                "Sông Bồ",
                107.4640,
                16.5297,
                PHU_OC_ALARMS,
            ),
        },
    ]
}

fn light_spec(name: &str, lon: f64, lat: f64) -> DeviceSpec {
    use MeasureType::*;
    spec(
        &format!("urn:ngsi-ld:Streetlight:{name}"),
        "Streetlight",
        "Đèn chiếu sáng công cộng đường Lê Lợi",
        vec![
            measure("powerState", "powerState", None, String),
            measure("illuminanceLevel", "illuminanceLevel", Some("C62"), Number),
            measure("status", "status", None, String),
        ],
        statics(vec![("location", point(lon, lat))]),
    )
}

/// The demo devices as `dothi serve --demo` registers them: (id, key, spec).
pub fn demo_devices() -> Vec<(&'static str, &'static str, DeviceSpec)> {
    demos().into_iter().map(|d| (d.id, d.key, d.spec)).collect()
}

/// Registers the demo devices that are missing (a device an operator changed is left alone).
pub async fn provision_demo_devices(store: &Store) -> Result<usize> {
    let system = Actor::system();
    let existing: Vec<String> = store
        .iot_devices(&system)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    let mut created = 0;
    for (id, key, spec) in demo_devices() {
        if existing.iter().any(|e| e == id) {
            continue;
        }
        store
            .iot_create_device(&system, id, &spec, Some(key))
            .await?;
        created += 1;
    }
    Ok(created)
}

// ---------------------------------------------------------------------------------------------
// The readings

/// Everything that evolves from tick to tick.
struct World {
    rng: StdRng,
    scenario: Scenario,
    start: DateTime<FixedOffset>,
    /// Simulated hours since the start.
    hours: f64,
    /// Rain now, mm/h, and a decaying sum of recent rain (mm) that swells the rivers.
    rain: f64,
    wet: f64,
    /// A shower under way in the normal scenario: hours left.
    shower_left: f64,
    battery: f64,
    /// Ticks left before the broken light is repaired (0: working).
    broken_for: u32,
}

/// The VN_AQI (Decision 1459/QĐ-TCMT of 2019) of one pollutant, by linear interpolation between
/// its breakpoints (hourly concentrations, µg/m³).
fn sub_index(c: f64, breakpoints: &[f64; 8]) -> f64 {
    const I: [f64; 8] = [0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0];
    for k in 1..8 {
        if c <= breakpoints[k] {
            return I[k - 1]
                + (I[k] - I[k - 1]) * (c - breakpoints[k - 1])
                    / (breakpoints[k] - breakpoints[k - 1]);
        }
    }
    500.0
}

/// VN_AQI of an hour: the highest sub-index (PM2.5, PM10, NO2, O3).
pub fn vn_aqi(pm25: f64, pm10: f64, no2: f64, o3: f64) -> i64 {
    let indices = [
        sub_index(pm25, &[0.0, 25.0, 50.0, 80.0, 150.0, 250.0, 350.0, 500.0]),
        sub_index(pm10, &[0.0, 50.0, 150.0, 250.0, 350.0, 420.0, 500.0, 600.0]),
        sub_index(
            no2,
            &[0.0, 100.0, 200.0, 700.0, 1200.0, 2350.0, 3100.0, 3850.0],
        ),
        sub_index(
            o3,
            &[0.0, 160.0, 200.0, 300.0, 400.0, 800.0, 1000.0, 1200.0],
        ),
    ];
    indices.iter().cloned().fold(0.0, f64::max).round() as i64
}

/// The Smart Data Models `airQualityLevel` of a VN_AQI (Tốt, Trung bình, Kém, Xấu, Rất xấu,
/// Nguy hại).
pub fn aqi_level(aqi: i64) -> &'static str {
    match aqi {
        ..=50 => "good",
        51..=100 => "moderate",
        101..=150 => "unhealthyForSensitiveGroups",
        151..=200 => "unhealthy",
        201..=300 => "veryUnhealthy",
        _ => "hazardous",
    }
}

/// How many alarm levels `level` has reached (0 = below báo động 1).
pub fn alarm_of(level: f64, alarms: &[f64; 3]) -> i64 {
    alarms.iter().filter(|a| level >= **a).count() as i64
}

fn bump(x: f64, centre: f64, width: f64) -> f64 {
    (-((x - centre) / width).powi(2)).exp()
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// 0 → 1 smoothly over [a, b].
fn smoothstep(x: f64, a: f64, b: f64) -> f64 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl World {
    fn now(&self) -> DateTime<FixedOffset> {
        self.start + chrono::Duration::milliseconds((self.hours * 3_600_000.0) as i64)
    }

    /// Local hour of day, fractional.
    fn hour(&self) -> f64 {
        let t = self.now();
        t.hour() as f64 + t.minute() as f64 / 60.0
    }

    fn noise(&mut self, amplitude: f64) -> f64 {
        self.rng.gen_range(-amplitude..=amplitude)
    }

    /// Advances the weather by `dt` hours.
    fn step(&mut self, dt: f64) {
        self.hours += dt;
        self.rain = match self.scenario {
            Scenario::Flood => {
                let h = self.hours;
                let base = if h < 4.0 {
                    2.0
                } else if h < 30.0 {
                    2.0 + 40.0 * smoothstep(h, 4.0, 10.0)
                } else {
                    42.0 * (1.0 - smoothstep(h, 30.0, 40.0))
                };
                (base * (1.0 + self.noise(0.35))).max(0.0)
            }
            Scenario::Normal => {
                if self.shower_left > 0.0 {
                    self.shower_left -= dt;
                    (self.rain + self.noise(1.0)).clamp(0.2, 12.0)
                } else if self.rng.gen_bool((0.04 * dt).clamp(0.0, 1.0)) {
                    self.shower_left = self.rng.gen_range(0.5..3.0);
                    self.rng.gen_range(0.5..6.0)
                } else {
                    0.0
                }
            }
        };
        self.wet = self.wet * (-dt / 12.0).exp() + self.rain * dt;
        if self.broken_for > 0 {
            self.broken_for -= 1;
        }
    }

    fn reading(&mut self, kind: Kind) -> Map<String, Value> {
        let h = self.hour();
        let daylight = (((h - 6.0) / 12.0 * std::f64::consts::PI).sin()).max(0.0);
        let temperature = 24.0 + 4.0 * ((h - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin()
            - (self.rain / 10.0).min(3.0);
        let washout = 1.0 - (self.rain / 20.0).min(0.6);
        let mut m = Map::new();
        match kind {
            Kind::Air { traffic } => {
                let peaks = bump(h, 7.5, 1.5) + 1.2 * bump(h, 18.0, 2.0);
                let pm25 = ((18.0 + 22.0 * traffic * peaks) * washout + self.noise(3.0)).max(2.0);
                let pm10 = (pm25 * 1.7 + self.noise(4.0)).max(4.0);
                let no2 = (15.0 + 35.0 * traffic * peaks + self.noise(4.0)).max(1.0);
                let o3 = (25.0 + 70.0 * daylight * washout + self.noise(5.0)).max(1.0);
                let aqi = vn_aqi(pm25, pm10, no2, o3);
                m.insert("pm25".into(), json!(round(pm25, 1)));
                m.insert("pm10".into(), json!(round(pm10, 1)));
                m.insert("no2".into(), json!(round(no2, 1)));
                m.insert("o3".into(), json!(round(o3, 1)));
                m.insert("aqi".into(), json!(aqi));
                m.insert("level".into(), json!(aqi_level(aqi)));
            }
            Kind::Water => {
                let flood = (self.wet / 400.0).min(1.0);
                let ph = 7.1 + 0.3 * daylight - 0.4 * flood + self.noise(0.05);
                let oxygen = 6.2 + 1.2 * daylight - 2.0 * flood + self.noise(0.15);
                let turbidity = 15.0 + 350.0 * flood + self.noise(2.0);
                let water_temp = 25.0 + 1.5 * daylight - 2.0 * flood + self.noise(0.2);
                // VN_WQI (Decision 1460/QĐ-TCMT of 2019) simplified to these parameters.
                let wqi =
                    (92.0 - 60.0 * flood - 8.0 * (ph - 7.2).abs() - 5.0 * (6.5 - oxygen).max(0.0)
                        + self.noise(2.0))
                    .clamp(10.0, 100.0);
                m.insert("pH".into(), json!(round(ph, 2)));
                m.insert("do".into(), json!(round(oxygen.max(0.5), 2)));
                m.insert("turbidity".into(), json!(round(turbidity.max(1.0), 1)));
                m.insert("temperature".into(), json!(round(water_temp, 1)));
                m.insert("wqi".into(), json!(wqi.round() as i64));
            }
            Kind::Weather => {
                let humidity =
                    (0.78 - 0.12 * daylight + (self.rain / 30.0).min(0.2) + self.noise(0.02))
                        .clamp(0.3, 1.0);
                let wind = (2.0 + 2.0 * daylight + self.rain / 6.0 + self.noise(0.5)).max(0.0);
                m.insert("precipitation".into(), json!(round(self.rain, 1)));
                m.insert(
                    "temperature".into(),
                    json!(round(temperature + self.noise(0.3), 1)),
                );
                m.insert("relativeHumidity".into(), json!(round(humidity, 2)));
                m.insert("windSpeed".into(), json!(round(wind, 1)));
            }
            Kind::Light { faulty } => {
                let night = !(5.75..18.0).contains(&h);
                if faulty && self.broken_for == 0 && self.rng.gen_bool(0.01) {
                    self.broken_for = self.rng.gen_range(6..30);
                }
                let broken = faulty && self.broken_for > 0;
                let level = match (night, broken) {
                    (false, _) | (true, true) => 0.0,
                    // Dimmed in the small hours, when streets are empty.
                    (true, false) if !(4.0..23.0).contains(&h) => 0.5,
                    (true, false) => 1.0,
                };
                m.insert(
                    "powerState".into(),
                    json!(if level > 0.0 { "on" } else { "off" }),
                );
                m.insert("illuminanceLevel".into(), json!(level));
                m.insert(
                    "status".into(),
                    json!(if broken { "defectiveLamp" } else { "ok" }),
                );
            }
            Kind::Node => {
                self.battery = (self.battery - 0.002
                    + 0.006 * daylight * (1.0 - self.rain / 60.0).max(0.0))
                .clamp(0.05, 1.0);
                let rssi = -78.0 - self.rain / 5.0 + self.noise(4.0);
                m.insert("batteryLevel".into(), json!(round(self.battery, 3)));
                m.insert("rssi".into(), json!(rssi.round()));
            }
            Kind::Gauge {
                base,
                tide,
                peak,
                rise_start_h,
                peak_h,
                alarms,
            } => {
                // Semi-diurnal tide (12.42 h), damped when the river is in flood.
                let tidal = tide * (self.hours / 12.42 * 2.0 * std::f64::consts::PI).sin();
                let flood = match self.scenario {
                    Scenario::Flood => {
                        let rise = smoothstep(self.hours, rise_start_h, peak_h);
                        let recession = if self.hours > peak_h {
                            (-(self.hours - peak_h) / 16.0).exp()
                        } else {
                            1.0
                        };
                        (peak - base) * rise * recession
                    }
                    Scenario::Normal => 0.004 * self.wet,
                };
                let damping = 1.0 - (flood / 2.0).min(1.0);
                let level = (base + flood + tidal * damping + self.noise(0.01)).max(0.0);
                m.insert("waterLevel".into(), json!(round(level, 2)));
                m.insert("alarm".into(), json!(alarm_of(level, &alarms)));
            }
        }
        m
    }
}

fn parse_url(url: &str) -> Result<(String, u16)> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .with_context(|| format!("the MQTT URL '{url}' must start with mqtt:// or tcp://"))?;
    let rest = rest.trim_end_matches('/');
    let address = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
    match address.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_string(),
            port.parse()
                .with_context(|| format!("invalid port in {url}"))?,
        )),
        None => Ok((address.to_string(), 1883)),
    }
}

fn credentials(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let (creds, _) = rest.rsplit_once('@')?;
    let (user, password) = creds.split_once(':').unwrap_or((creds, ""));
    Some((user.to_string(), password.to_string()))
}

/// Runs the simulation: connects, then publishes one message per device per tick.
pub async fn run(args: SimulateArgs) -> Result<()> {
    if args.speed <= 0.0 || !args.speed.is_finite() {
        bail!("--speed must be a positive number of simulated minutes per tick");
    }
    let prefix = args.topic_prefix.trim_end_matches('/').to_string();
    let (host, port) = parse_url(&args.mqtt_url)?;
    let start = match &args.start {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--start '{s}' is not an ISO 8601 date-time with offset"))?,
        None => {
            let vn = FixedOffset::east_opt(7 * 3600).context("the +07:00 offset")?;
            let now = Utc::now().with_timezone(&vn);
            now.with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(now)
        }
    };
    let client_id = format!("dothi-simulate-{}-{}", std::process::id(), args.seed);
    let mut options = MqttOptions::new(client_id, host.clone(), port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(500);
    if let Some((user, password)) = credentials(&args.mqtt_url) {
        options.set_credentials(user, password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    // The event loop runs apart; it reports the connection and counts acknowledgements, so
    // that a finite run ends only once every QoS 1 message reached the MQTT broker.
    let (connected_tx, mut connected_rx) = tokio::sync::watch::channel(false);
    let (acked_tx, acked_rx) = tokio::sync::watch::channel(0u64);
    let address = format!("{host}:{port}");
    let driver = tokio::spawn(async move {
        let mut acked = 0u64;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = connected_tx.send(true);
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    acked += 1;
                    let _ = acked_tx.send(acked);
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
                Ok(_) => {}
                Err(e) => {
                    let _ = connected_tx.send(false);
                    eprintln!("MQTT {address}: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    let wait = tokio::time::timeout(Duration::from_secs(15), connected_rx.wait_for(|c| *c)).await;
    if !matches!(wait, Ok(Ok(_))) {
        driver.abort();
        bail!("cannot connect to the MQTT broker at {}", args.mqtt_url);
    }

    let devices = demos();
    let mut world = World {
        rng: StdRng::seed_from_u64(args.seed),
        scenario: args.scenario,
        start,
        hours: 0.0,
        rain: 0.0,
        wet: 0.0,
        shower_left: 0.0,
        battery: 0.82,
        broken_for: 0,
    };
    let dt = args.speed / 60.0;
    let mut published = 0u64;
    let mut tick = 0u64;
    let mut every = tokio::time::interval(Duration::from_millis(args.interval_ms.max(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let observed = world.now().to_rfc3339_opts(SecondsFormat::Secs, false);
        let mut summary = Vec::new();
        for device in &devices {
            let mut payload = world.reading(device.kind);
            if let Kind::Gauge { .. } = device.kind {
                summary.push(format!(
                    "{} {} m (BĐ{})",
                    device.id.trim_start_matches("gauge-"),
                    payload["waterLevel"],
                    payload["alarm"]
                ));
            }
            payload.insert("observedAt".into(), json!(observed));
            let topic = format!("{prefix}/{}/{}/attrs", device.key, device.id);
            client
                .publish(
                    topic,
                    QoS::AtLeastOnce,
                    false,
                    Value::Object(payload).to_string(),
                )
                .await
                .context("publishing over MQTT")?;
            published += 1;
        }
        if !args.quiet {
            println!(
                "{observed}  mưa {:.1} mm/h  {}",
                world.rain,
                summary.join("  ")
            );
        }
        tick += 1;
        if args.ticks != 0 && tick >= args.ticks {
            break;
        }
        world.step(dt);
    }
    let mut acked_rx = acked_rx;
    let all_acked = tokio::time::timeout(
        Duration::from_secs(30),
        acked_rx.wait_for(|n| *n >= published),
    )
    .await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    if !matches!(all_acked, Ok(Ok(_))) {
        bail!("the MQTT broker did not acknowledge every message");
    }
    if !args.quiet {
        println!(
            "{published} messages published for {} devices",
            devices.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vn_aqi_takes_the_worst_pollutant_between_breakpoints() {
        assert_eq!(vn_aqi(25.0, 10.0, 10.0, 10.0), 50);
        assert_eq!(vn_aqi(65.0, 10.0, 10.0, 10.0), 125);
        assert_eq!(vn_aqi(10.0, 200.0, 10.0, 10.0), 125);
        assert_eq!(aqi_level(125), "unhealthyForSensitiveGroups");
        assert_eq!(aqi_level(40), "good");
    }

    #[test]
    fn alarm_levels_count_the_thresholds_reached() {
        assert_eq!(alarm_of(0.9, &KIM_LONG_ALARMS), 0);
        assert_eq!(alarm_of(2.0, &KIM_LONG_ALARMS), 2);
        assert_eq!(alarm_of(3.6, &KIM_LONG_ALARMS), 3);
        assert_eq!(alarm_of(4.49, &PHU_OC_ALARMS), 2);
    }

    #[test]
    fn the_flood_scenario_takes_both_gauges_through_every_alarm_level_and_back() {
        let mut world = World {
            rng: StdRng::seed_from_u64(7),
            scenario: Scenario::Flood,
            start: DateTime::parse_from_rfc3339("2026-11-25T00:00:00+07:00").unwrap(),
            hours: 0.0,
            rain: 0.0,
            wet: 0.0,
            shower_left: 0.0,
            battery: 0.8,
            broken_for: 0,
        };
        let gauges: Vec<Kind> = demos()
            .into_iter()
            .filter(|d| matches!(d.kind, Kind::Gauge { .. }))
            .map(|d| d.kind)
            .collect();
        assert_eq!(gauges.len(), 2);
        let mut series = vec![Vec::new(), Vec::new()];
        for _ in 0..(5 * 24) {
            for (i, g) in gauges.iter().enumerate() {
                series[i].push(world.reading(*g)["alarm"].as_i64().unwrap());
            }
            world.step(1.0);
        }
        for s in &series {
            let first_at = |level: i64| s.iter().position(|a| *a >= level).unwrap();
            assert!(
                first_at(1) < first_at(2) && first_at(2) < first_at(3),
                "{s:?}"
            );
            assert_eq!(s[0], 0);
            assert_eq!(*s.last().unwrap(), 0, "the river recedes: {s:?}");
        }
    }
}
