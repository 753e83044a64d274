//! The notifier: follows the change log from its persisted cursor, matches each change against
//! the active subscriptions (§5.11: entities, watchedAttributes, notificationTrigger, q, geoQ,
//! throttling, expiry), and enqueues the notifications durably before advancing the cursor;
//! it also emits the periodic notifications of `timeInterval` subscriptions.
//!
//! Invariant: the cursor only ever moves past changes whose notifications are in the outbox,
//! so a crash repeats notifications (at-least-once) but never loses one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, format_time, Format, RenderOptions};
use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::eval::{CompiledGeoQuery, CompiledQuery};
use dothi_ngsild::linked::{self, LinkedRequest};
use dothi_ngsild::q;
use dothi_store::ngsild::ChangeRow;
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use regex::Regex;
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use super::{
    attribute_filter, percent_decoded, random_urn, state_of, status_of, Subscription,
    SubscriptionState,
};
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
            .ngsild_subscription_list(SubscriptionKind::Entity, None, 0, false)
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
            let state = match state_of::<Subscription>(record) {
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
            .and_then(|text| q::parse(&percent_decoded(text)).ok())
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
        let view = match ChangeView::of(change) {
            Ok(Some(view)) => view,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(seq = change.seq, error = %e, "an unreadable change-log row");
                return Ok(());
            }
        };
        for c in subs {
            let sub = &c.state.subscription;
            if change.seq <= sub.since_seq || !matches(c, change, &view) {
                continue;
            }
            if let Some(throttling) = sub.throttling {
                let last = self.last_sent.get(&sub.id).copied();
                if last.is_some_and(|l| change.at - l < (throttling * 1000.0) as i64) {
                    continue;
                }
            }
            self.last_sent.insert(sub.id.clone(), change.at);
            let data = match joined(sub) {
                Some(request) => {
                    let entities = std::slice::from_ref(&view.entity);
                    let links = self.linked(c, entities).await?;
                    let options = render_options(sub);
                    linked::render(entities, &links, &request, &c.render_ctx, &options)
                }
                None => vec![Value::Object(render_change(c, change, &view))],
            };
            let payload = notification(c, data, now_ms());
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
            let data = match joined(sub) {
                Some(request) => {
                    let links = self.linked(c, &entities).await?;
                    let options = render_options(sub);
                    linked::render(&entities, &links, &request, &c.render_ctx, &options)
                }
                None => entities.iter().map(|e| render_plain(c, e)).collect(),
            };
            items.push((sub.id.clone(), notification(c, data, now).to_string()));
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
        let q = sub
            .q
            .as_ref()
            .and_then(|text| q::parse(&percent_decoded(text)).ok());
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

/// What the notifier knows of one change-log row.
struct ChangeView {
    /// The entity after the change; for a deletion, as it was.
    entity: Entity,
    /// What the change replaced: the previous instances of the changed attributes (every
    /// attribute for a deletion); None when the row does not say (older rows).
    previous: Option<BTreeMap<String, Vec<Attribute>>>,
    deleted: bool,
}

/// How one attribute changed.
#[derive(Default)]
struct AttrChange {
    created: bool,
    updated: bool,
    deleted: bool,
}

impl ChangeView {
    /// None for a row that cannot be notified (a deletion written before the change log kept
    /// the previous body).
    fn of(change: &ChangeRow) -> serde_json::Result<Option<ChangeView>> {
        if change.op == "delete" {
            let Some(body) = &change.previous else {
                return Ok(None);
            };
            let entity: Entity = serde_json::from_str(body)?;
            let previous = Some(entity.attributes.clone());
            return Ok(Some(ChangeView {
                entity,
                previous,
                deleted: true,
            }));
        }
        let Some(snapshot) = &change.snapshot else {
            return Ok(None);
        };
        let previous = match &change.previous {
            Some(text) => Some(serde_json::from_str(text)?),
            None if change.op == "create" => Some(BTreeMap::new()),
            None => None,
        };
        Ok(Some(ChangeView {
            entity: serde_json::from_str(snapshot)?,
            previous,
            deleted: false,
        }))
    }

    /// The attributes the change touched.
    fn attrs<'a>(&'a self, change: &'a ChangeRow) -> Vec<&'a String> {
        if self.deleted {
            self.entity.attributes.keys().collect()
        } else {
            change.attrs.iter().collect()
        }
    }

    fn change_of(&self, attr: &str) -> AttrChange {
        if self.deleted {
            return AttrChange {
                deleted: true,
                ..AttrChange::default()
            };
        }
        let now = self.entity.attributes.get(attr);
        let Some(previous) = &self.previous else {
            // Unknown past: present means created or updated.
            return AttrChange {
                created: now.is_some(),
                updated: now.is_some(),
                deleted: now.is_none(),
            };
        };
        let before = previous.get(attr);
        let has = |list: Option<&Vec<Attribute>>, dataset: &Option<String>| {
            list.is_some_and(|l| l.iter().any(|i| i.dataset_id == *dataset))
        };
        let mut out = AttrChange::default();
        for i in now.into_iter().flatten() {
            if has(before, &i.dataset_id) {
                out.updated = true;
            } else {
                out.created = true;
            }
        }
        out.deleted = before
            .into_iter()
            .flatten()
            .any(|i| !has(now, &i.dataset_id));
        out
    }
}

/// Whether a change concerns a subscription (§5.11.1): an entity selector matches, a watched
/// attribute changed in a way `notificationTrigger` asks for, and q and geoQ hold on the
/// entity after the change (before it, for a deletion).
fn matches(c: &Compiled, change: &ChangeRow, view: &ChangeView) -> bool {
    let sub = &c.state.subscription;
    let entity = &view.entity;
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
    let relevant: Vec<&String> = view
        .attrs(change)
        .into_iter()
        .filter(|a| sub.watched_attributes.is_empty() || sub.watched_attributes.contains(a))
        .collect();
    let trigger = |name: &str| sub.notification_trigger.iter().any(|t| t == name);
    let triggered = match change.op.as_str() {
        "create" => {
            trigger("entityCreated")
                || (trigger("attributeCreated")
                    && (sub.watched_attributes.is_empty() || !relevant.is_empty()))
        }
        "delete" => {
            trigger("entityDeleted")
                || (trigger("attributeDeleted")
                    && (sub.watched_attributes.is_empty() || !relevant.is_empty()))
        }
        _ => {
            !relevant.is_empty()
                && (trigger("entityUpdated")
                    || relevant.iter().any(|a| {
                        let how = view.change_of(a);
                        (how.created && trigger("attributeCreated"))
                            || (how.updated && trigger("attributeUpdated"))
                            || (how.deleted && trigger("attributeDeleted"))
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

/// The value that marks a deleted attribute instance in a notification (§4.5.1 NGSI-LD Null).
const NGSI_LD_NULL: &str = "urn:ngsi-ld:null";

/// A deleted instance as notifications show it: its kind and datasetId, an NGSI-LD Null
/// payload.
fn null_instance(was: &Attribute) -> Attribute {
    Attribute {
        kind: was.kind,
        value: dothi_ngsild::document::null_payload(was.kind),
        observed_at: None,
        unit_code: None,
        dataset_id: was.dataset_id.clone(),
        created_at: was.created_at,
        modified_at: was.modified_at,
        sub_attributes: BTreeMap::new(),
    }
}

fn render_options(sub: &Subscription) -> RenderOptions {
    RenderOptions {
        format: match sub.notification.format.as_str() {
            "keyValues" => Format::KeyValues,
            "concise" => Format::Concise,
            _ => Format::Normalized,
        },
        sys_attrs: sub.notification.sys_attrs,
        attrs: attribute_filter(sub),
        lang: sub.lang.clone(),
        ..RenderOptions::default()
    }
}

/// Only the instances of the subscription's `datasetId` member (`@none`: the default instance).
fn select_datasets(sub: &Subscription, entity: &mut Entity) {
    if sub.dataset_id.is_empty() {
        return;
    }
    let wanted = |d: &Option<String>| {
        sub.dataset_id
            .iter()
            .any(|w| d.as_deref().unwrap_or("@none") == w)
    };
    entity.attributes.retain(|_, instances| {
        instances.retain(|i| wanted(&i.dataset_id));
        !instances.is_empty()
    });
}

/// An entity as a (periodic) notification shows it.
fn render_plain(c: &Compiled, entity: &Entity) -> Value {
    let sub = &c.state.subscription;
    let mut entity = entity.clone();
    select_datasets(sub, &mut entity);
    let mut out = document::render_entity(&entity, &c.render_ctx, &render_options(sub));
    key_values_sys_attrs(sub, &entity, &mut out);
    pick_omit(c, &mut out);
    Value::Object(out)
}

/// `sysAttrs` in the keyValues format: the entity's createdAt and modifiedAt.
fn key_values_sys_attrs(sub: &Subscription, entity: &Entity, out: &mut Map<String, Value>) {
    if sub.notification.sys_attrs && sub.notification.format == "keyValues" {
        out.insert("createdAt".into(), json!(format_time(entity.created_at)));
        out.insert("modifiedAt".into(), json!(format_time(entity.modified_at)));
    }
}

/// Applies `notification.pick`/`omit` (§4.21) to a rendered entity.
fn pick_omit(c: &Compiled, out: &mut Map<String, Value>) {
    let n = &c.state.subscription.notification;
    if n.pick.is_empty() && n.omit.is_empty() {
        return;
    }
    let ctx = &c.render_ctx;
    out.retain(|key, _| {
        let member = match key.as_str() {
            "id" | "type" => key.clone(),
            _ => ctx.expand(key),
        };
        (n.pick.is_empty() || n.pick.contains(&member)) && !n.omit.contains(&member)
    });
}

/// The entity of a change as its notification shows it (§5.8.6): the entity after the change,
/// deleted instances as NGSI-LD Null, with `showChanges` the previous payloads; for a
/// deletion, the (watched) attributes as NGSI-LD Null and `deletedAt`.
fn render_change(c: &Compiled, change: &ChangeRow, view: &ChangeView) -> Map<String, Value> {
    let sub = &c.state.subscription;
    let options = render_options(sub);
    let mut entity = view.entity.clone();
    let empty = BTreeMap::new();
    let previous = view.previous.as_ref().unwrap_or(&empty);
    if view.deleted {
        // The attributes go with the entity: shown when the subscription asks for their
        // deletion or for changes, else only id, type and deletedAt.
        let shown = sub.notification.show_changes
            || sub
                .notification_trigger
                .iter()
                .any(|t| t == "attributeDeleted");
        let watched = &sub.watched_attributes;
        entity
            .attributes
            .retain(|a, _| shown && (watched.is_empty() || watched.contains(a)));
        for instances in entity.attributes.values_mut() {
            for i in instances.iter_mut() {
                *i = null_instance(i);
            }
        }
    } else {
        for a in &change.attrs {
            let Some(before) = previous.get(a) else {
                continue;
            };
            let now = entity.attributes.entry(a.clone()).or_default();
            for was in before {
                if !now.iter().any(|i| i.dataset_id == was.dataset_id) {
                    now.push(null_instance(was));
                }
            }
            if now.is_empty() {
                entity.attributes.remove(a);
            }
        }
    }
    select_datasets(sub, &mut entity);
    let mut out = document::render_entity(&entity, &c.render_ctx, &options);
    key_values_sys_attrs(sub, &entity, &mut out);
    let deleted_at = json!(format_time(change.at));
    if view.deleted {
        out.insert("deletedAt".into(), deleted_at.clone());
    }
    if options.sys_attrs && options.format != Format::KeyValues {
        for (key, value) in out.iter_mut() {
            if matches!(key.as_str(), "id" | "type" | "scope") {
                continue;
            }
            for instance in instances_mut(value) {
                if is_null_instance(instance) {
                    instance.insert("deletedAt".into(), deleted_at.clone());
                }
            }
        }
    }
    if sub.notification.show_changes && options.format != Format::KeyValues {
        let mut before = Entity {
            attributes: BTreeMap::new(),
            ..view.entity.clone()
        };
        for a in view.attrs(change) {
            if let Some(instances) = previous.get(a) {
                before.attributes.insert(a.clone(), instances.clone());
            }
        }
        select_datasets(sub, &mut before);
        let before_options = RenderOptions {
            format: Format::Normalized,
            sys_attrs: false,
            ..options
        };
        let rendered = document::render_entity(&before, &c.render_ctx, &before_options);
        for (key, was) in rendered {
            if matches!(key.as_str(), "id" | "type" | "scope") {
                continue;
            }
            let Some(now) = out.get_mut(&key) else {
                continue;
            };
            let mut was = was;
            for old in instances_mut(&mut was) {
                let dataset = old.get("datasetId").cloned();
                let Some(kind) = old
                    .get("type")
                    .and_then(Value::as_str)
                    .and_then(AttributeKind::parse)
                else {
                    continue;
                };
                let member = kind.payload_member();
                let Some(payload) = old.get(member).cloned() else {
                    continue;
                };
                let name = format!("previous{}{}", member[..1].to_uppercase(), &member[1..]);
                if let Some(current) = instances_mut(now)
                    .into_iter()
                    .find(|i| i.get("datasetId") == dataset.as_ref())
                {
                    current.insert(name, payload);
                }
            }
        }
    }
    pick_omit(c, &mut out);
    out
}

/// The instance objects of a rendered attribute (one object or an array of them).
fn instances_mut(value: &mut Value) -> Vec<&mut Map<String, Value>> {
    match value {
        Value::Object(o) => vec![o],
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => Vec::new(),
    }
}

fn is_null_instance(instance: &Map<String, Value>) -> bool {
    [
        "value",
        "object",
        "json",
        "vocab",
        "valueList",
        "objectList",
    ]
    .iter()
    .any(|m| instance.get(*m).and_then(Value::as_str) == Some(NGSI_LD_NULL))
        || instance
            .get("languageMap")
            .and_then(|m| m.get("@none"))
            .and_then(Value::as_str)
            == Some(NGSI_LD_NULL)
}

/// The Notification (§5.2.19) of rendered entities for a subscription (`@context` is added at
/// delivery, per `accept`).
fn notification(c: &Compiled, data: Vec<Value>, now: i64) -> Value {
    let sub: &Subscription = &c.state.subscription;
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
