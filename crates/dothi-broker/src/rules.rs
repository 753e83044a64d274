//! The threshold-rules engine: follows the NGSI-LD change log and raises and clears alerts
//! (issue 4, item 6; the semantics are in docs/ALERTS.md).
//!
//! A rule watches one numeric attribute of the entities of one type. For each (rule, entity)
//! pair the engine keeps a state — normal, pending (the condition holds, not yet for the rule's
//! duration) or firing (an alert was raised) — in storage. Durations are measured on the
//! readings' `observedAt`, so a replayed or late batch of readings is judged by when things
//! happened, not by when they arrived; a periodic tick also raises pending pairs whose duration
//! has elapsed on the wall clock without a new reading (a gauge that reports every 15 minutes
//! still raises a 10-minute rule on time).
//!
//! Invariant: every batch of decisions is written together with the change-log position it
//! reached ([`Store::alerts_engine_commit`]), so a restart neither skips nor repeats a change.
//! Run one engine per database: two would both raise.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dothi_ngsild::document::parse_time;
use dothi_ngsild::entity::{Attribute, Entity};
use dothi_store::alerts::{
    EngineCommit, NewAlert, Phase, Rule, RuleSpec, RuleState, StateWrite, StepAction,
};
use dothi_store::{Store, StoreError};
use regex::Regex;

use crate::Broker;

/// The engine's change-log cursor name.
pub const CURSOR: &str = "rules";
/// Changes read per transaction.
const BATCH: u32 = 500;
/// How often pending pairs are checked against the wall clock.
pub const TICK: Duration = Duration::from_secs(5);
/// The longest the engine sleeps without looking at the change log: entity writes of this
/// process wake it at once, writes of another instance within this delay.
const POLL: Duration = Duration::from_millis(250);

/// A rule with its id pattern compiled.
struct Compiled {
    rule: Rule,
    pattern: Option<Regex>,
}

impl Compiled {
    fn applies_to(&self, entity: &Entity) -> bool {
        let spec = &self.rule.spec;
        spec.enabled
            && entity.types.contains(&spec.entity_type)
            && self.pattern.as_ref().is_none_or(|p| p.is_match(&entity.id))
    }
}

/// One reading of a rule's attribute, with the threshold that applies to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub value: f64,
    pub threshold: f64,
    /// `observedAt` in epoch ms (the instance's modification time when it has none).
    pub observed: i64,
}

/// The next state of a pair given a new reading, and what to do. Pure: the engine's whole
/// judgement is here.
pub fn step(spec: &RuleSpec, state: &RuleState, reading: Reading) -> (RuleState, StepAction) {
    let mut next = RuleState {
        last_value: Some(reading.value),
        last_threshold: Some(reading.threshold),
        last_observed: Some(reading.observed),
        ..state.clone()
    };
    let holds = spec.operator.holds(reading.value, reading.threshold);
    match state.phase {
        Phase::Normal | Phase::Pending if holds => {
            let since = match (state.phase, state.since) {
                (Phase::Pending, Some(since)) => since,
                _ => reading.observed,
            };
            next.since = Some(since);
            if reading.observed - since >= spec.duration_s * 1000 {
                next.phase = Phase::Firing;
                let action = raise(
                    spec,
                    state,
                    reading.value,
                    reading.threshold,
                    since,
                    reading.observed,
                );
                (next, action)
            } else {
                next.phase = Phase::Pending;
                (next, StepAction::None)
            }
        }
        Phase::Normal | Phase::Pending => {
            next.phase = Phase::Normal;
            next.since = None;
            (next, StepAction::None)
        }
        Phase::Firing => {
            let clear_at = spec
                .operator
                .clear_threshold(reading.threshold, spec.hysteresis);
            if spec.operator.holds(reading.value, clear_at) {
                (next, StepAction::None)
            } else {
                next.phase = Phase::Normal;
                next.since = None;
                (next, StepAction::Clear)
            }
        }
    }
}

fn raise(
    spec: &RuleSpec,
    state: &RuleState,
    value: f64,
    threshold: f64,
    since: i64,
    observed_at: i64,
) -> StepAction {
    StepAction::Raise(Box::new(NewAlert {
        rule_id: state.rule_id,
        rule_name: spec.name.clone(),
        entity_id: state.entity_id.clone(),
        attribute: spec.attribute.clone(),
        severity: spec.severity,
        value,
        threshold,
        since,
        observed_at,
        // Resolved by the engine before writing (it needs the reference data).
        agency_id: None,
        message: spec.render(&state.entity_id, value, threshold),
    }))
}

/// The default instance of an attribute (or its first instance when none is the default).
fn instance<'a>(entity: &'a Entity, iri: &str) -> Option<&'a Attribute> {
    let instances = entity.attributes.get(iri)?;
    instances
        .iter()
        .find(|a| a.dataset_id.is_none())
        .or(instances.first())
}

/// The reading a rule takes from an entity, if the entity has a numeric value and threshold.
pub fn reading(spec: &RuleSpec, entity: &Entity) -> Option<Reading> {
    let attribute = instance(entity, &spec.attribute)?;
    let value = attribute.value.as_f64()?;
    let threshold = match (&spec.threshold, &spec.threshold_attribute) {
        (Some(t), _) => *t,
        (None, Some(iri)) => instance(entity, iri)?.value.as_f64()?,
        (None, None) => return None,
    };
    let observed = attribute
        .observed_at
        .as_deref()
        .and_then(parse_time)
        .unwrap_or(attribute.modified_at);
    Some(Reading {
        value,
        threshold,
        observed,
    })
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct RulesEngine {
    broker: Broker,
}

impl RulesEngine {
    pub fn new(broker: Broker) -> Self {
        RulesEngine { broker }
    }

    fn store(&self) -> &Store {
        &self.broker.store
    }

    async fn rules(&self) -> Result<Vec<Compiled>, StoreError> {
        let rules = self.store().alert_rules().await?;
        Ok(rules
            .into_iter()
            .filter(|r| r.spec.enabled)
            .filter_map(|rule| {
                let pattern = match rule.spec.id_pattern.as_deref().map(Regex::new) {
                    None => None,
                    Some(Ok(p)) => Some(p),
                    Some(Err(e)) => {
                        // The admin API refuses bad patterns; this is a rule stored otherwise.
                        tracing::warn!(rule = rule.id, error = %e, "alert rule skipped: bad id_pattern");
                        return None;
                    }
                };
                Some(Compiled { rule, pattern })
            })
            .collect())
    }

    fn route(&self, mut action: StepAction, spec: &RuleSpec) -> StepAction {
        if let StepAction::Raise(new) = &mut action {
            new.agency_id = spec
                .agency
                .as_deref()
                .and_then(|code| self.store().reference().agency_by_code(code).map(|a| a.id));
        }
        action
    }

    /// Reads the change log from the engine's cursor to its end, one transaction per batch.
    /// Returns the number of changes read.
    pub async fn process_changes(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let after = self.store().ngsild_cursor_get(CURSOR).await?.unwrap_or(0);
            let changes = self.store().ngsild_changes_after(after, BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(total);
            };
            total += changes.len();
            let rules = self.rules().await?;
            let mut ids: Vec<String> = changes.iter().map(|c| c.entity_id.clone()).collect();
            ids.sort();
            ids.dedup();
            let mut states: HashMap<(i64, String), RuleState> = if rules.is_empty() {
                HashMap::new()
            } else {
                self.store()
                    .alert_states_for(&ids)
                    .await?
                    .into_iter()
                    .map(|s| ((s.rule_id, s.entity_id.clone()), s))
                    .collect()
            };
            let mut commit = EngineCommit {
                cursor: Some((CURSOR.to_string(), last)),
                ..Default::default()
            };
            for change in &changes {
                let Some(snapshot) = change.snapshot.as_deref() else {
                    states.retain(|(_, entity), _| *entity != change.entity_id);
                    commit.forget_entities.push(change.entity_id.clone());
                    continue;
                };
                let entity: Entity = match serde_json::from_str(snapshot) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(seq = change.seq, error = %e, "unreadable change skipped by the rules engine");
                        continue;
                    }
                };
                for compiled in rules.iter().filter(|c| c.applies_to(&entity)) {
                    let spec = &compiled.rule.spec;
                    let touched = change.op == "create"
                        || change.attrs.iter().any(|a| {
                            *a == spec.attribute || Some(a) == spec.threshold_attribute.as_ref()
                        });
                    let Some(reading) = reading(spec, &entity).filter(|_| touched) else {
                        continue;
                    };
                    let key = (compiled.rule.id, entity.id.clone());
                    let state = states
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| RuleState::normal(compiled.rule.id, &entity.id));
                    // A reading older than one already judged changes nothing.
                    if state.last_observed.is_some_and(|t| reading.observed < t) {
                        continue;
                    }
                    let (next, action) = step(spec, &state, reading);
                    if next == state && action == StepAction::None {
                        continue;
                    }
                    states.insert(key, next.clone());
                    commit.writes.push(StateWrite {
                        state: next,
                        action: self.route(action, spec),
                    });
                }
            }
            self.store().alerts_engine_commit(&commit).await?;
            if changes.len() < BATCH as usize {
                return Ok(total);
            }
        }
    }

    /// Raises the pending pairs whose duration has elapsed by `now_ms` with no reading since
    /// (the last reading still holds). Returns the number of alerts raised.
    pub async fn process_pending(&self, now_ms: i64) -> Result<usize, StoreError> {
        let pending = self.store().alert_states_pending(now_ms).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let rules: HashMap<i64, Compiled> = self
            .rules()
            .await?
            .into_iter()
            .map(|c| (c.rule.id, c))
            .collect();
        let mut commit = EngineCommit::default();
        for state in pending {
            let Some(compiled) = rules.get(&state.rule_id) else {
                continue;
            };
            let spec = &compiled.rule.spec;
            let (Some(since), Some(value), Some(threshold), Some(observed)) = (
                state.since,
                state.last_value,
                state.last_threshold,
                state.last_observed,
            ) else {
                continue;
            };
            if now_ms - since < spec.duration_s * 1000 || !spec.operator.holds(value, threshold) {
                continue;
            }
            let action = raise(spec, &state, value, threshold, since, observed);
            commit.writes.push(StateWrite {
                state: RuleState {
                    phase: Phase::Firing,
                    ..state
                },
                action: self.route(action, spec),
            });
        }
        let raised = commit.writes.len();
        if raised > 0 {
            self.store().alerts_engine_commit(&commit).await?;
        }
        Ok(raised)
    }

    /// Runs until the process ends: never stops on an error (it logs it and tries again).
    pub async fn run(self) {
        let mut changes = self.broker.changes.subscribe();
        let mut last_tick: Option<Instant> = None;
        loop {
            if let Err(e) = self.process_changes().await {
                tracing::warn!(error = %e, "rules engine: reading the change log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if last_tick.is_none_or(|t| t.elapsed() >= TICK) {
                last_tick = Some(Instant::now());
                match self.process_pending(crate::now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(raised = n, "rules engine: pending rules raised"),
                    Err(e) => tracing::warn!(error = %e, "rules engine: pending check failed"),
                }
            }
            // Woken at once by this process's entity writes; otherwise polls.
            let _ = tokio::time::timeout(POLL, changes.changed()).await;
        }
    }
}
