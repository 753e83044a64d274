//! MQTT ingestion: devices publish measures to a Mosquitto (or any MQTT 3.1.1) broker, and this
//! service, subscribed there, turns each message into an attribute update of the device's
//! entity, with `observedAt`.
//!
//! Topics follow the FIWARE IoT Agent JSON, with a version level (docs/IOT.md has the scheme):
//! `{prefix}/{apiKey}/{deviceId}/attrs` carries a JSON object of measures (keyValues, plus an
//! optional `observedAt`), `{prefix}/{apiKey}/{deviceId}/attrs/{measure}` one bare value, and
//! `{prefix}/{apiKey}/{deviceId}/ngsi-ld` an NGSI-LD fragment (normalized or concise). The
//! default prefix is `dothi/v1`.
//!
//! Devices are registered in `dothi_store::iot`; the API key in the topic must hash to the
//! device's key hash. A refused message is counted (rejected: unknown device or wrong key;
//! malformed: the reason; failed: the platform could not store it) and logged, never fatal.
//!
//! Throughput comes from group commit: one thread reads the MQTT session and queues messages, a
//! task takes everything queued (up to [`MAX_BATCH`]) and writes it with one
//! [`Broker::modify`] transaction. Nothing waits for a batch to fill, so a lone message is
//! written at once (latency), and a burst shares one commit (rate).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, format_time, parse_time};
use dothi_ngsild::entity::{Attribute, Entity};
use dothi_store::iot::{key_digest, Connection, DeviceCredentials, MeasureType, Outcome};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, SubscribeFilter};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{now_ms, Broker, BrokerError, Mutation, Result};

/// The most messages written in one transaction.
pub const MAX_BATCH: usize = 2000;
/// Messages read but not yet written; beyond this the MQTT session is not read (backpressure).
const QUEUE: usize = 20_000;
/// Reconnection delays: doubled after each failure, reset once connected.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Registry changes made through another instance are seen after at most this long.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// The largest MQTT packet accepted (a measure message is a few hundred bytes).
const MAX_PACKET: usize = 256 * 1024;
/// Refusals logged per second, at most; the rest are only counted (a broken device may send
/// thousands of bad messages a second, and the log must stay readable).
const LOG_PER_SECOND: u32 = 20;

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// `mqtt://host[:port]` or `tcp://host[:port]`, optionally with `user:password@`.
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// First topic levels, e.g. `dothi/v1` (no wildcards, no trailing `/`).
    pub topic_prefix: String,
    /// False (production): the MQTT broker keeps the session while dothi restarts, so QoS 1
    /// messages published meanwhile are delivered on reconnection.
    pub clean_session: bool,
}

impl IngestConfig {
    pub fn new(url: &str) -> Self {
        IngestConfig {
            url: url.to_string(),
            client_id: "dothi-ingest".into(),
            username: None,
            password: None,
            topic_prefix: DEFAULT_PREFIX.into(),
            clean_session: false,
        }
    }
}

pub const DEFAULT_PREFIX: &str = "dothi/v1";

/// The running service; dropping it stops it.
pub struct Ingestion {
    writer: JoinHandle<()>,
    /// Dropped with the service, which ends the reader thread.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Ingestion {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

/// (host, port, user name and password) of an `mqtt://` URL.
type Address = (String, u16, Option<(String, String)>);

fn parse_url(url: &str) -> std::result::Result<Address, String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| {
            format!(
                "the MQTT URL '{url}' must start with mqtt:// or tcp:// (TLS: use a local bridge)"
            )
        })?;
    let rest = rest.trim_end_matches('/');
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((c, a)) => {
            let (user, password) = c.split_once(':').unwrap_or((c, ""));
            (Some((user.to_string(), password.to_string())), a)
        }
        None => (None, rest),
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("the MQTT URL '{url}' has an invalid port '{p}'"))?,
        ),
        _ => (address, 1883),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(format!("the MQTT URL '{url}' has no host"));
    }
    Ok((host.to_string(), port, credentials))
}

/// Checks a topic prefix: one or more levels, no wildcards.
fn check_prefix(prefix: &str) -> std::result::Result<(), String> {
    if prefix.is_empty()
        || prefix.starts_with('/')
        || prefix.ends_with('/')
        || prefix.contains(['+', '#', '\0'])
    {
        return Err(format!(
            "the MQTT topic prefix '{prefix}' must be topic levels without wildcards, e.g. dothi/v1"
        ));
    }
    Ok(())
}

/// Starts ingestion. Fails only on a configuration error; an unreachable MQTT broker is
/// retried forever (logged, and shown in the stats), so startup never waits for it.
pub fn spawn(broker: Broker, config: IngestConfig) -> std::result::Result<Ingestion, String> {
    let (host, port, url_credentials) = parse_url(&config.url)?;
    check_prefix(&config.topic_prefix)?;
    let mut options = MqttOptions::new(config.client_id.clone(), host.clone(), port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(config.clean_session)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_inflight(1000)
        // A message is acknowledged to the MQTT broker only once its write has committed (or it
        // has been refused for good): a crash in between leaves it unacknowledged, and the MQTT
        // broker delivers it again on reconnection (persistent session).
        .set_manual_acks(true);
    let credentials = match (&config.username, url_credentials) {
        (Some(user), _) => Some((user.clone(), config.password.clone().unwrap_or_default())),
        (None, from_url) => from_url,
    };
    if let Some((user, password)) = credentials {
        options.set_credentials(user, password);
    }
    // Room for one acknowledgement per message that can be waiting (queued or in the batch being
    // written), so the writer never waits on the request channel of the event loop, whose reader
    // may itself wait for room in the queue.
    let (client, mut eventloop) = AsyncClient::new(options, QUEUE + MAX_BATCH + 64);
    let acks = client.clone();
    let (tx, rx) = mpsc::channel::<(Message, Publish)>(QUEUE);
    let stats_store = broker.store.clone();
    let address = format!("mqtt://{host}:{port}");
    stats_store
        .iot_stats()
        .set_connection(Connection::Connecting, Some(address.clone()));
    let prefix = config.topic_prefix.clone();
    let filters: Vec<SubscribeFilter> = ["+/+/attrs", "+/+/attrs/+", "+/+/ngsi-ld"]
        .iter()
        .map(|tail| SubscribeFilter::new(format!("{prefix}/{tail}"), QoS::AtLeastOnce))
        .collect();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reader = async move {
        let stats = stats_store.iot_stats();
        let mut backoff = MIN_BACKOFF;
        let mut stopped = stopped;
        loop {
            let event = tokio::select! {
                // Ingestion dropped (sender gone or set): leave the session.
                _ = stopped.changed() => return,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = MIN_BACKOFF;
                    tracing::info!(broker = %address, "MQTT ingestion connected; subscribing");
                    // The request goes through the event loop this task drives: sending it
                    // from here could wait on a full request channel forever.
                    let client = client.clone();
                    let filters = filters.clone();
                    tokio::spawn(async move {
                        if let Err(e) = client.subscribe_many(filters).await {
                            tracing::error!(error = %e, "MQTT subscription failed");
                        }
                    });
                }
                // Connected means subscribed: from now on no device message is missed.
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    stats.set_connection(Connection::Connected, None);
                    tracing::info!(broker = %address, "MQTT ingestion subscribed");
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let message = Message {
                        topic: publish.topic.clone(),
                        payload: publish.payload.to_vec(),
                        received_at: now_ms(),
                    };
                    if tx.send((message, publish)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    stats.set_connection(Connection::Connecting, None);
                    tracing::warn!(
                        broker = %address, error = %e,
                        "MQTT ingestion disconnected; retrying in {backoff:?}"
                    );
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    };
    // The session is read on a thread of its own: Mosquitto sends a subscriber only a few
    // unacknowledged QoS 1 messages at a time and drops what queues up beyond its limit
    // (max_queued_messages), so acknowledgements must never wait for the writer, whose
    // transactions keep the runtime's workers busy during a burst.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the MQTT reader: {e}"))?;
    std::thread::Builder::new()
        .name("dothi-mqtt".into())
        .spawn(move || runtime.block_on(reader))
        .map_err(|e| format!("cannot start the MQTT reader: {e}"))?;
    let writer = tokio::spawn(write_loop(broker, rx, prefix, acks));
    Ok(Ingestion {
        writer,
        _stop: stop,
    })
}

/// One MQTT message as received.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub received_at: i64,
}

async fn write_loop(
    broker: Broker,
    mut rx: mpsc::Receiver<(Message, Publish)>,
    prefix: String,
    acks: AsyncClient,
) {
    let mut cache = DeviceCache::default();
    let mut log = LogThrottle::default();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (messages, publishes): (Vec<Message>, Vec<Publish>) = batch.into_iter().unzip();
        cache.refresh(&broker).await;
        process(&broker, &cache, &prefix, messages, &mut log).await;
        // Written (or refused for good): only now may the MQTT broker forget them.
        for publish in &publishes {
            if let Err(e) = acks.ack(publish).await {
                tracing::warn!(error = %e, "MQTT acknowledgement not sent; the message will be redelivered");
            }
        }
    }
}

/// Decodes, authenticates and writes one batch; every message ends up counted exactly once.
pub async fn process(
    broker: &Broker,
    cache: &DeviceCache,
    prefix: &str,
    batch: Vec<Message>,
    log: &mut LogThrottle,
) {
    let stats = broker.store.iot_stats();
    let mut accepted: Vec<(String, String, i64)> = Vec::new();
    let mut measurements = Vec::new();
    for message in batch {
        match decode(cache, prefix, &message) {
            Ok((device_id, measurement)) => {
                accepted.push((device_id, message.topic, message.received_at));
                measurements.push(measurement);
            }
            Err(refusal) => {
                log.refused(&message.topic, &refusal);
                stats.record(
                    refusal.device_id.as_deref(),
                    &message.topic,
                    refusal.outcome,
                    Some(&refusal.reason),
                    message.received_at,
                );
            }
        }
    }
    if measurements.is_empty() {
        return;
    }
    let results = write_with_retry(broker, measurements).await;
    for ((device_id, topic, at), result) in accepted.into_iter().zip(results) {
        match result {
            Ok(()) => stats.record(Some(&device_id), &topic, Outcome::Accepted, None, at),
            Err(e) => {
                let refusal = Refusal {
                    device_id: Some(device_id),
                    outcome: Outcome::Failed,
                    reason: e.to_string(),
                };
                log.refused(&topic, &refusal);
                stats.record(
                    refusal.device_id.as_deref(),
                    &topic,
                    Outcome::Failed,
                    Some(&refusal.reason),
                    at,
                );
            }
        }
    }
}

/// Writes a batch. A failed transaction (the database restarting, a failover, a lock) is
/// retried until it commits, with backoff up to 30 s: the messages are not acknowledged
/// meanwhile and the session is not read past the queue, so the MQTT broker keeps them and
/// nothing received is dropped. Only a single measurement's own refusal is final.
async fn write_with_retry(broker: &Broker, measurements: Vec<Measurement>) -> Vec<Result<()>> {
    let n = measurements.len();
    let mut delay = MIN_BACKOFF;
    loop {
        match broker.ingest(measurements.clone()).await {
            Ok(results) => return results,
            Err(e) => {
                tracing::warn!(
                    error = %e, messages = n,
                    "MQTT ingestion could not write; retrying in {delay:?}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Why a message was not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The registered device it came from, if any.
    pub device_id: Option<String>,
    pub outcome: Outcome,
    pub reason: String,
}

fn refusal(device_id: Option<&str>, outcome: Outcome, reason: impl Into<String>) -> Refusal {
    Refusal {
        device_id: device_id.map(str::to_string),
        outcome,
        reason: reason.into(),
    }
}

/// Logs refusals at most [`LOG_PER_SECOND`] times a second, then says how many it skipped.
#[derive(Default)]
pub struct LogThrottle {
    window: Option<Instant>,
    logged: u32,
    skipped: u64,
}

impl LogThrottle {
    fn refused(&mut self, topic: &str, refusal: &Refusal) {
        let now = Instant::now();
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
        {
            if self.skipped > 0 {
                tracing::warn!(
                    skipped = self.skipped,
                    "MQTT ingestion refused more messages than it logs (see /api/v1/iot/stats)"
                );
            }
            self.window = Some(now);
            self.logged = 0;
            self.skipped = 0;
        }
        if self.logged < LOG_PER_SECOND {
            self.logged += 1;
            tracing::warn!(
                topic,
                device = refusal.device_id.as_deref().unwrap_or("-"),
                outcome = ?refusal.outcome,
                reason = %refusal.reason,
                "MQTT message refused"
            );
        } else {
            self.skipped += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Topics and payloads

/// What a topic addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicKind {
    /// A JSON object of measures.
    Attrs,
    /// One measure, the payload being its bare value.
    Attr(String),
    /// An NGSI-LD fragment.
    NgsiLd,
}

/// `(api key, device id, kind)` of a topic under `prefix`, if it has the scheme's shape.
pub fn parse_topic<'a>(prefix: &str, topic: &'a str) -> Option<(&'a str, &'a str, TopicKind)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let kind = match parts.as_slice() {
        [_, _, "attrs"] => TopicKind::Attrs,
        [_, _, "attrs", measure] if !measure.is_empty() => TopicKind::Attr(measure.to_string()),
        [_, _, "ngsi-ld"] => TopicKind::NgsiLd,
        _ => return None,
    };
    match (parts[0], parts[1]) {
        ("", _) | (_, "") => None,
        (key, device) => Some((key, device, kind)),
    }
}

/// A measure's attribute, ready to build instances.
#[derive(Debug, Clone)]
struct MeasureRule {
    /// The attribute's name as configured (for messages).
    name: String,
    iri: String,
    unit_code: Option<String>,
    kind: Option<MeasureType>,
}

/// A device's configuration, expanded once per cache load.
#[derive(Debug, Clone)]
struct Prepared {
    ctx: Context,
    types: Vec<String>,
    measures: HashMap<String, MeasureRule>,
    statics: BTreeMap<String, Vec<Attribute>>,
}

#[derive(Debug, Clone)]
struct CachedDevice {
    key_hash: String,
    entity_id: String,
    /// Err: why messages of this device cannot be stored (e.g. its context is unavailable).
    prepared: std::result::Result<Prepared, String>,
}

/// The registry as ingestion sees it, reloaded when it changes.
#[derive(Default)]
pub struct DeviceCache {
    devices: HashMap<String, CachedDevice>,
    generation: Option<u64>,
    loaded_at: Option<Instant>,
}

impl DeviceCache {
    /// Reloads if the registry changed through this store, or the cache is older than
    /// [`CACHE_TTL`]. A failed reload keeps the previous devices.
    pub async fn refresh(&mut self, broker: &Broker) {
        let generation = broker.store.iot_generation();
        let fresh = self.generation == Some(generation)
            && self.loaded_at.is_some_and(|t| t.elapsed() < CACHE_TTL);
        if fresh {
            return;
        }
        match broker.store.iot_credentials().await {
            Ok(devices) => {
                let mut loaded = HashMap::with_capacity(devices.len());
                for credentials in devices {
                    let cached = prepare(broker, &credentials).await;
                    loaded.insert(credentials.device.id.clone(), cached);
                }
                self.devices = loaded;
                self.generation = Some(generation);
                self.loaded_at = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(error = %e, "MQTT ingestion could not reload the device registry");
            }
        }
    }
}

async fn prepare(broker: &Broker, credentials: &DeviceCredentials) -> CachedDevice {
    let spec = &credentials.device.spec;
    let prepared = async {
        let local = match &spec.context {
            Some(url) => Value::String(url.clone()),
            None => Value::Null,
        };
        let ctx = broker
            .contexts
            .resolve(&local)
            .await
            .map_err(|e| e.to_string())?;
        let measures = spec
            .attributes
            .iter()
            .map(|m| {
                let rule = MeasureRule {
                    name: m.attribute().to_string(),
                    iri: ctx.expand(m.attribute()),
                    unit_code: m.unit_code.clone(),
                    kind: m.kind,
                };
                (m.measure.clone(), rule)
            })
            .collect();
        let statics = document::parse_fragment(
            &Value::Object(spec.static_attributes.clone()),
            &ctx,
            now_ms(),
            false,
        )
        .map_err(|e| format!("the device's static attributes are invalid: {e}"))?
        .attributes;
        Ok(Prepared {
            types: vec![ctx.expand(&spec.entity_type)],
            ctx,
            measures,
            statics,
        })
    }
    .await;
    if let Err(e) = &prepared {
        tracing::warn!(device = %credentials.device.id, error = %e, "IoT device cannot be ingested");
    }
    CachedDevice {
        key_hash: credentials.key_hash.clone(),
        entity_id: spec.entity_id.clone(),
        prepared,
    }
}

/// Authenticates a message and turns it into a [`Measurement`], or says why not.
pub fn decode(
    cache: &DeviceCache,
    prefix: &str,
    message: &Message,
) -> std::result::Result<(String, Measurement), Refusal> {
    let (key, device_id, kind) = parse_topic(prefix, &message.topic).ok_or_else(|| {
        refusal(
            None,
            Outcome::Malformed,
            format!("the topic is not {prefix}/{{apiKey}}/{{deviceId}}/attrs[/{{measure}}] or …/ngsi-ld"),
        )
    })?;
    let device = cache.devices.get(device_id).ok_or_else(|| {
        refusal(
            None,
            Outcome::Rejected,
            format!("unknown device '{device_id}'"),
        )
    })?;
    if key_digest(key) != device.key_hash {
        return Err(refusal(
            Some(device_id),
            Outcome::Rejected,
            "the API key in the topic is not this device's",
        ));
    }
    let prepared = device
        .prepared
        .as_ref()
        .map_err(|e| refusal(Some(device_id), Outcome::Failed, e.clone()))?;
    let malformed = |reason: String| refusal(Some(device_id), Outcome::Malformed, reason);
    let now = message.received_at;
    let received = format_time(now);
    let attributes = match kind {
        TopicKind::Attrs => {
            let value: Value = serde_json::from_slice(&message.payload)
                .map_err(|e| malformed(format!("the payload is not JSON: {e}")))?;
            let Value::Object(mut object) = value else {
                return Err(malformed(
                    "the payload must be a JSON object of measures".into(),
                ));
            };
            let observed = match object.remove("observedAt") {
                None => received,
                Some(Value::String(s)) if parse_time(&s).is_some() => s,
                Some(other) => {
                    return Err(malformed(format!(
                        "observedAt must be an ISO 8601 date-time with an offset, not {other}"
                    )))
                }
            };
            if object.is_empty() {
                return Err(malformed("the payload has no measure".into()));
            }
            let mut attributes = BTreeMap::new();
            for (measure, value) in object {
                let (iri, instance) = measure_attribute(prepared, &measure, value, &observed, now)
                    .map_err(malformed)?;
                attributes.insert(iri, vec![instance]);
            }
            attributes
        }
        TopicKind::Attr(measure) => {
            let text = std::str::from_utf8(&message.payload)
                .map_err(|_| malformed("the payload is not UTF-8 text".into()))?;
            let text = text.trim();
            // A bare value: JSON if it parses (3.42, true, "x"), else the text itself (on).
            let value =
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()));
            let (iri, instance) =
                measure_attribute(prepared, &measure, value, &received, now).map_err(malformed)?;
            BTreeMap::from([(iri, vec![instance])])
        }
        TopicKind::NgsiLd => {
            let value: Value = serde_json::from_slice(&message.payload)
                .map_err(|e| malformed(format!("the payload is not JSON: {e}")))?;
            if let Some(id) = value.get("id").and_then(Value::as_str) {
                if id != device.entity_id {
                    return Err(malformed(format!(
                        "the fragment's id {id} is not the device's entity {}",
                        device.entity_id
                    )));
                }
            }
            let fragment = document::parse_fragment(&value, &prepared.ctx, now, false)
                .map_err(|e| malformed(format!("invalid NGSI-LD fragment: {e}")))?;
            if fragment.attributes.is_empty() {
                return Err(malformed("the fragment has no attribute".into()));
            }
            let mut attributes = fragment.attributes;
            for instances in attributes.values_mut() {
                for instance in instances {
                    if instance.observed_at.is_none() {
                        instance.observed_at = Some(received.clone());
                    }
                }
            }
            attributes
        }
    };
    Ok((
        device_id.to_string(),
        Measurement {
            entity_id: device.entity_id.clone(),
            types: prepared.types.clone(),
            static_attributes: prepared.statics.clone(),
            attributes,
        },
    ))
}

/// The attribute instance of one measure, coerced to its configured type.
fn measure_attribute(
    prepared: &Prepared,
    measure: &str,
    value: Value,
    observed_at: &str,
    now: i64,
) -> std::result::Result<(String, Attribute), String> {
    let rule = prepared
        .measures
        .get(measure)
        .ok_or_else(|| format!("unknown measure '{measure}'"))?;
    let value = coerce(value, rule.kind).map_err(|e| format!("measure '{measure}': {e}"))?;
    let mut body = Map::new();
    body.insert("value".into(), value);
    body.insert("observedAt".into(), json!(observed_at));
    if let Some(unit) = &rule.unit_code {
        body.insert("unitCode".into(), json!(unit));
    }
    let mut instances = document::parse_attribute(
        &rule.name,
        &rule.iri,
        &Value::Object(body),
        &prepared.ctx,
        now,
    )
    .map_err(|e| format!("measure '{measure}': {e}"))?;
    let instance = instances
        .pop()
        .ok_or_else(|| format!("measure '{measure}' gave no attribute"))?;
    Ok((rule.iri.clone(), instance))
}

/// Coerces a payload value; devices often send numbers as strings ("3.42") and states as 0/1.
pub fn coerce(value: Value, kind: Option<MeasureType>) -> std::result::Result<Value, String> {
    let wrong = |expected: &str, v: &Value| Err(format!("expected {expected}, got {v}"));
    match (kind, value) {
        (_, Value::Null) => Err("the value is null".into()),
        (None, v) => Ok(v),
        (Some(MeasureType::Number), Value::Number(n)) => Ok(Value::Number(n)),
        (Some(MeasureType::Number), Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(json!(f)),
            _ => wrong("a number", &Value::String(s)),
        },
        (Some(MeasureType::Integer), Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(json!(i)),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(json!(f as i64)),
                _ => wrong("an integer", &Value::Number(n)),
            },
        },
        (Some(MeasureType::Integer), Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(json!(i)),
            Err(_) => wrong("an integer", &Value::String(s)),
        },
        (Some(MeasureType::Boolean), Value::Bool(b)) => Ok(Value::Bool(b)),
        (Some(MeasureType::Boolean), Value::Number(n)) if n.as_i64() == Some(0) => Ok(json!(false)),
        (Some(MeasureType::Boolean), Value::Number(n)) if n.as_i64() == Some(1) => Ok(json!(true)),
        (Some(MeasureType::Boolean), Value::String(s)) => match s.trim() {
            "true" | "1" => Ok(json!(true)),
            "false" | "0" => Ok(json!(false)),
            _ => wrong("a boolean", &Value::String(s)),
        },
        (Some(MeasureType::String), Value::String(s)) => Ok(Value::String(s)),
        (Some(MeasureType::String), Value::Number(n)) => Ok(Value::String(n.to_string())),
        (Some(MeasureType::String), Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Some(MeasureType::Number), v) => wrong("a number", &v),
        (Some(MeasureType::Integer), v) => wrong("an integer", &v),
        (Some(MeasureType::Boolean), v) => wrong("a boolean", &v),
        (Some(MeasureType::String), v) => wrong("a string", &v),
    }
}

// ---------------------------------------------------------------------------------------------
// Storage

/// The attribute updates one message makes to one entity (expanded names).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub entity_id: String,
    /// The entity's types, added if missing.
    pub types: Vec<String>,
    /// Attributes the entity always has: set when missing or different, else left alone (so
    /// they make no history on every message).
    pub static_attributes: BTreeMap<String, Vec<Attribute>>,
    /// The measures: always written, each instance carrying its `observedAt`.
    pub attributes: BTreeMap<String, Vec<Attribute>>,
}

/// True when `new` would change something of `current` (value, kind or unit).
fn differs(current: Option<&Vec<Attribute>>, new: &[Attribute]) -> bool {
    let Some(current) = current else {
        return true;
    };
    new.iter().any(|n| {
        !current.iter().any(|c| {
            c.dataset_id == n.dataset_id
                && c.kind == n.kind
                && c.value == n.value
                && c.unit_code == n.unit_code
        })
    })
}

impl Broker {
    /// Applies measurements in one transaction, creating an entity on its first measurement
    /// (as the FIWARE IoT Agent does). Items of one entity are applied in order, each a change
    /// of its own (history rows and notifications per message). One item's failure does not
    /// undo the others.
    pub async fn ingest(&self, items: Vec<Measurement>) -> Result<Vec<Result<()>>> {
        let now = now_ms();
        let ids: Vec<String> = items.iter().map(|m| m.entity_id.clone()).collect();
        let mut items: Vec<Option<Measurement>> = items.into_iter().map(Some).collect();
        let mut position = 0;
        self.modify(&ids, |id, current| {
            let item = items
                .get_mut(position)
                .and_then(Option::take)
                .ok_or_else(|| {
                    BrokerError::InternalError(format!("measurement for {id} visited twice"))
                })?;
            position += 1;
            let Measurement {
                entity_id,
                types,
                mut static_attributes,
                attributes,
            } = item;
            static_attributes.retain(|iri, _| !attributes.contains_key(iri));
            match current {
                None => {
                    if types.is_empty() {
                        return Err(BrokerError::BadRequestData(format!(
                            "entity {entity_id} has no type to be created with"
                        )));
                    }
                    let mut all = static_attributes;
                    all.extend(attributes);
                    let entity = Entity {
                        id: entity_id,
                        types,
                        scopes: Vec::new(),
                        created_at: now,
                        modified_at: now,
                        attributes: all,
                    };
                    Ok(Mutation::Put {
                        changed: entity.attributes.keys().cloned().collect(),
                        entity,
                        created: true,
                    })
                }
                Some(mut entity) => {
                    for t in types {
                        if !entity.types.contains(&t) {
                            entity.types.push(t);
                        }
                    }
                    static_attributes
                        .retain(|iri, instances| differs(entity.attributes.get(iri), instances));
                    let mut changed = entity.append(static_attributes, true, now).updated;
                    changed.extend(entity.append(attributes, true, now).updated);
                    if changed.is_empty() {
                        return Ok(Mutation::Keep);
                    }
                    Ok(Mutation::Put {
                        entity,
                        changed,
                        created: false,
                    })
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_of_the_scheme_are_parsed_and_others_refused() {
        let p = "dothi/v1";
        assert_eq!(
            parse_topic(p, "dothi/v1/KEY/kim-long/attrs"),
            Some(("KEY", "kim-long", TopicKind::Attrs))
        );
        assert_eq!(
            parse_topic(p, "dothi/v1/KEY/kim-long/attrs/waterLevel"),
            Some(("KEY", "kim-long", TopicKind::Attr("waterLevel".into())))
        );
        assert_eq!(
            parse_topic(p, "dothi/v1/KEY/kim-long/ngsi-ld"),
            Some(("KEY", "kim-long", TopicKind::NgsiLd))
        );
        for bad in [
            "dothi/v1/KEY/attrs",
            "dothi/v1//dev/attrs",
            "dothi/v1/KEY/dev/cmd",
            "dothi/v1/KEY/dev/attrs/",
            "other/v1/KEY/dev/attrs",
            "dothi/v1x/KEY/dev/attrs",
        ] {
            assert_eq!(parse_topic(p, bad), None, "{bad}");
        }
    }

    #[test]
    fn mqtt_urls_give_host_port_and_credentials() {
        assert_eq!(
            parse_url("mqtt://127.0.0.1:1883"),
            Ok(("127.0.0.1".into(), 1883, None))
        );
        assert_eq!(
            parse_url("tcp://mosquitto"),
            Ok(("mosquitto".into(), 1883, None))
        );
        assert_eq!(
            parse_url("mqtt://dothi:bí-mật@broker.hue.gov.vn:8883/"),
            Ok((
                "broker.hue.gov.vn".into(),
                8883,
                Some(("dothi".into(), "bí-mật".into()))
            ))
        );
        assert!(parse_url("http://127.0.0.1:1883").is_err());
        assert!(parse_url("mqtt://127.0.0.1:port").is_err());
        assert!(parse_url("mqtt://").is_err());
    }

    #[test]
    fn values_are_coerced_to_the_measure_type_or_refused() {
        use MeasureType::*;
        assert_eq!(coerce(json!("3.42"), Some(Number)), Ok(json!(3.42)));
        assert_eq!(coerce(json!(7.0), Some(Integer)), Ok(json!(7)));
        assert_eq!(coerce(json!("12"), Some(Integer)), Ok(json!(12)));
        assert_eq!(coerce(json!(1), Some(Boolean)), Ok(json!(true)));
        assert_eq!(coerce(json!("false"), Some(Boolean)), Ok(json!(false)));
        assert_eq!(coerce(json!(42), Some(String)), Ok(json!("42")));
        assert_eq!(coerce(json!({"a": 1}), None), Ok(json!({"a": 1})));
        assert_eq!(
            coerce(json!("cao"), Some(Number)),
            Err("expected a number, got \"cao\"".into())
        );
        assert_eq!(
            coerce(json!(2.5), Some(Integer)),
            Err("expected an integer, got 2.5".into())
        );
        assert_eq!(coerce(Value::Null, None), Err("the value is null".into()));
    }
}
