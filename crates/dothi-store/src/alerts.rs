//! Threshold rules, their per-entity state, alerts with their lifecycle, and alert webhooks
//! with a durable delivery outbox (issue 4, item 6; semantics in docs/ALERTS.md).
//!
//! This module only stores: the rules engine (`dothi_broker::rules`) decides when a rule raises
//! or clears, and hands its decisions with its change-log position to
//! [`Store::alerts_engine_commit`], which writes them in one transaction; so after a crash the
//! engine neither loses nor repeats a step. Every lifecycle step of an alert appends a row to
//! `alert_events` and, in the same transaction, a delivery row for each webhook that wants it.
//!
//! Invariant: `alert_events` ids become visible in allocation order (on PostgreSQL each writer
//! takes one advisory lock; on SQLite writers are serialised anyway), so a reader that follows
//! the ids (the event stream, resumed with `Last-Event-ID`) never skips an event.

use dothi_domain::{Actor, DomainError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{bind_all, Backend, Val, WriteTx};
use crate::error::{Result, StoreError};
use crate::reference::Snapshot;
use crate::time::{from_ms, now_ms};
use crate::Store;

/// PostgreSQL advisory lock key of the alert event log ("ALRT").
const EVENT_LOG_LOCK: i64 = 0x414C_5254;
/// The longest a rule's duration may be: a week.
pub const MAX_DURATION_S: i64 = 7 * 24 * 3600;

/// A comparison of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Lt => "<",
            Operator::Le => "<=",
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::Gt => value > threshold,
            Operator::Ge => value >= threshold,
            Operator::Lt => value < threshold,
            Operator::Le => value <= threshold,
        }
    }

    /// The threshold an alert clears against: moved by the hysteresis away from the alarm side.
    pub fn clear_threshold(self, threshold: f64, hysteresis: f64) -> f64 {
        match self {
            Operator::Gt | Operator::Ge => threshold - hysteresis,
            Operator::Lt | Operator::Le => threshold + hysteresis,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A text in both languages of the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub vi: String,
    pub en: String,
}

/// A threshold rule as the admin API defines it. Entity type and attribute names are expanded
/// IRIs (the HTTP layer expands short names with the NGSI-LD core context).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: Texts,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub entity_type: String,
    /// A regular expression the entity id must match (anywhere, unless anchored).
    #[serde(default)]
    pub id_pattern: Option<String>,
    pub attribute: String,
    pub operator: Operator,
    /// A fixed threshold; exactly one of this and `threshold_attribute` is set.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Another attribute of the same entity whose value is the threshold (a gauge's
    /// `alarmLevel2`).
    #[serde(default)]
    pub threshold_attribute: Option<String>,
    /// Seconds the condition must hold, by the readings' `observedAt`, before the rule raises.
    #[serde(default)]
    pub duration_s: i64,
    /// How far back past the threshold the value must go for the alert to clear.
    #[serde(default)]
    pub hysteresis: f64,
    pub severity: Severity,
    /// Code of the agency the alerts are routed to; none: IOC operators only.
    #[serde(default)]
    pub agency: Option<String>,
    /// Templates with `{entity}`, `{value}`, `{threshold}`, `{rule}`; none: a neutral default.
    #[serde(default)]
    pub message: Option<Texts>,
}

fn yes() -> bool {
    true
}

impl RuleSpec {
    /// What SQL and the engine need to hold: the NGSI-LD meaning (IRIs, the pattern's syntax)
    /// is checked by the caller. Also checks that the agency exists.
    pub fn check(&self, reference: &Snapshot) -> Result<()> {
        let invalid = |field: &str, message: &str| -> Result<()> {
            Err(DomainError::invalid(field, message).into())
        };
        for (field, text) in [("name.vi", &self.name.vi), ("name.en", &self.name.en)] {
            if text.trim().is_empty() || text.chars().count() > 200 {
                return invalid(field, "must have 1 to 200 characters");
            }
        }
        if let Some(m) = &self.message {
            for (field, text) in [("message.vi", &m.vi), ("message.en", &m.en)] {
                if text.trim().is_empty() || text.chars().count() > 1000 {
                    return invalid(field, "must have 1 to 1000 characters");
                }
            }
        }
        for (field, iri) in [
            ("entity_type", Some(&self.entity_type)),
            ("attribute", Some(&self.attribute)),
            ("threshold_attribute", self.threshold_attribute.as_ref()),
        ] {
            if let Some(iri) = iri {
                if iri.is_empty() || iri.len() > 500 || !iri.contains(':') {
                    return invalid(field, "must be an IRI of at most 500 characters");
                }
            }
        }
        match (self.threshold, &self.threshold_attribute) {
            (Some(t), None) if t.is_finite() => {}
            (Some(_), None) => return invalid("threshold", "must be a finite number"),
            (None, Some(_)) => {}
            _ => {
                return invalid(
                    "threshold",
                    "give exactly one of threshold and threshold_attribute",
                )
            }
        }
        if !(0..=MAX_DURATION_S).contains(&self.duration_s) {
            return invalid("duration_s", "must be between 0 and 604800 (a week)");
        }
        if !self.hysteresis.is_finite() || self.hysteresis < 0.0 {
            return invalid("hysteresis", "must be a finite number at least 0");
        }
        if let Some(code) = &self.agency {
            if reference.agency_by_code(code).is_none() {
                return invalid("agency", &format!("no agency has the code '{code}'"));
            }
        }
        Ok(())
    }

    /// The message of an alert in both languages, from the templates.
    pub fn render(&self, entity_id: &str, value: f64, threshold: f64) -> Texts {
        let template = self.message.clone().unwrap_or_else(|| Texts {
            vi: "{rule}: {entity} = {value} ({threshold})".into(),
            en: "{rule}: {entity} = {value} ({threshold})".into(),
        });
        let fill = |t: &str, rule: &str| {
            t.replace("{entity}", entity_id)
                .replace("{value}", &number(value))
                .replace("{threshold}", &number(threshold))
                .replace("{rule}", rule)
        };
        Texts {
            vi: fill(&template.vi, &self.name.vi),
            en: fill(&template.en, &self.name.en),
        }
    }
}

/// A number as people write it: no trailing `.0`, at most 3 decimals.
fn number(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub spec: RuleSpec,
    pub created_at: i64,
    pub modified_at: i64,
}

/// Where a (rule, entity) pair stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The condition does not hold (or the alert has cleared).
    Normal,
    /// The condition holds since `since`, not yet for the rule's duration.
    Pending,
    /// The rule raised; it stays here until the value goes back past the clear threshold.
    Firing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Normal => "normal",
            Phase::Pending => "pending",
            Phase::Firing => "firing",
        }
    }

    fn parse(s: &str) -> Phase {
        match s {
            "pending" => Phase::Pending,
            "firing" => Phase::Firing,
            _ => Phase::Normal,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleState {
    pub rule_id: i64,
    pub entity_id: String,
    pub phase: Phase,
    /// When the condition began to hold (observedAt, epoch ms).
    pub since: Option<i64>,
    pub last_value: Option<f64>,
    pub last_threshold: Option<f64>,
    pub last_observed: Option<i64>,
    /// The alert raised while firing.
    pub alert_id: Option<i64>,
}

impl RuleState {
    pub fn normal(rule_id: i64, entity_id: &str) -> Self {
        RuleState {
            rule_id,
            entity_id: entity_id.to_string(),
            phase: Phase::Normal,
            since: None,
            last_value: None,
            last_threshold: None,
            last_observed: None,
            alert_id: None,
        }
    }
}

/// An alert the engine raises.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    pub rule_id: i64,
    pub rule_name: Texts,
    pub entity_id: String,
    pub attribute: String,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub since: i64,
    pub observed_at: i64,
    pub agency_id: Option<i64>,
    pub message: Texts,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    None,
    /// Create the alert; the state's `alert_id` becomes its id.
    Raise(Box<NewAlert>),
    /// Resolve the state's alert (if still open or acknowledged) as "system".
    Clear,
}

/// One decision of the engine: the pair's new state and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct StateWrite {
    pub state: RuleState,
    pub action: StepAction,
}

/// What the engine writes in one transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineCommit {
    /// Applied in order.
    pub writes: Vec<StateWrite>,
    /// Entities deleted: their states are forgotten.
    pub forget_entities: Vec<String>,
    /// The change-log cursor (name, sequence number) reached.
    pub cursor: Option<(String, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        [
            AlertStatus::Open,
            AlertStatus::Acknowledged,
            AlertStatus::Resolved,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: Texts,
    pub entity_id: String,
    pub attribute: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub value: f64,
    pub threshold: f64,
    pub since: i64,
    pub observed_at: i64,
    pub raised_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub agency_id: Option<i64>,
    pub message: Texts,
    pub note: Option<String>,
}

fn iso(ms: i64) -> String {
    dothi_calendar::format_vn(from_ms(ms))
}

impl Alert {
    /// The alert as every channel shows it (API, event stream, webhooks): times in ISO 8601
    /// with the +07:00 offset, the agency as `{code, name}`.
    pub fn to_json(&self, reference: &Snapshot) -> Value {
        let agency = self
            .agency_id
            .and_then(|id| reference.agency(id))
            .map(|a| json!({"code": a.code, "name": a.name}));
        json!({
            "id": self.id,
            "rule": {"id": self.rule_id, "name": {"vi": self.rule_name.vi, "en": self.rule_name.en}},
            "entity_id": self.entity_id,
            "attribute": self.attribute,
            "severity": self.severity.as_str(),
            "status": self.status.as_str(),
            "value": self.value,
            "threshold": self.threshold,
            "since": iso(self.since),
            "observed_at": iso(self.observed_at),
            "raised_at": iso(self.raised_at),
            "acknowledged_at": self.acknowledged_at.map(iso),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": self.resolved_at.map(iso),
            "resolved_by": self.resolved_by,
            "agency": agency,
            "message": {"vi": self.message.vi, "en": self.message.en},
            "note": self.note,
        })
    }
}

/// A lifecycle step of an alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent {
    pub id: i64,
    pub alert_id: i64,
    /// raised, acknowledged or resolved.
    pub kind: String,
    /// The alert as shown right after the step ([`Alert::to_json`]).
    pub alert: Value,
    pub at: i64,
}

pub const EVENT_KINDS: [&str; 3] = ["raised", "acknowledged", "resolved"];

#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub severity: Option<Severity>,
    pub agency_id: Option<i64>,
    /// Raised at or after (epoch ms).
    pub since: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
    /// Event kinds; empty: all.
    pub events: Vec<String>,
    pub agency: Option<String>,
    pub description: Option<String>,
}

/// A webhook as the admin API shows it (never its secret).
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub agency_id: Option<i64>,
    pub description: Option<String>,
    pub created_at: i64,
    pub last_success_at: Option<i64>,
    pub last_failure_at: Option<i64>,
    pub last_error: Option<String>,
    /// Deliveries waiting in the outbox.
    pub pending: i64,
}

/// A delivery the webhook worker should attempt now.
#[derive(Clone, Debug, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: i64,
    pub kind: String,
    pub alert: Value,
    pub attempts: i64,
}

const RULE_COLUMNS: &str = "id, spec, created_at, modified_at";
const STATE_COLUMNS: &str =
    "rule_id, entity_id, state, since, last_value, last_threshold, last_observed, alert_id";
const ALERT_COLUMNS: &str = "id, rule_id, rule_name, rule_name_en, entity_id, attribute, \
    severity, status, value, threshold, since, observed_at, raised_at, acknowledged_at, \
    acknowledged_by, resolved_at, resolved_by, agency_id, message_vi, message_en, note";
const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.events, w.agency_id, w.description, \
    w.created_at, w.last_success_at, w.last_failure_at, w.last_error, \
    (SELECT COUNT(*) FROM alert_webhook_deliveries d WHERE d.webhook_id = w.id)";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("{what} is stored unreadable: {e}").into(),
    ))
}

fn rule_of(r: &AnyRow) -> Result<Rule> {
    let spec: String = r.get(1);
    Ok(Rule {
        id: r.get(0),
        spec: serde_json::from_str(&spec).map_err(|e| corrupt("an alert rule", e))?,
        created_at: r.get(2),
        modified_at: r.get(3),
    })
}

fn state_of(r: &AnyRow) -> RuleState {
    RuleState {
        rule_id: r.get(0),
        entity_id: r.get(1),
        phase: Phase::parse(&r.get::<String, _>(2)),
        since: r.get(3),
        last_value: r.get(4),
        last_threshold: r.get(5),
        last_observed: r.get(6),
        alert_id: r.get(7),
    }
}

fn alert_of(r: &AnyRow) -> Result<Alert> {
    let severity: String = r.get(6);
    let status: String = r.get(7);
    Ok(Alert {
        id: r.get(0),
        rule_id: r.get(1),
        rule_name: Texts {
            vi: r.get(2),
            en: r.get(3),
        },
        entity_id: r.get(4),
        attribute: r.get(5),
        severity: Severity::parse(&severity).ok_or_else(|| corrupt("a severity", &severity))?,
        status: AlertStatus::parse(&status).ok_or_else(|| corrupt("a status", &status))?,
        value: r.get(8),
        threshold: r.get(9),
        since: r.get(10),
        observed_at: r.get(11),
        raised_at: r.get(12),
        acknowledged_at: r.get(13),
        acknowledged_by: r.get(14),
        resolved_at: r.get(15),
        resolved_by: r.get(16),
        agency_id: r.get(17),
        message: Texts {
            vi: r.get(18),
            en: r.get(19),
        },
        note: r.get(20),
    })
}

fn webhook_of(r: &AnyRow) -> Webhook {
    let events: String = r.get(2);
    Webhook {
        id: r.get(0),
        url: r.get(1),
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        agency_id: r.get(3),
        description: r.get(4),
        created_at: r.get(5),
        last_success_at: r.get(6),
        last_failure_at: r.get(7),
        last_error: r.get(8),
        pending: r.get(9),
    }
}

/// Who may see alerts: IOC staff see all; agency staff those of their agency; no one else.
/// Returns the agency the caller is limited to.
fn scope(actor: &Actor) -> Result<Option<i64>> {
    if actor.is_ioc() {
        return Ok(None);
    }
    match (actor.role, actor.agency_id) {
        (Some(dothi_domain::Role::AgencyStaff), Some(agency)) => Ok(Some(agency)),
        _ => Err(DomainError::forbidden("only IOC and agency staff may see alerts").into()),
    }
}

fn to_json_text(v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt("a value", e))
}

/// Appends an event for `alert` and queues it for each webhook that wants it.
async fn append_event(
    conn: &mut AnyConnection,
    backend: Backend,
    reference: &Snapshot,
    alert: &Alert,
    kind: &str,
    at: i64,
) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(EVENT_LOG_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let body = alert.to_json(reference).to_string();
    let event_id: i64 = sqlx::query(
        "INSERT INTO alert_events (alert_id, kind, agency_id, alert, at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(alert.id)
    .bind(kind)
    .bind(alert.agency_id)
    .bind(body)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?
    .get(0);
    sqlx::query(
        "INSERT INTO alert_webhook_deliveries (webhook_id, event_id, attempts, next_attempt_at, \
         created_at) SELECT id, $1, 0, $2, $2 FROM alert_webhooks \
         WHERE events LIKE $3 AND (agency_id IS NULL OR agency_id = $4)",
    )
    .bind(event_id)
    .bind(at)
    .bind(format!("%,{kind},%"))
    .bind(alert.agency_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn alert_in(conn: &mut AnyConnection, id: i64) -> Result<Option<Alert>> {
    let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(alert_of).transpose()
}

/// Resolves an open or acknowledged alert; None when it is already resolved or absent.
async fn resolve_in(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    note: Option<&str>,
    at: i64,
) -> Result<Option<Alert>> {
    let row = sqlx::query(&format!(
        "UPDATE alerts SET status = 'resolved', resolved_at = $2, resolved_by = $3, \
         note = COALESCE($4, note) WHERE id = $1 AND status <> 'resolved' \
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(id)
    .bind(at)
    .bind(by)
    .bind(note)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(alert_of).transpose()
}

async fn upsert_state(conn: &mut AnyConnection, s: &RuleState) -> Result<()> {
    let vals = vec![
        Val::I(s.rule_id),
        Val::S(s.entity_id.clone()),
        Val::S(s.phase.as_str().into()),
        Val::OptI(s.since),
        Val::OptF(s.last_value),
        Val::OptF(s.last_threshold),
        Val::OptI(s.last_observed),
        Val::OptI(s.alert_id),
    ];
    // The rule may have been deleted meanwhile: then there is nothing to keep.
    let sql = format!(
        "INSERT INTO alert_rule_states ({STATE_COLUMNS}) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS \
         (SELECT 1 FROM alert_rules WHERE id = $1) \
         ON CONFLICT (rule_id, entity_id) DO UPDATE SET state = excluded.state, \
         since = excluded.since, last_value = excluded.last_value, \
         last_threshold = excluded.last_threshold, last_observed = excluded.last_observed, \
         alert_id = excluded.alert_id"
    );
    // Not cached: sqlx's Any driver declares a NULL f64 as float4 on PostgreSQL, and a cached
    // statement would then refuse the next state's number.
    bind_all(sqlx::query(&sql).persistent(false), &vals)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    // --- Rules ---

    pub async fn alert_rules(&self) -> Result<Vec<Rule>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id"
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(rule_of).collect()
    }

    pub async fn alert_rule(&self, id: i64) -> Result<Rule> {
        let row = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        match row {
            Some(r) => rule_of(&r),
            None => Err(DomainError::not_found(format!("alert rule {id}")).into()),
        }
    }

    pub async fn alert_rule_create(&self, actor: &Actor, spec: &RuleSpec) -> Result<Rule> {
        actor.require_admin()?;
        spec.check(&self.reference())?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO alert_rules (spec, created_at, modified_at) VALUES ($1, $2, $2) \
             RETURNING {RULE_COLUMNS}"
        ))
        .bind(to_json_text(spec)?)
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        let rule = rule_of(&row)?;
        tx.commit().await?;
        Ok(rule)
    }

    /// Replaces the definition. The pairs' states stay: a pending duration goes on, and a
    /// firing pair still clears its alert, now against the new definition.
    pub async fn alert_rule_update(&self, actor: &Actor, id: i64, spec: &RuleSpec) -> Result<Rule> {
        actor.require_admin()?;
        spec.check(&self.reference())?;
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE alert_rules SET spec = $2, modified_at = $3 WHERE id = $1 \
             RETURNING {RULE_COLUMNS}"
        ))
        .bind(id)
        .bind(to_json_text(spec)?)
        .bind(now_ms())
        .fetch_optional(tx.conn())
        .await?;
        let rule = match row {
            Some(r) => rule_of(&r)?,
            None => return Err(DomainError::not_found(format!("alert rule {id}")).into()),
        };
        if !spec.enabled {
            // A disabled rule starts afresh when enabled again; its open alerts stay open.
            sqlx::query("DELETE FROM alert_rule_states WHERE rule_id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok(rule)
    }

    /// Deletes the rule and its states; the alerts it raised stay, for the record.
    pub async fn alert_rule_delete(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM alert_rule_states WHERE rule_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        let n = sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(DomainError::not_found(format!("alert rule {id}")).into());
        }
        tx.commit().await
    }

    // --- Engine ---

    /// The states of every rule for these entities.
    pub async fn alert_states_for(&self, entity_ids: &[String]) -> Result<Vec<RuleState>> {
        let mut out = Vec::new();
        for chunk in entity_ids.chunks(500) {
            let list = crate::reports::placeholders(1, chunk.len(), 1);
            let vals: Vec<Val> = chunk.iter().map(|s| Val::S(s.clone())).collect();
            let sql =
                format!("SELECT {STATE_COLUMNS} FROM alert_rule_states WHERE entity_id IN {list}");
            let rows = bind_all(sqlx::query(&sql), &vals)
                .fetch_all(&self.db.pool)
                .await?;
            out.extend(rows.iter().map(state_of));
        }
        Ok(out)
    }

    /// Pending states whose condition began at or before `since_at_most`.
    pub async fn alert_states_pending(&self, since_at_most: i64) -> Result<Vec<RuleState>> {
        let rows = sqlx::query(&format!(
            "SELECT {STATE_COLUMNS} FROM alert_rule_states \
             WHERE state = 'pending' AND since <= $1 ORDER BY since"
        ))
        .bind(since_at_most)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(state_of).collect())
    }

    /// Writes the engine's decisions, and its change-log position, in one transaction.
    /// Returns the events written.
    pub async fn alerts_engine_commit(&self, commit: &EngineCommit) -> Result<Vec<i64>> {
        let reference = self.reference();
        let backend = self.db.backend;
        let now = now_ms();
        let mut tx: WriteTx = self.db.begin_write().await?;
        let mut alerts = Vec::new();
        for entity in &commit.forget_entities {
            sqlx::query("DELETE FROM alert_rule_states WHERE entity_id = $1")
                .bind(entity)
                .execute(tx.conn())
                .await?;
        }
        for write in &commit.writes {
            let mut state = write.state.clone();
            match &write.action {
                StepAction::None => {}
                StepAction::Raise(new) => {
                    let alive: Option<i64> =
                        sqlx::query("SELECT id FROM alert_rules WHERE id = $1")
                            .bind(new.rule_id)
                            .fetch_optional(tx.conn())
                            .await?
                            .map(|r| r.get(0));
                    if alive.is_none() {
                        continue;
                    }
                    let row = sqlx::query(&format!(
                        "INSERT INTO alerts (rule_id, rule_name, rule_name_en, entity_id, \
                         attribute, severity, status, value, threshold, since, observed_at, \
                         raised_at, agency_id, message_vi, message_en) VALUES ($1, $2, $3, $4, \
                         $5, $6, 'open', $7, $8, $9, $10, $11, $12, $13, $14) \
                         RETURNING {ALERT_COLUMNS}"
                    ))
                    .bind(new.rule_id)
                    .bind(&new.rule_name.vi)
                    .bind(&new.rule_name.en)
                    .bind(&new.entity_id)
                    .bind(&new.attribute)
                    .bind(new.severity.as_str())
                    .bind(new.value)
                    .bind(new.threshold)
                    .bind(new.since)
                    .bind(new.observed_at)
                    .bind(now)
                    .bind(new.agency_id)
                    .bind(&new.message.vi)
                    .bind(&new.message.en)
                    .fetch_one(tx.conn())
                    .await?;
                    let alert = alert_of(&row)?;
                    append_event(tx.conn(), backend, &reference, &alert, "raised", now).await?;
                    state.alert_id = Some(alert.id);
                    alerts.push(alert.id);
                }
                StepAction::Clear => {
                    let current: Option<Option<i64>> = sqlx::query(
                        "SELECT alert_id FROM alert_rule_states \
                         WHERE rule_id = $1 AND entity_id = $2",
                    )
                    .bind(state.rule_id)
                    .bind(&state.entity_id)
                    .fetch_optional(tx.conn())
                    .await?
                    .map(|r| r.get(0));
                    if let Some(Some(alert_id)) = current {
                        if let Some(alert) =
                            resolve_in(tx.conn(), alert_id, "system", None, now).await?
                        {
                            append_event(tx.conn(), backend, &reference, &alert, "resolved", now)
                                .await?;
                        }
                    }
                    state.alert_id = None;
                }
            }
            upsert_state(tx.conn(), &state).await?;
        }
        if let Some((name, seq)) = &commit.cursor {
            sqlx::query(
                "INSERT INTO ngsild_cursors (name, seq) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            )
            .bind(name)
            .bind(*seq)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(alerts)
    }

    // --- Alerts ---

    pub async fn alerts_list(&self, actor: &Actor, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let limited_to = scope(actor)?;
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
        let mut vals = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, v: Val| {
            vals.push(v);
            sql.push_str(&format!(" AND {clause} ${}", vals.len()));
        };
        if let Some(agency) = limited_to {
            cond(&mut sql, "agency_id =", Val::I(agency));
        }
        if let Some(agency) = filter.agency_id {
            cond(&mut sql, "agency_id =", Val::I(agency));
        }
        if let Some(s) = filter.status {
            cond(&mut sql, "status =", Val::S(s.as_str().into()));
        }
        if let Some(s) = filter.severity {
            cond(&mut sql, "severity =", Val::S(s.as_str().into()));
        }
        if let Some(t) = filter.since {
            cond(&mut sql, "raised_at >=", Val::I(t));
        }
        vals.push(Val::I(filter.limit));
        vals.push(Val::I(filter.offset));
        sql.push_str(&format!(
            " ORDER BY raised_at DESC, id DESC LIMIT ${} OFFSET ${}",
            vals.len() - 1,
            vals.len()
        ));
        let rows = bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(alert_of).collect()
    }

    /// One alert, if the actor may see it (others get "not found", which tells them nothing).
    pub async fn alert(&self, actor: &Actor, id: i64) -> Result<Alert> {
        let limited_to = scope(actor)?;
        let mut conn = self.db.pool.acquire().await?;
        match alert_in(&mut conn, id).await? {
            Some(a) if limited_to.is_none() || limited_to == a.agency_id => Ok(a),
            _ => Err(DomainError::not_found(format!("alert {id}")).into()),
        }
    }

    /// open → acknowledged; anything else is a conflict.
    pub async fn alert_acknowledge(
        &self,
        actor: &Actor,
        id: i64,
        note: Option<&str>,
    ) -> Result<Alert> {
        self.alert(actor, id).await?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2, \
             acknowledged_by = $3, note = COALESCE($4, note) WHERE id = $1 AND status = 'open' \
             RETURNING {ALERT_COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(&actor.label)
        .bind(note)
        .fetch_optional(tx.conn())
        .await?;
        let Some(alert) = row.as_ref().map(alert_of).transpose()? else {
            let status = alert_in(tx.conn(), id)
                .await?
                .map(|a| a.status.as_str())
                .unwrap_or("deleted");
            return Err(DomainError::Conflict(format!(
                "only an open alert can be acknowledged; alert {id} is {status}"
            ))
            .into());
        };
        append_event(
            tx.conn(),
            self.db.backend,
            &self.reference(),
            &alert,
            "acknowledged",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(alert)
    }

    /// open or acknowledged → resolved; a resolved alert is a conflict.
    pub async fn alert_resolve(&self, actor: &Actor, id: i64, note: Option<&str>) -> Result<Alert> {
        self.alert(actor, id).await?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let Some(alert) = resolve_in(tx.conn(), id, &actor.label, note, now).await? else {
            return Err(DomainError::Conflict(format!("alert {id} is already resolved")).into());
        };
        append_event(
            tx.conn(),
            self.db.backend,
            &self.reference(),
            &alert,
            "resolved",
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(alert)
    }

    /// Events after `after`, oldest first, that the actor may see.
    pub async fn alert_events_after(
        &self,
        actor: &Actor,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AlertEvent>> {
        let limited_to = scope(actor)?;
        let rows = sqlx::query(
            "SELECT id, alert_id, kind, alert, at FROM alert_events \
             WHERE id > $1 AND ($2 IS NULL OR agency_id = $2) ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(limited_to)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let alert: String = r.get(3);
                Ok(AlertEvent {
                    id: r.get(0),
                    alert_id: r.get(1),
                    kind: r.get(2),
                    alert: serde_json::from_str(&alert)
                        .map_err(|e| corrupt("an alert event", e))?,
                    at: r.get(4),
                })
            })
            .collect()
    }

    /// The newest event id, 0 when there is none.
    pub async fn alert_last_event_id(&self) -> Result<i64> {
        let n: Option<i64> = sqlx::query("SELECT MAX(id) FROM alert_events")
            .fetch_one(&self.db.pool)
            .await?
            .get(0);
        Ok(n.unwrap_or(0))
    }

    // --- Webhooks ---

    pub async fn alert_webhook_create(&self, actor: &Actor, new: &NewWebhook) -> Result<Webhook> {
        actor.require_admin()?;
        let agency_id = match &new.agency {
            Some(code) => Some(
                self.reference()
                    .agency_by_code(code)
                    .map(|a| a.id)
                    .ok_or_else(|| {
                        DomainError::invalid("agency", format!("no agency has the code '{code}'"))
                    })?,
            ),
            None => None,
        };
        for kind in &new.events {
            if !EVENT_KINDS.contains(&kind.as_str()) {
                return Err(DomainError::invalid(
                    "events",
                    format!("'{kind}' is not one of raised, acknowledged, resolved"),
                )
                .into());
            }
        }
        let events: Vec<&str> = if new.events.is_empty() {
            EVENT_KINDS.to_vec()
        } else {
            EVENT_KINDS
                .into_iter()
                .filter(|k| new.events.iter().any(|e| e == k))
                .collect()
        };
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO alert_webhooks (url, secret, events, agency_id, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.url)
        .bind(&new.secret)
        .bind(format!(",{},", events.join(",")))
        .bind(agency_id)
        .bind(&new.description)
        .bind(now_ms())
        .fetch_one(tx.conn())
        .await?
        .get(0);
        tx.commit().await?;
        self.alert_webhook(actor, id).await
    }

    pub async fn alert_webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>> {
        actor.require_admin()?;
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks w ORDER BY w.id"
        ))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(webhook_of).collect())
    }

    pub async fn alert_webhook(&self, actor: &Actor, id: i64) -> Result<Webhook> {
        actor.require_admin()?;
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks w WHERE w.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.as_ref()
            .map(webhook_of)
            .ok_or_else(|| DomainError::not_found(format!("webhook {id}")).into())
    }

    /// Deletes the webhook and the deliveries still waiting for it.
    pub async fn alert_webhook_delete(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM alert_webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        let n = sqlx::query("DELETE FROM alert_webhooks WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(DomainError::not_found(format!("webhook {id}")).into());
        }
        tx.commit().await
    }

    /// Deliveries due at `now`, oldest first.
    pub async fn alert_deliveries_due(&self, now: i64, limit: i64) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, w.url, w.secret, d.event_id, e.kind, e.alert, d.attempts \
             FROM alert_webhook_deliveries d JOIN alert_webhooks w ON w.id = d.webhook_id \
             JOIN alert_events e ON e.id = d.event_id \
             WHERE d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let alert: String = r.get(6);
                Ok(DueDelivery {
                    id: r.get(0),
                    webhook_id: r.get(1),
                    url: r.get(2),
                    secret: r.get(3),
                    event_id: r.get(4),
                    kind: r.get(5),
                    alert: serde_json::from_str(&alert)
                        .map_err(|e| corrupt("an alert event", e))?,
                    attempts: r.get(7),
                })
            })
            .collect()
    }

    /// The receiver took the delivery: it leaves the outbox.
    pub async fn alert_delivery_done(&self, delivery: &DueDelivery, now: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM alert_webhook_deliveries WHERE id = $1")
            .bind(delivery.id)
            .execute(tx.conn())
            .await?;
        sqlx::query("UPDATE alert_webhooks SET last_success_at = $2 WHERE id = $1")
            .bind(delivery.webhook_id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// The attempt failed: try again at `next_at`.
    pub async fn alert_delivery_failed(
        &self,
        delivery: &DueDelivery,
        next_at: i64,
        error: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE alert_webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id = $1",
        )
        .bind(delivery.id)
        .bind(next_at)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "UPDATE alert_webhooks SET last_failure_at = $2, last_error = $3 WHERE id = $1",
        )
        .bind(delivery.webhook_id)
        .bind(now)
        .bind(error.chars().take(500).collect::<String>())
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The earliest time a delivery is due, if any is waiting.
    pub async fn alert_next_delivery_at(&self) -> Result<Option<i64>> {
        let n: Option<i64> =
            sqlx::query("SELECT MIN(next_attempt_at) FROM alert_webhook_deliveries")
                .fetch_one(&self.db.pool)
                .await?
                .get(0);
        Ok(n)
    }
}
