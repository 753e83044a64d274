//! Context source registration subscriptions (§5.11; the Subscription data type of §5.2.12 with
//! `temporalQ`, `scopeQ` and `csf` applying to registrations) and their notifications
//! (ContextSourceNotification, §5.3.2 and §5.11.7).
//!
//! A registration write computes the notifications it causes (`newlyMatching`, `updated`,
//! `noLongerMatching`) for every active subscription and stores them in the outbox in the same
//! transaction as the registration; creating or updating a subscription queues one notification
//! with every registration that matches it. The delivery worker of entity subscriptions sends
//! them (outbox key `csource <id>`), with the same retries and bookkeeping. The registry worker
//! ([`spawn_registry_worker`]) deletes expired registrations (notifying their removal) and sends
//! the periodic notifications of `timeInterval` subscriptions.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use dothi_ngsild::context::Context;
use dothi_ngsild::document::format_time;
use dothi_ngsild::eval::{CompiledGeoQuery, CompiledQuery};
use dothi_ngsild::{q, scopeq};
use dothi_store::ngsild_registrations::CsourceDelivery;
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

use super::document::{bad, render_registration, Registration};
use super::matching::{restricted, EntityAsk, Filter, TemporalFilter};
use super::stored;
use crate::subscriptions::{
    parse_subscription, percent_decoded, random_urn, render_document, render_subscription,
    state_of, status_of, Subscription, SubscriptionBody, SubscriptionPage, SubscriptionState,
    Write,
};
use crate::{now_ms, Broker, Result};

/// How often the registry worker looks for expired registrations and due periodic
/// notifications.
const TICK: Duration = Duration::from_secs(1);

/// A context source registration subscription as stored: the members it shares with entity
/// subscriptions, and those it adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsourceSubscription {
    #[serde(flatten)]
    pub base: Subscription,
    /// `temporalQ` as the client wrote it (validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal_q: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_q: Option<String>,
    /// `expiresAt` as the client wrote it (the base keeps it in milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_text: Option<String>,
}

impl SubscriptionBody for CsourceSubscription {
    const KIND: SubscriptionKind = SubscriptionKind::Csource;
    const NAME: &'static str = "context source registration subscription";

    fn base(&self) -> &Subscription {
        &self.base
    }

    fn document(&self, ctx: &Context) -> Map<String, Value> {
        let mut document = render_document(&self.base, ctx);
        adjust(&mut document, self);
        document
    }
}

/// A stored registration subscription with its bookkeeping.
pub type CsourceSubscriptionState = SubscriptionState<CsourceSubscription>;

/// A page of registration subscriptions and the number of all of them.
pub type CsourceSubscriptionPage = SubscriptionPage<CsourceSubscription>;

fn parse_temporal_q(value: &Value) -> Result<TemporalFilter> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("temporalQ must be an object (§5.2.21)"))?;
    if let Some(key) = object.keys().find(|k| {
        !matches!(
            k.as_str(),
            "timerel" | "timeAt" | "endTimeAt" | "timeproperty"
        )
    }) {
        return Err(bad(format!(
            "temporalQ has timerel, timeAt, endTimeAt and timeproperty, not {key}"
        )));
    }
    let text = |name: &str| -> Result<Option<&str>> {
        match object.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(bad(format!(
                "temporalQ.{name} must be a string, not {other}"
            ))),
        }
    };
    TemporalFilter::parse(
        text("timerel")?,
        text("timeAt")?,
        text("endTimeAt")?,
        text("timeproperty")?,
    )
    .map_err(|e| bad(format!("temporalQ: {e}")))?
    .ok_or_else(|| bad("temporalQ needs timerel and timeAt"))
}

/// Parses and validates a registration subscription (§5.2.12); names are expanded with `ctx`.
pub fn parse_csource_subscription(
    body: &Value,
    ctx: &Context,
    reference: &Value,
    now: i64,
) -> Result<CsourceSubscription> {
    let object = body
        .as_object()
        .ok_or_else(|| bad("a subscription must be a JSON object"))?;
    // Mandatory here (§5.2.12); entity subscriptions tolerate its absence.
    if !object.contains_key("type") {
        return Err(bad("a subscription needs \"type\": \"Subscription\""));
    }
    let base = parse_subscription(body, ctx, reference, now)?;
    let temporal_q = match object.get("temporalQ") {
        None => None,
        Some(v) => {
            parse_temporal_q(v)?;
            Some(v.clone())
        }
    };
    let scope_q = match object.get("scopeQ") {
        None => None,
        Some(Value::String(s)) => {
            scopeq::parse(s).map_err(|e| bad(format!("scopeQ: {e}")))?;
            Some(s.clone())
        }
        Some(other) => return Err(bad(format!("scopeQ must be a string, not {other}"))),
    };
    let expires_at_text = base
        .expires_at
        .and(object.get("expiresAt"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(CsourceSubscription {
        base,
        temporal_q,
        scope_q,
        expires_at_text,
    })
}

/// The members a registration subscription adds to the rendering of an entity subscription
/// (and `notificationTrigger`, which applies to entities only, taken out).
fn adjust(out: &mut Map<String, Value>, sub: &CsourceSubscription) {
    out.remove("notificationTrigger");
    if let Some(t) = &sub.temporal_q {
        out.insert("temporalQ".into(), t.clone());
    }
    if let Some(s) = &sub.scope_q {
        out.insert("scopeQ".into(), json!(s));
    }
    if let Some(at) = &sub.expires_at_text {
        out.insert("expiresAt".into(), json!(at));
    }
}

/// The subscription as Retrieve/Query answer it: the document, its `status` and the
/// notification bookkeeping, compacted with `ctx`.
pub fn render_csource_subscription(
    state: &CsourceSubscriptionState,
    ctx: &Context,
    sys_attrs: bool,
    now: i64,
) -> Value {
    let entity_state = SubscriptionState {
        subscription: state.subscription.base.clone(),
        record: state.record.clone(),
    };
    let mut out = render_subscription(&entity_state, ctx, sys_attrs, now);
    if let Value::Object(o) = &mut out {
        adjust(o, &state.subscription);
    }
    out
}

/// A ContextSourceNotification (§5.3.2).
fn notification(subscription: &str, reason: &str, data: Vec<Value>) -> String {
    json!({
        "id": random_urn("Notification"),
        "type": "ContextSourceNotification",
        "subscriptionId": subscription,
        "notifiedAt": format_time(now_ms()),
        "data": data,
        "triggerReason": reason,
    })
    .to_string()
}

/// A subscription ready to match registrations: its filters compiled, its contexts resolved.
pub(crate) struct Listener {
    id: String,
    /// Expands the names of `q` and `csf` (the context of the creating request).
    ctx: Context,
    /// Compacts the notifications.
    render_ctx: Context,
    filter: Filter,
}

impl Listener {
    fn data(&self, reg: &Registration, infos: &[usize]) -> Value {
        render_registration(&restricted(reg, infos), &self.render_ctx, None)
    }
}

/// A filter no registration satisfies.
fn never() -> Filter {
    Filter {
        asks: vec![EntityAsk {
            types: Some(vec![vec![String::new()]]),
            ..EntityAsk::default()
        }],
        ..Filter::default()
    }
}

/// A `q` or `csf` text, parsed and compiled; Err when it no longer compiles.
fn compiled(text: Option<&String>, decode: bool) -> std::result::Result<Option<CompiledQuery>, ()> {
    match text {
        None => Ok(None),
        Some(t) => {
            let t = if decode {
                percent_decoded(t)
            } else {
                t.clone()
            };
            let parsed = q::parse(&t).map_err(drop)?;
            CompiledQuery::new(&parsed).map(Some).map_err(drop)
        }
    }
}

/// The filters of a subscription (validated when it was written; a part that no longer
/// compiles matches nothing rather than everything).
fn filter_of(sub: &CsourceSubscription) -> Filter {
    let base = &sub.base;
    let mut asks: Vec<EntityAsk> = Vec::new();
    for s in &base.entities {
        let id_pattern = match s.id_pattern.as_deref().map(Regex::new) {
            None => None,
            Some(Ok(re)) => Some(re),
            Some(Err(_)) => return never(),
        };
        asks.push(EntityAsk {
            ids: s.id.iter().cloned().collect(),
            id_pattern,
            types: Some(s.types.clone()),
        });
    }
    let (Ok(q), Ok(csf)) = (
        compiled(base.q.as_ref(), true),
        compiled(base.csf.as_ref(), false),
    ) else {
        return never();
    };
    let geo = match base.geo_q.as_ref() {
        None => None,
        Some(g) => match g.query() {
            Ok(query) => Some((CompiledGeoQuery::new(&query), g.geoproperty.clone())),
            Err(_) => return never(),
        },
    };
    Filter {
        asks,
        attrs: base.watched_attributes.clone(),
        q,
        csf,
        geo,
        scope_q: sub.scope_q.as_deref().and_then(|s| scopeq::parse(s).ok()),
        temporal: sub
            .temporal_q
            .as_ref()
            .and_then(|t| parse_temporal_q(t).ok()),
    }
}

impl Broker {
    async fn listener(&self, sub: &CsourceSubscription) -> Listener {
        let ctx = match self.contexts.resolve(&sub.base.context).await {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::warn!(subscription = %sub.base.id, error = %e,
                    "the registration subscription's JSON-LD context cannot be resolved; using the core context");
                self.contexts.core()
            }
        };
        let (render_ctx, _) = self.notification_context(&sub.base).await;
        Listener {
            id: sub.base.id.clone(),
            ctx,
            render_ctx,
            filter: filter_of(sub),
        }
    }

    /// Every registration subscription, leaving out (with a warning) one stored unreadable.
    async fn all_csource_subscriptions(&self) -> Result<Vec<CsourceSubscriptionState>> {
        let page = self
            .store
            .ngsild_subscription_list(SubscriptionKind::Csource, None, 0, false)
            .await?;
        Ok(page
            .subscriptions
            .into_iter()
            .filter_map(|record| {
                state_of(record)
                    .map_err(|e| tracing::warn!(error = %e, "skipping a registration subscription"))
                    .ok()
            })
            .collect())
    }

    /// The subscriptions a registration change is matched against: active, not periodic, and
    /// not within their `throttling` period.
    async fn csource_listeners(&self, now: i64) -> Result<Vec<Listener>> {
        let mut out = Vec::new();
        for state in self.all_csource_subscriptions().await? {
            let base = &state.subscription.base;
            if base.time_interval.is_some() || status_of(base, now) != "active" {
                continue;
            }
            let throttled = base.throttling.is_some_and(|t| {
                state
                    .record
                    .last_notification
                    .is_some_and(|last| (now - last) as f64 <= t * 1000.0)
            });
            if !throttled {
                out.push(self.listener(&state.subscription).await);
            }
        }
        Ok(out)
    }

    /// The notifications a registration change causes: `old` is the registration before it
    /// (None for a creation), `new` after it (None for a deletion).
    pub(crate) async fn registration_deliveries(
        &self,
        old: Option<&Registration>,
        new: Option<&Registration>,
        now: i64,
    ) -> Result<Vec<CsourceDelivery>> {
        let mut out = Vec::new();
        for l in self.csource_listeners(now).await? {
            let before = old.and_then(|r| l.filter.matching(r, &l.ctx, now));
            let after = new.and_then(|r| l.filter.matching(r, &l.ctx, now));
            let (reason, data) = match (before, after, old, new) {
                (None, Some(infos), _, Some(new)) => ("newlyMatching", l.data(new, &infos)),
                (Some(_), Some(infos), _, Some(new)) => ("updated", l.data(new, &infos)),
                // No longer matching after an update: the registration as it is now, whole.
                (Some(_), None, _, Some(new)) => (
                    "noLongerMatching",
                    render_registration(new, &l.render_ctx, None),
                ),
                // Deleted: the registration as it was, with what matched.
                (Some(infos), None, Some(old), None) => ("noLongerMatching", l.data(old, &infos)),
                _ => continue,
            };
            out.push((l.id.clone(), notification(&l.id, reason, vec![data])));
        }
        Ok(out)
    }

    /// The notification of every registration matching `sub` now (`reason`), if any: sent
    /// when a subscription is created or updated, and periodically for `timeInterval`.
    async fn matching_now(
        &self,
        sub: &CsourceSubscription,
        reason: &str,
        now: i64,
    ) -> Result<Vec<CsourceDelivery>> {
        if status_of(&sub.base, now) != "active" {
            return Ok(Vec::new());
        }
        let l = self.listener(sub).await;
        let data: Vec<Value> = self
            .all_registrations(now)
            .await?
            .iter()
            .filter_map(|s| {
                l.filter
                    .matching(&s.registration, &l.ctx, now)
                    .map(|infos| l.data(&s.registration, &infos))
            })
            .collect();
        if data.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![(l.id.clone(), notification(&l.id, reason, data))])
    }

    /// Create Context Source Registration Subscription (§5.11.2); returns its id. The
    /// registrations that match it now are notified at once (`newlyMatching`).
    pub async fn create_csource_subscription(
        &self,
        ctx: &Context,
        reference: &Value,
        body: &Value,
    ) -> Result<String> {
        let now = now_ms();
        let sub = parse_csource_subscription(body, ctx, reference, now)?;
        self.check_notification_context(&sub.base).await?;
        let deliveries = self.matching_now(&sub, "newlyMatching", now).await?;
        self.write_subscription(Write::Create, &sub, &deliveries)
            .await?;
        if !deliveries.is_empty() {
            self.outbox.notify_one();
        }
        Ok(sub.base.id)
    }

    /// Retrieve Context Source Registration Subscription (§5.11.4).
    pub async fn csource_subscription(&self, id: &str) -> Result<CsourceSubscriptionState> {
        self.stored_subscription(id).await
    }

    /// Query Context Source Registration Subscriptions (§5.11.5), in creation order.
    pub async fn csource_subscriptions(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<CsourceSubscriptionPage> {
        self.stored_subscriptions(limit, offset, true).await
    }

    /// Update Context Source Registration Subscription (§5.11.3): the fragment's members
    /// replace the subscription's (`null` removes one) and the result is validated as a whole;
    /// the registrations that match the updated subscription are notified at once.
    pub async fn update_csource_subscription(
        &self,
        id: &str,
        ctx: &Context,
        fragment: &Value,
    ) -> Result<()> {
        let (current, document) = self
            .merged_subscription::<CsourceSubscription>(id, ctx, fragment)
            .await?;
        let now = now_ms();
        let mut sub =
            parse_csource_subscription(&document, ctx, &current.subscription.base.context, now)?;
        sub.base.id = id.to_string();
        sub.base.context = current.subscription.base.context.clone();
        self.check_notification_context(&sub.base).await?;
        let deliveries = self.matching_now(&sub, "newlyMatching", now).await?;
        self.write_subscription(Write::Replace, &sub, &deliveries)
            .await?;
        if !deliveries.is_empty() {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Delete Context Source Registration Subscription (§5.11.6), with its pending
    /// notifications.
    pub async fn delete_csource_subscription(&self, id: &str) -> Result<()> {
        self.remove_subscription::<CsourceSubscription>(id).await
    }
}

/// Starts the registry worker: every second it deletes the registrations whose `expiresAt` has
/// passed (notifying `noLongerMatching`) and queues the due periodic notifications of
/// `timeInterval` registration subscriptions. It runs until aborted.
pub fn spawn_registry_worker(broker: Broker) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_sent: HashMap<String, i64> = HashMap::new();
        loop {
            if let Err(e) = registry_round(&broker, &mut last_sent).await {
                tracing::warn!(error = %e, "the context source registry worker failed a round; retrying");
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

async fn registry_round(broker: &Broker, last_sent: &mut HashMap<String, i64>) -> Result<()> {
    let now = now_ms();
    for record in broker.store.ngsild_registrations_expired(now).await? {
        // A registration changed meanwhile is looked at again next round.
        broker.remove_registration(&stored(record)?).await?;
    }
    let mut seen = HashSet::new();
    let mut deliveries = Vec::new();
    for state in broker.all_csource_subscriptions().await? {
        let sub = &state.subscription;
        let Some(interval) = sub.base.time_interval else {
            continue;
        };
        seen.insert(sub.base.id.clone());
        // The first notification went out with the creation (or the last update).
        let last = last_sent.entry(sub.base.id.clone()).or_insert_with(|| {
            state
                .record
                .last_notification
                .unwrap_or(0)
                .max(state.record.modified_at)
        });
        if ((now - *last) as f64) < interval * 1000.0 {
            continue;
        }
        *last = now;
        deliveries.extend(broker.matching_now(sub, "updated", now).await?);
    }
    last_sent.retain(|id, _| seen.contains(id));
    if !deliveries.is_empty() {
        broker
            .store
            .ngsild_csource_deliveries_enqueue(&deliveries)
            .await?;
        broker.outbox.notify_one();
    }
    Ok(())
}
