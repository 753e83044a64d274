//! The notifier: follows the change log from its persisted cursor, matches each change against
//! the active subscriptions (§5.11: entities, watchedAttributes, notificationTrigger, q, geoQ,
//! throttling, expiry), and enqueues the notifications durably before advancing the cursor;
//! it also emits the periodic notifications of `timeInterval` subscriptions.
//!
//! Invariant: the cursor only ever moves past changes whose notifications are in the outbox,
//! so a crash repeats notifications (at-least-once) but never loses one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, format_time, Format, RenderOptions};
use dothi_ngsild::entity::Entity;
use dothi_ngsild::eval::{CompiledGeoQuery, CompiledQuery};
use dothi_ngsild::linked::{self, LinkedRequest};
use dothi_ngsild::q;
use dothi_store::ngsild::ChangeRow;
use regex::Regex;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::{attribute_filter, random_urn, state_of, status_of, Subscription, SubscriptionState};
use crate::query::EntityQuery;
use crate::{now_ms, Broker, Result};

/// The notifier's cursor in the change log.
pub const CURSOR: &str = "subscriptions";
/// The rules engine's cursor: the change log is purged only below both.
pub const RULES_CURSOR: &str = "rules";
/// Changes read per round.
const BATCH: u32 = 500;
/// The longest wait for a change signal: changes committed by another process (or a missed
/// signal) are still seen, and periodic subscriptions fire on time.
const POLL: Duration = Duration::from_secs(1);
/// How often the change log is purged below every consumer's cursor.
const PURGE_EVERY_MS: i64 = 60_000;
/// Entities per periodic notification.
const PERIODIC_LIMIT: u32 = 1000;

/// Starts the notifier; it runs until aborted.
pub fn spawn_notifier(broker: Broker) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut notifier = Notifier {
            broker,
            compiled: HashMap::new(),
            last_sent: HashMap::new(),
            last_purge: 0,
        };
        notifier.run().await
    })
}

/// A subscription ready to match: its queries compiled and its contexts resolved.
struct Compiled {
    modified_at: i64,
    state: SubscriptionState,
    /// Expands the names of `q` (the context of the creating request).
    ctx: Context,
    /// Compacts notifications.
    render_ctx: Context,
    /// Per entity selector; an error (impossible: validated on write) matches nothing.
    id_patterns: Vec<Option<std::result::Result<Regex, regex::Error>>>,
    q: Option<CompiledQuery>,
    geo: Option<(CompiledGeoQuery, String)>,
}

struct Notifier {
    broker: Broker,
    compiled: HashMap<String, Arc<Compiled>>,
    /// When each subscription last got a notification (throttling, periodic timing).
    last_sent: HashMap<String, i64>,
    last_purge: i64,
}

impl Notifier {
    async fn run(&mut self) {
        let mut changes = self.broker.changes.subscribe();
        loop {
            let caught_up = match self.round().await {
                Ok(caught_up) => caught_up,
                Err(e) => {
                    tracing::warn!(error = %e, "the subscription notifier failed a round; retrying");
                    true
                }
            };
            if caught_up {
                let _ = tokio::time::timeout(POLL, changes.changed()).await;
            }
        }
    }

    /// One round; true when the change log has been read to its end.
    async fn round(&mut self) -> Result<bool> {
        let store = self.broker.store.clone();
        let cursor = store.ngsild_cursor_get(CURSOR).await?.unwrap_or(0);
        let last = store.ngsild_last_change_seq().await?;
        let subs = self.load().await?;
        let now = now_ms();
        self.periodic(&subs, now).await?;
        self.purge(now).await;
        if cursor >= last {
            return Ok(true);
        }
        let listening: Vec<Arc<Compiled>> = subs
            .into_iter()
            .filter(|c| {
                let sub = &c.state.subscription;
                sub.time_interval.is_none() && status_of(sub, now) == "active"
            })
            .collect();
        if listening.is_empty() {
            // Nobody listens: changes up to `last` would match no one (a subscription created
            // later only hears of changes after its `since_seq`).
            store.ngsild_cursor_set(CURSOR, last).await?;
            return Ok(true);
        }
        let batch = store.ngsild_changes_after(cursor, BATCH).await?;
        let Some(end) = batch.last().map(|c| c.seq) else {
            return Ok(true);
        };
        let mut items = Vec::new();
        for change in &batch {
            self.notify_change(change, &listening, &mut items).await?;
        }
        if !items.is_empty() {
            store.ngsild_deliveries_enqueue(&items, now_ms()).await?;
            self.broker.outbox.notify_one();
        }
        store.ngsild_cursor_set(CURSOR, end).await?;
        Ok(end >= last)
    }

    /// Every subscription, compiled once per modification.
    async fn load(&mut self) -> Result<Vec<Arc<Compiled>>> {
        let page = self
            .broker
            .store
            .ngsild_subscription_list(None, 0, false)
            .await?;
        let mut out = Vec::with_capacity(page.subscriptions.len());
        let mut seen = HashSet::new();
        for record in page.subscriptions {
            seen.insert(record.id.clone());
            if let Some(c) = self.compiled.get(&record.id) {
                if c.modified_at == record.modified_at {
                    out.push(c.clone());
                    continue;
                }
            }
            let id = record.id.clone();
            let last = record.last_notification;
            let state = match state_of(record) {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "skipping a subscription");
                    continue;
                }
            };
            if let Some(last) = last {
                let entry = self.last_sent.entry(id.clone()).or_insert(last);
                *entry = (*entry).max(last);
            }
            let compiled = Arc::new(self.compile(state).await);
            self.compiled.insert(id, compiled.clone());
            out.push(compiled);
        }
        self.compiled.retain(|id, _| seen.contains(id));
        self.last_sent.retain(|id, _| seen.contains(id));
        Ok(out)
    }

    async fn compile(&self, state: SubscriptionState) -> Compiled {
        let sub = &state.subscription;
        let ctx = match self.broker.contexts.resolve(&sub.context).await {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::warn!(subscription = %sub.id, error = %e,
                    "the subscription's JSON-LD context cannot be resolved; using the core context");
                self.broker.contexts.core()
            }
        };
        let (render_ctx, _) = self.broker.notification_context(sub).await;
        // Validated on write; a query that no longer compiles matches nothing.
        let id_patterns = sub
            .entities
            .iter()
            .map(|s| s.id_pattern.as_ref().map(|p| Regex::new(p)))
            .collect();
        let q = sub
            .q
            .as_ref()
            .and_then(|text| q::parse(text).ok())
            .and_then(|query| CompiledQuery::new(&query).ok());
        let geo = sub.geo_q.as_ref().and_then(|g| {
            g.query()
                .ok()
                .map(|query| (CompiledGeoQuery::new(&query), g.geoproperty.clone()))
        });
        Compiled {
            modified_at: state.record.modified_at,
            ctx,
            render_ctx,
            id_patterns,
            q,
            geo,
            state,
        }
    }

    async fn notify_change(
        &mut self,
        change: &ChangeRow,
        subs: &[Arc<Compiled>],
        items: &mut Vec<(String, String)>,
    ) -> Result<()> {
        // Deletions carry no snapshot, hence no type to select on: not notified (yet).
        let Some(snapshot) = &change.snapshot else {
            return Ok(());
        };
        let entity: Entity = match serde_json::from_str(snapshot) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(seq = change.seq, error = %e, "an unreadable change-log snapshot");
                return Ok(());
            }
        };
        for c in subs {
            let sub = &c.state.subscription;
            if change.seq <= sub.since_seq || !matches(c, change, &entity) {
                continue;
            }
            if let Some(throttling) = sub.throttling {
                let last = self.last_sent.get(&sub.id).copied();
                if last.is_some_and(|l| change.at - l < (throttling * 1000.0) as i64) {
                    continue;
                }
            }
            self.last_sent.insert(sub.id.clone(), change.at);
            let entities = std::slice::from_ref(&entity);
            let links = self.linked(c, entities).await?;
            let payload = notification(c, entities, &links, now_ms());
            items.push((sub.id.clone(), payload.to_string()));
        }
        Ok(())
    }

    /// The linked entities of a subscription with `notification.join` (§4.5.23).
    async fn linked(&self, c: &Compiled, entities: &[Entity]) -> Result<HashMap<String, Entity>> {
        match c.state.subscription.notification.join_level {
            Some(level) if c.state.subscription.notification.join.is_some() => {
                self.broker.linked_entities(entities, level).await
            }
            _ => Ok(HashMap::new()),
        }
    }

    /// Periodic subscriptions whose interval has passed get the entities matching now.
    async fn periodic(&mut self, subs: &[Arc<Compiled>], now: i64) -> Result<()> {
        let mut items = Vec::new();
        for c in subs {
            let sub = &c.state.subscription;
            let Some(interval) = sub.time_interval else {
                continue;
            };
            if status_of(sub, now) != "active" {
                continue;
            }
            let last = *self
                .last_sent
                .entry(sub.id.clone())
                .or_insert(c.state.record.created_at);
            if now - last < (interval * 1000.0) as i64 {
                continue;
            }
            self.last_sent.insert(sub.id.clone(), now);
            let entities = self.matching_now(c).await?;
            if entities.is_empty() {
                continue;
            }
            let links = self.linked(c, &entities).await?;
            let payload = notification(c, &entities, &links, now);
            items.push((sub.id.clone(), payload.to_string()));
        }
        if !items.is_empty() {
            self.broker
                .store
                .ngsild_deliveries_enqueue(&items, now)
                .await?;
            self.broker.outbox.notify_one();
        }
        Ok(())
    }

    async fn matching_now(&self, c: &Compiled) -> Result<Vec<Entity>> {
        let sub = &c.state.subscription;
        let q = sub.q.as_ref().and_then(|text| q::parse(text).ok());
        let geo = match &sub.geo_q {
            Some(g) => Some((g.query()?, g.geoproperty.clone())),
            None => None,
        };
        let ctx = c.ctx.clone();
        let expand = move |term: &str| ctx.expand(term);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for selector in &sub.entities {
            let query = EntityQuery {
                ids: selector.id.iter().cloned().collect(),
                id_pattern: selector.id_pattern.clone(),
                types: Some(selector.types.clone()),
                attrs: Vec::new(),
                q: q.clone(),
                geo: geo.clone(),
                limit: PERIODIC_LIMIT,
                offset: 0,
                count: false,
                ..EntityQuery::default()
            };
            for entity in self.broker.query_entities(&query, &expand).await?.entities {
                if seen.insert(entity.id.clone()) {
                    out.push(entity);
                }
            }
        }
        Ok(out)
    }

    /// Forgets the change log below every consumer's cursor; only while the rules engine's
    /// cursor exists too, since a consumer that has not started yet must not lose changes.
    async fn purge(&mut self, now: i64) {
        if now - self.last_purge < PURGE_EVERY_MS {
            return;
        }
        self.last_purge = now;
        let store = &self.broker.store;
        let cursors = (
            store.ngsild_cursor_get(CURSOR).await,
            store.ngsild_cursor_get(RULES_CURSOR).await,
        );
        if let (Ok(Some(ours)), Ok(Some(rules))) = cursors {
            match store.ngsild_purge_changes(ours.min(rules)).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "purged the NGSI-LD change log"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the NGSI-LD change log failed"),
            }
        }
    }
}

/// Whether a change concerns a subscription (§5.11.1): an entity selector matches, a watched
/// attribute changed in a way `notificationTrigger` asks for, and q and geoQ hold on the
/// entity after the change.
fn matches(c: &Compiled, change: &ChangeRow, entity: &Entity) -> bool {
    let sub = &c.state.subscription;
    let selected = sub.entities.is_empty()
        || sub.entities.iter().zip(&c.id_patterns).any(|(s, pattern)| {
            s.id.as_ref().is_none_or(|id| *id == entity.id)
                && pattern
                    .as_ref()
                    .is_none_or(|re| re.as_ref().is_ok_and(|re| re.is_match(&entity.id)))
                && s.types
                    .iter()
                    .any(|all| all.iter().all(|t| entity.types.contains(t)))
        });
    if !selected {
        return false;
    }
    let relevant: Vec<&String> = change
        .attrs
        .iter()
        .filter(|a| sub.watched_attributes.is_empty() || sub.watched_attributes.contains(a))
        .collect();
    let trigger = |name: &str| sub.notification_trigger.iter().any(|t| t == name);
    let triggered = match change.op.as_str() {
        "create" => {
            trigger("entityCreated")
                || (trigger("attributeCreated")
                    && (sub.watched_attributes.is_empty() || !relevant.is_empty()))
        }
        _ => {
            !relevant.is_empty()
                && (trigger("entityUpdated")
                    || relevant.iter().any(|a| {
                        if entity.attributes.contains_key(*a) {
                            trigger("attributeCreated") || trigger("attributeUpdated")
                        } else {
                            trigger("attributeDeleted")
                        }
                    }))
        }
    };
    if !triggered {
        return false;
    }
    let ctx = &c.ctx;
    let expand = |term: &str| ctx.expand(term);
    if sub.q.is_some() && !c.q.as_ref().is_some_and(|q| q.matches(entity, &expand)) {
        return false;
    }
    if sub.geo_q.is_some()
        && !c
            .geo
            .as_ref()
            .is_some_and(|(g, property)| g.matches(entity, property))
    {
        return false;
    }
    true
}

/// The Notification (§5.2.19) of `entities` for a subscription, rendered per its
/// `notification` member in its context (`@context` is added at delivery, per `accept`).
fn notification(
    c: &Compiled,
    entities: &[Entity],
    links: &HashMap<String, Entity>,
    now: i64,
) -> Value {
    let sub: &Subscription = &c.state.subscription;
    let options = RenderOptions {
        format: match sub.notification.format.as_str() {
            "keyValues" => Format::KeyValues,
            "concise" => Format::Concise,
            _ => Format::Normalized,
        },
        sys_attrs: sub.notification.sys_attrs,
        attrs: attribute_filter(sub),
        lang: sub.lang.clone(),
        ..RenderOptions::default()
    };
    let data: Vec<Value> = match joined(sub) {
        Some(request) => linked::render(entities, links, &request, &c.render_ctx, &options),
        None => entities
            .iter()
            .map(|e| Value::Object(document::render_entity(e, &c.render_ctx, &options)))
            .collect(),
    };
    json!({
        "id": random_urn("Notification"),
        "type": "Notification",
        "subscriptionId": sub.id,
        "notifiedAt": format_time(now),
        "data": data,
    })
}

/// The `join`/`joinLevel` of a subscription's notifications, if any (§4.5.23).
fn joined(sub: &Subscription) -> Option<LinkedRequest> {
    let n = &sub.notification;
    let level = n.join_level.map(|l| l.to_string());
    LinkedRequest::parse(n.join.as_deref(), level.as_deref(), None, None)
        .ok()
        .flatten()
}
