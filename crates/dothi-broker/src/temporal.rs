//! The NGSI-LD temporal API (ETSI GS CIM 009 §5.6.11–5.6.16, 5.7.3, 5.7.4): the temporal
//! evolution of entities, read from the attribute history that every entity change already
//! writes (`ngsild_history`, see [`crate::Broker::modify`]), and the temporal writes that add
//! to or delete from that history.
//!
//! Choices, documented in docs/NGSI-LD.md ("Temporal API"):
//! * Selection (ids, idPattern, type, `q`, geo-query) is evaluated on the *current* entity; the
//!   temporal query then keeps the entities that have instances of the asked attributes in the
//!   interval. An entity deleted from the current store is no longer found here, although its
//!   history stays until retention or `DELETE /temporal/entities/{id}`.
//! * `timeproperty=observedAt` (the default) reads the history on its index. An instance
//!   written without `observedAt` is in the history at its modification time, and is reported
//!   with that time as `observedAt`. `createdAt` and `modifiedAt` select and order the same
//!   instances by those members of theirs, which are not indexed: such a read decodes the whole
//!   history of the selected attributes. `deletedAt` reads the deletions that entity writes
//!   record (`ngsild_deletions`, see `record::deletions_of`).
//! * The scope (§4.18) has a temporal evolution too, kept in the history as the attribute
//!   `scope`: each instance is valid from its `observedAt` until the next one, or until the scope
//!   is deleted. `scopeQ` selects the entities whose scope matched while the interval lasted,
//!   and only their instances of that time (annex C.5.16); the representation shows the scope
//!   instances valid in the interval.
//! * Aggregation runs in SQL (`ngsild_aggregate`) over the numeric values; `distinctCount`
//!   reads the instances. Periods are aligned on `timeAt` when the query has a lower bound, on
//!   the first instance otherwise. Calendar durations (months, years) are refused.
//! * A temporal write to an absent entity also creates it in the current store, with the
//!   latest instance of each attribute, in the same transaction as its history; a temporal
//!   write to an existing entity only appends history.

use std::collections::{BTreeMap, HashMap, HashSet};

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, parse_time};
use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::scopeq::ScopeQuery;
use dothi_store::ngsild::{
    AggregateBucket, AggregateFilter, Aggregates, Change, ChangeNote, HistoryEntry, HistoryFilter,
    HistoryRow,
};
use serde_json::{Map, Value};

use crate::entities::SCOPE;
use crate::query::EntityQuery;
use crate::{not_found, now_ms, record, Broker, BrokerError, Result};

const MS_PER_DAY: i64 = 86_400_000;

/// A temporal relation (§4.11) as an interval `[from, to)` on `observedAt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRel {
    /// Strictly before `timeAt`.
    Before(i64),
    /// At or after `timeAt`.
    After(i64),
    /// From `timeAt` (inclusive) to `endTimeAt` (exclusive).
    Between(i64, i64),
}

impl TimeRel {
    /// Parses `timerel`, `timeAt` and `endTimeAt`. No `timerel` and no times: no restriction.
    pub fn parse(
        timerel: Option<&str>,
        time_at: Option<&str>,
        end_time_at: Option<&str>,
    ) -> Result<Option<TimeRel>> {
        let time = |name: &str, text: Option<&str>| -> Result<Option<i64>> {
            match text {
                None => Ok(None),
                Some(t) => parse_time(t).map(Some).ok_or_else(|| {
                    BrokerError::BadRequestData(format!(
                        "{name} must be an ISO 8601 date-time with an offset, e.g. \
                         2026-11-25T10:00:00+07:00; not {t}"
                    ))
                }),
            }
        };
        let at = time("timeAt", time_at)?;
        let end = time("endTimeAt", end_time_at)?;
        let need_at = |rel: &str| {
            at.ok_or_else(|| BrokerError::BadRequestData(format!("timerel={rel} needs timeAt")))
        };
        match timerel {
            None if at.is_none() && end.is_none() => Ok(None),
            None => Err(BrokerError::BadRequestData(
                "timeAt and endTimeAt need timerel (before, after or between)".into(),
            )),
            Some("before") => Ok(Some(TimeRel::Before(need_at("before")?))),
            Some("after") => Ok(Some(TimeRel::After(need_at("after")?))),
            Some("between") => {
                let at = need_at("between")?;
                let end = end.ok_or_else(|| {
                    BrokerError::BadRequestData("timerel=between needs endTimeAt".into())
                })?;
                if end <= at {
                    return Err(BrokerError::BadRequestData(
                        "timerel=between needs endTimeAt after timeAt".into(),
                    ));
                }
                Ok(Some(TimeRel::Between(at, end)))
            }
            Some(other) => Err(BrokerError::BadRequestData(format!(
                "timerel must be before, after or between, not {other}"
            ))),
        }
    }

    /// `[from, to)`, each bound optional.
    pub fn range(self) -> (Option<i64>, Option<i64>) {
        match self {
            TimeRel::Before(t) => (None, Some(t)),
            TimeRel::After(t) => (Some(t), None),
            TimeRel::Between(a, b) => (Some(a), Some(b)),
        }
    }
}

fn range_of(timerel: Option<TimeRel>) -> (Option<i64>, Option<i64>) {
    timerel.map_or((None, None), TimeRel::range)
}

/// `timeproperty` (§4.11): the time member of the instances that `timerel`, `lastN` and the
/// order apply to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeProperty {
    #[default]
    ObservedAt,
    CreatedAt,
    ModifiedAt,
    /// The deletions of attribute instances (and of the scope), not the instances.
    DeletedAt,
}

impl TimeProperty {
    pub fn parse(value: Option<&str>) -> Result<TimeProperty> {
        Ok(match value {
            None | Some("observedAt") => TimeProperty::ObservedAt,
            Some("createdAt") => TimeProperty::CreatedAt,
            Some("modifiedAt") => TimeProperty::ModifiedAt,
            Some("deletedAt") => TimeProperty::DeletedAt,
            Some(other) => {
                return Err(BrokerError::BadRequestData(format!(
                    "timeproperty must be observedAt, createdAt, modifiedAt or deletedAt, not \
                     {other}"
                )))
            }
        })
    }

    /// The member's name.
    pub fn name(self) -> &'static str {
        match self {
            TimeProperty::ObservedAt => "observedAt",
            TimeProperty::CreatedAt => "createdAt",
            TimeProperty::ModifiedAt => "modifiedAt",
            TimeProperty::DeletedAt => "deletedAt",
        }
    }
}

/// The aggregation methods of §4.5.19.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggrMethod {
    TotalCount,
    DistinctCount,
    Sum,
    Avg,
    Min,
    Max,
    Stddev,
    Sumsq,
}

impl AggrMethod {
    pub fn parse(name: &str) -> Option<AggrMethod> {
        Some(match name {
            "totalCount" => AggrMethod::TotalCount,
            "distinctCount" => AggrMethod::DistinctCount,
            "sum" => AggrMethod::Sum,
            "avg" => AggrMethod::Avg,
            "min" => AggrMethod::Min,
            "max" => AggrMethod::Max,
            "stddev" => AggrMethod::Stddev,
            "sumsq" => AggrMethod::Sumsq,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AggrMethod::TotalCount => "totalCount",
            AggrMethod::DistinctCount => "distinctCount",
            AggrMethod::Sum => "sum",
            AggrMethod::Avg => "avg",
            AggrMethod::Min => "min",
            AggrMethod::Max => "max",
            AggrMethod::Stddev => "stddev",
            AggrMethod::Sumsq => "sumsq",
        }
    }

    /// Also defined on Relationships (§4.5.19.1, table 4.5.19.1-3).
    fn applies_to_relationships(self) -> bool {
        matches!(self, AggrMethod::TotalCount | AggrMethod::DistinctCount)
    }
}

/// Parses the comma-separated `aggrMethods`, keeping the order given, without duplicates.
pub fn parse_aggr_methods(text: &str) -> Result<Vec<AggrMethod>> {
    let mut methods = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let method = AggrMethod::parse(name).ok_or_else(|| {
            BrokerError::BadRequestData(format!(
                "aggrMethods: {name} is not one of totalCount, distinctCount, sum, avg, min, \
                 max, stddev, sumsq"
            ))
        })?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    if methods.is_empty() {
        return Err(BrokerError::BadRequestData(
            "aggregatedValues needs aggrMethods, e.g. aggrMethods=avg,min,max".into(),
        ));
    }
    Ok(methods)
}

/// Parses an ISO 8601 duration (`aggrPeriodDuration`, §4.5.19.1) into milliseconds; 0 is the
/// whole time range of the query. Weeks, days, hours, minutes and (fractional) seconds are
/// fixed lengths; months and years are not, and are refused.
pub fn parse_duration(text: &str) -> Result<i64> {
    let bad = |why: &str| {
        BrokerError::BadRequestData(format!(
            "aggrPeriodDuration '{text}' {why}; use an ISO 8601 duration such as PT1H, P1D or \
             P1W"
        ))
    };
    let rest = text
        .strip_prefix('P')
        .ok_or_else(|| bad("does not start with P"))?;
    if rest.is_empty() || rest == "T" {
        return Err(bad("has no element"));
    }
    let mut total: f64 = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' if !in_time && number.is_empty() => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            unit => {
                let n: f64 = number
                    .parse()
                    .map_err(|_| bad("has an element without a number"))?;
                number.clear();
                any = true;
                let ms = match (in_time, unit) {
                    (false, 'Y') | (false, 'M') => {
                        return Err(bad(
                            "uses years or months, whose length varies; periods in months or \
                             years are not supported",
                        ))
                    }
                    (false, 'W') => 7.0 * MS_PER_DAY as f64,
                    (false, 'D') => MS_PER_DAY as f64,
                    (true, 'H') => 3_600_000.0,
                    (true, 'M') => 60_000.0,
                    (true, 'S') => 1_000.0,
                    _ => return Err(bad(&format!("has the unknown designator {unit}"))),
                };
                total += n * ms;
            }
        }
    }
    if !number.is_empty() || !any {
        return Err(bad("ends with a number without a designator"));
    }
    if !total.is_finite() || total > 1e15 {
        return Err(bad("is too long"));
    }
    Ok(total.round() as i64)
}

/// An aggregation: the methods, and the period length in milliseconds (0: the whole range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    pub methods: Vec<AggrMethod>,
    pub period_ms: i64,
}

/// What a temporal read returns of each selected entity.
#[derive(Debug, Clone, Default)]
pub struct TemporalRequest {
    /// Expanded attribute names; empty: every attribute.
    pub attrs: Vec<String>,
    pub timerel: Option<TimeRel>,
    /// Only the last N instances of each series (attribute instance with its datasetId).
    pub last_n: Option<u32>,
    /// Aggregated representation instead of instances.
    pub aggregation: Option<Aggregation>,
    /// Query results by descending id (`orderBy=id;desc`); ascending otherwise.
    pub descending: bool,
    /// Only the series of these datasetIds (None in the list: the default instance); None:
    /// every series.
    pub dataset_ids: Option<Vec<Option<String>>>,
    /// The time `timerel`, `lastN` and the order apply to.
    pub time_property: TimeProperty,
}

/// One instance of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct TemporalInstance {
    /// Stable identifier of the instance (`urn:ngsi-ld:instance:<history sequence>`, or
    /// `urn:ngsi-ld:instance:deletion-<n>` for a deletion).
    pub instance_id: String,
    /// Epoch milliseconds of the request's time property: observedAt (or the modification
    /// time of an instance without it), createdAt, modifiedAt or deletedAt.
    pub at: i64,
    pub attribute: Attribute,
}

/// One aggregation period of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatedPeriod {
    pub start: i64,
    pub end: i64,
    /// The value of each method asked that is defined for this period, in the order asked.
    pub values: Vec<(AggrMethod, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SeriesData {
    Instances(Vec<TemporalInstance>),
    Aggregated(Vec<AggregatedPeriod>),
}

/// The temporal evolution of one attribute instance (attribute + datasetId).
#[derive(Debug, Clone, PartialEq)]
pub struct TemporalSeries {
    pub attr: String,
    pub dataset_id: Option<String>,
    /// The attribute kind (from the current entity, else from the history).
    pub kind: AttributeKind,
    pub data: SeriesData,
}

/// The temporal representation of one entity: its identity from the current store, its
/// series ordered by attribute, then datasetId (default first), and the temporal evolution of
/// its scope (never aggregated).
#[derive(Debug, Clone, PartialEq)]
pub struct TemporalEntity {
    pub id: String,
    pub types: Vec<String>,
    pub scope: Option<TemporalSeries>,
    pub series: Vec<TemporalSeries>,
}

#[derive(Debug, Clone, Default)]
pub struct TemporalPage {
    pub entities: Vec<TemporalEntity>,
    pub total: Option<u64>,
    /// Set when the instance limit cut the answer (§6.3.10).
    pub range: Option<InstanceRange>,
}

/// The time range of the instances returned when the instance limit cut some series
/// (§6.3.10, `Content-Range: date-time start-end/size`): every instance of the selected series
/// in that range is in the answer. Forward reads (no lastN) go from `start` up to `end`;
/// lastN reads go from `start` down to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceRange {
    pub start: i64,
    pub end: i64,
    /// lastN when asked; None (`*`) otherwise.
    pub size: Option<u32>,
}

/// Cuts the series read with `limit` instances each at the time where the first of them ran
/// out, so that no instance inside the returned range is missing; None when no series
/// reached the limit.
fn paginate(
    by_entity: &mut HashMap<String, Vec<TemporalSeries>>,
    limit: u32,
    request: &TemporalRequest,
) -> Option<InstanceRange> {
    fn lists(
        by_entity: &HashMap<String, Vec<TemporalSeries>>,
    ) -> impl Iterator<Item = &Vec<TemporalInstance>> {
        by_entity.values().flatten().filter_map(|s| match &s.data {
            SeriesData::Instances(list) => Some(list),
            SeriesData::Aggregated(_) => None,
        })
    }
    let backward = request.last_n.is_some();
    let cut = {
        let reached: Vec<&Vec<TemporalInstance>> = lists(by_entity)
            .filter(|l| l.len() >= limit as usize)
            .collect();
        if backward {
            reached
                .iter()
                .filter_map(|l| l.first())
                .map(|i| i.at)
                .max()?
        } else {
            reached
                .iter()
                .filter_map(|l| l.last())
                .map(|i| i.at)
                .min()?
        }
    };
    for series in by_entity.values_mut().flatten() {
        if let SeriesData::Instances(list) = &mut series.data {
            list.retain(|i| if backward { i.at >= cut } else { i.at <= cut });
        }
    }
    let times = || lists(by_entity).flatten().map(|i| i.at);
    let (from, to) = range_of(request.timerel);
    Some(if backward {
        InstanceRange {
            start: to.or_else(|| times().max()).unwrap_or(cut),
            end: cut,
            size: request.last_n,
        }
    } else {
        InstanceRange {
            start: from.or_else(|| times().min()).unwrap_or(cut),
            end: cut,
            size: None,
        }
    })
}

type SeriesKey = (String, String, Option<String>);

/// Time intervals `[start, end)`, sorted and disjoint: when a scope matching `scopeQ` was
/// valid.
type Windows = Vec<(i64, i64)>;

fn inside(windows: &Windows, t: i64) -> bool {
    windows.iter().any(|(start, end)| *start <= t && t < *end)
}

impl Broker {
    /// Retrieve Temporal Evolution of an Entity (§5.7.3).
    pub async fn temporal_entity(
        &self,
        id: &str,
        request: &TemporalRequest,
    ) -> Result<(TemporalEntity, Option<InstanceRange>)> {
        let entity = self.entity(id).await?;
        let (mut found, range) = self.temporal_of(vec![entity], request, None).await?;
        Ok((found.pop().ok_or_else(|| not_found(id))?, range))
    }

    /// Query Temporal Evolution of Entities (§5.7.4). `query` selects on the current entities
    /// (its `attrs` is ignored: `request.attrs` selects on the history; its `scopeQ` applies
    /// to the scope's temporal evolution), then entities without instances in the interval are
    /// left out; `limit`, `offset` and `count` apply to the rest.
    pub async fn query_temporal(
        &self,
        query: &EntityQuery,
        request: &TemporalRequest,
        expand: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<TemporalPage> {
        let selection = EntityQuery {
            attrs: Vec::new(),
            limit: u32::MAX,
            offset: 0,
            count: false,
            scope_q: None,
            ..query.clone()
        };
        let mut candidates = self.query_entities(&selection, expand).await?.entities;
        // Ordered by id (§5.7.4.4: the only ordering a temporal query has).
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        if request.descending {
            candidates.reverse();
        }
        let (from, to) = range_of(request.timerel);
        let limit = query.limit as usize;
        let offset = query.offset as usize;
        if let Some(scope_q) = &query.scope_q {
            // §5.7.4.4, 4.19: the entities whose scope matched at some time of the interval,
            // with their instances of those times; these are read whole, then paged.
            let windows = self.scope_windows(&candidates, scope_q, from, to).await?;
            candidates.retain(|e| windows.contains_key(&e.id));
            let (entities, range) = self
                .temporal_of(candidates, request, Some(&windows))
                .await?;
            let selected: Vec<TemporalEntity> = entities
                .into_iter()
                .filter(|e| !e.series.is_empty())
                .collect();
            return Ok(TemporalPage {
                total: query.count.then_some(selected.len() as u64),
                entities: selected.into_iter().skip(offset).take(limit).collect(),
                range,
            });
        }
        // Which candidates have history in the interval: one indexed read per series, so that
        // only the page's instances are read in full.
        let selected: Vec<Entity> = if candidates.len() > limit || offset > 0 || query.count {
            let with_history: HashSet<String> = if candidates.is_empty() {
                HashSet::new()
            } else {
                let filter = HistoryFilter {
                    entity_ids: candidates.iter().map(|e| e.id.clone()).collect(),
                    attrs: request.attrs.clone(),
                    from,
                    to,
                    last_n: Some(1),
                    first_n: None,
                };
                self.read_rows(&filter, request.time_property)
                    .await?
                    .into_iter()
                    .filter(|row| row.attr != SCOPE)
                    .map(|row| row.entity_id)
                    .collect()
            };
            candidates
                .into_iter()
                .filter(|e| with_history.contains(&e.id))
                .collect()
        } else {
            candidates
        };
        let total = query.count.then_some(selected.len() as u64);
        let page: Vec<Entity> = selected.into_iter().skip(offset).take(limit).collect();
        let (entities, range) = self.temporal_of(page, request, None).await?;
        let entities = entities
            .into_iter()
            .filter(|e| !e.series.is_empty())
            .collect();
        Ok(TemporalPage {
            entities,
            total,
            range,
        })
    }

    /// The history rows `filter` selects on the request's time property: the history on its
    /// index (observedAt), the deletions (deletedAt), or the history re-timed by the
    /// instances' createdAt or modifiedAt (read whole: those times are not indexed). Rows are
    /// ordered by series, then time; `observed_at` holds the time.
    async fn read_rows(
        &self,
        filter: &HistoryFilter,
        time: TimeProperty,
    ) -> Result<Vec<HistoryRow>> {
        Ok(match time {
            TimeProperty::ObservedAt => self.store.ngsild_history(filter).await?,
            TimeProperty::DeletedAt => self.store.ngsild_deletions(filter).await?,
            TimeProperty::CreatedAt | TimeProperty::ModifiedAt => {
                let whole = HistoryFilter {
                    from: None,
                    to: None,
                    last_n: None,
                    first_n: None,
                    ..filter.clone()
                };
                retimed(self.store.ngsild_history(&whole).await?, filter, time)?
            }
        })
    }

    /// When the scope of each candidate matched `scope_q` within `[from, to)`: each scope
    /// instance is valid from its time until the next one or the scope's deletion (§4.18). An
    /// entity without scope history (written before it was recorded) has its current scope
    /// throughout. Entities that never matched are left out.
    async fn scope_windows(
        &self,
        candidates: &[Entity],
        scope_q: &ScopeQuery,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<HashMap<String, Windows>> {
        let mut out = HashMap::new();
        if candidates.is_empty() {
            return Ok(out);
        }
        let filter = HistoryFilter {
            entity_ids: candidates.iter().map(|e| e.id.clone()).collect(),
            attrs: vec![SCOPE.to_string()],
            ..Default::default()
        };
        // (time, set before removed at the same time, scopes), per entity.
        let mut events: HashMap<String, Vec<(i64, u8, Vec<String>)>> = HashMap::new();
        for row in self.store.ngsild_history(&filter).await? {
            let scopes = record::scopes_of(&decode(&row)?);
            events
                .entry(row.entity_id)
                .or_default()
                .push((row.observed_at, 0, scopes));
        }
        for row in self.store.ngsild_deletions(&filter).await? {
            events
                .entry(row.entity_id)
                .or_default()
                .push((row.observed_at, 1, Vec::new()));
        }
        let (lower, upper) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
        for entity in candidates {
            let mut list = events.remove(&entity.id).unwrap_or_default();
            list.sort_by_key(|(t, order, _)| (*t, *order));
            let valid: Windows = if list.is_empty() {
                vec![(i64::MIN, i64::MAX)]
                    .into_iter()
                    .filter(|_| scope_q.matches(&entity.scopes))
                    .collect()
            } else {
                list.iter()
                    .enumerate()
                    .filter(|(_, (_, _, scopes))| scope_q.matches(scopes))
                    .map(|(i, (t, _, _))| (*t, list.get(i + 1).map_or(i64::MAX, |next| next.0)))
                    .collect()
            };
            let mut windows: Windows = Vec::new();
            for (start, end) in valid {
                let (start, end) = (start.max(lower), end.min(upper));
                if start >= end {
                    continue;
                }
                match windows.last_mut() {
                    Some(last) if last.1 >= start => last.1 = last.1.max(end),
                    _ => windows.push((start, end)),
                }
            }
            if !windows.is_empty() {
                out.insert(entity.id.clone(), windows);
            }
        }
        Ok(out)
    }

    /// The scope instance of each entity that was valid at `at` (set before it, neither
    /// replaced nor deleted since then).
    async fn scopes_in_force(
        &self,
        ids: &[String],
        at: i64,
    ) -> Result<HashMap<String, HistoryRow>> {
        let filter = HistoryFilter {
            entity_ids: ids.to_vec(),
            attrs: vec![SCOPE.to_string()],
            to: Some(at),
            last_n: Some(1),
            ..Default::default()
        };
        let removed: HashMap<String, i64> = self
            .store
            .ngsild_deletions(&filter)
            .await?
            .into_iter()
            .map(|row| (row.entity_id, row.observed_at))
            .collect();
        Ok(self
            .store
            .ngsild_history(&filter)
            .await?
            .into_iter()
            .filter(|row| {
                removed
                    .get(&row.entity_id)
                    .is_none_or(|gone| *gone < row.observed_at)
            })
            .map(|row| (row.entity_id.clone(), row))
            .collect())
    }

    /// The temporal representation of `entities`, in their order. With `windows` (scopeQ),
    /// an entity's attribute instances are only those of its windows.
    async fn temporal_of(
        &self,
        entities: Vec<Entity>,
        request: &TemporalRequest,
        windows: Option<&HashMap<String, Windows>>,
    ) -> Result<(Vec<TemporalEntity>, Option<InstanceRange>)> {
        if entities.is_empty() {
            return Ok((Vec::new(), None));
        }
        // The instance limit (§6.3.10): a lastN within it is answered whole; otherwise each
        // series is read up to the limit, and the answer cut where the first one ran out.
        let server_limit = self.config.temporal_limit.max(1);
        let within = request.last_n.is_some_and(|n| n <= server_limit);
        let limit = request.last_n.filter(|_| within).unwrap_or(server_limit);
        let ids: Vec<String> = entities.iter().map(|e| e.id.clone()).collect();
        let (from, to) = range_of(request.timerel);
        let mut by_entity: HashMap<String, Vec<TemporalSeries>> = HashMap::new();
        let mut scopes: HashMap<String, TemporalSeries> = HashMap::new();
        match &request.aggregation {
            None => {
                // The scope is no attribute: `attrs` does not leave it out.
                let mut attrs = request.attrs.clone();
                if !attrs.is_empty() {
                    attrs.push(SCOPE.to_string());
                }
                let filter = HistoryFilter {
                    entity_ids: ids.clone(),
                    attrs,
                    from,
                    to,
                    last_n: request.last_n.map(|_| limit),
                    first_n: Some(limit),
                };
                let rows = self.read_rows(&filter, request.time_property).await?;
                let deletions = request.time_property == TimeProperty::DeletedAt;
                for (key, instances) in group_instances(rows, deletions)? {
                    let kind = instances
                        .first()
                        .map_or(AttributeKind::Property, |i| i.attribute.kind);
                    let series = TemporalSeries {
                        attr: key.1,
                        dataset_id: key.2,
                        kind,
                        data: SeriesData::Instances(instances),
                    };
                    if series.attr == SCOPE {
                        scopes.insert(key.0, series);
                    } else {
                        by_entity.entry(key.0).or_default().push(series);
                    }
                }
                // The scope set before the interval and still valid at its start is part of it
                // (§4.18, annex C.5.16).
                if let (Some(from), TimeProperty::ObservedAt, None) =
                    (from, request.time_property, request.last_n)
                {
                    for (id, row) in self.scopes_in_force(&ids, from).await? {
                        let (_, mut found) = group_instances(vec![row], false)?
                            .pop()
                            .ok_or_else(|| BrokerError::InternalError("lost a row".into()))?;
                        let series = scopes.entry(id).or_insert_with(|| TemporalSeries {
                            attr: SCOPE.to_string(),
                            dataset_id: None,
                            kind: AttributeKind::Property,
                            data: SeriesData::Instances(Vec::new()),
                        });
                        if let SeriesData::Instances(list) = &mut series.data {
                            found.append(list);
                            *list = found;
                        }
                    }
                }
            }
            Some(aggregation) => {
                if request.time_property != TimeProperty::ObservedAt {
                    return Err(BrokerError::OperationNotSupported(format!(
                        "aggregatedValues are computed on observedAt only, not on {}",
                        request.time_property.name()
                    )));
                }
                check_eligible(&entities, &request.attrs, &aggregation.methods)?;
                for (key, periods) in self.aggregate(ids, request, aggregation).await? {
                    if key.1 == SCOPE {
                        continue;
                    }
                    let kind = kind_of(&entities, &key.0, &key.1);
                    by_entity.entry(key.0).or_default().push(TemporalSeries {
                        attr: key.1,
                        dataset_id: key.2,
                        kind,
                        data: SeriesData::Aggregated(periods),
                    });
                }
            }
        }
        if let Some(wanted) = &request.dataset_ids {
            for series in by_entity.values_mut() {
                series.retain(|s| wanted.contains(&s.dataset_id));
            }
        }
        let range = if request.aggregation.is_none() && !within {
            paginate(&mut by_entity, limit, request)
        } else {
            None
        };
        // Cut after paginating: the range answered stays complete within the windows.
        if let Some(windows) = windows {
            let none = Windows::new();
            for (id, series) in by_entity.iter_mut() {
                let valid = windows.get(id).unwrap_or(&none);
                for s in series.iter_mut() {
                    if let SeriesData::Instances(list) = &mut s.data {
                        list.retain(|i| inside(valid, i.at));
                    }
                }
                series.retain(|s| !matches!(&s.data, SeriesData::Instances(l) if l.is_empty()));
            }
        }
        let entities = entities
            .into_iter()
            .map(|e| TemporalEntity {
                series: by_entity.remove(&e.id).unwrap_or_default(),
                scope: scopes.remove(&e.id),
                id: e.id,
                types: e.types,
            })
            .collect();
        Ok((entities, range))
    }

    /// Aggregated periods per series, ordered like the history.
    async fn aggregate(
        &self,
        ids: Vec<String>,
        request: &TemporalRequest,
        aggregation: &Aggregation,
    ) -> Result<Vec<(SeriesKey, Vec<AggregatedPeriod>)>> {
        let (from, to) = range_of(request.timerel);
        // The period grid: on timeAt when the query has a lower bound, else on the first
        // instance; a zero duration is one period over the whole range (to the last instance
        // if open).
        let (origin, period, whole) = if aggregation.period_ms > 0 {
            let origin = match from {
                Some(from) => from,
                None => match self
                    .store
                    .ngsild_history_span(&ids, &request.attrs, None, to)
                    .await?
                {
                    Some((first, _)) => first,
                    None => return Ok(Vec::new()),
                },
            };
            (origin, aggregation.period_ms, None)
        } else {
            let Some((first, last)) = self
                .store
                .ngsild_history_span(&ids, &request.attrs, from, to)
                .await?
            else {
                return Ok(Vec::new());
            };
            let start = from.unwrap_or(first);
            let end = to.unwrap_or(last);
            let span = to.unwrap_or(last + 1) - start;
            (start, span.max(1), Some((start, end)))
        };
        let methods = &aggregation.methods;
        let want = Aggregates {
            sum: methods
                .iter()
                .any(|m| matches!(m, AggrMethod::Sum | AggrMethod::Avg | AggrMethod::Stddev)),
            min: methods.contains(&AggrMethod::Min),
            max: methods.contains(&AggrMethod::Max),
            sumsq: methods
                .iter()
                .any(|m| matches!(m, AggrMethod::Stddev | AggrMethod::Sumsq)),
        };
        let filter = AggregateFilter {
            entity_ids: ids.clone(),
            attrs: request.attrs.clone(),
            from,
            to,
            origin,
            period_ms: period,
            want,
        };
        let buckets = self.store.ngsild_aggregate(&filter).await?;
        let distinct = if methods.contains(&AggrMethod::DistinctCount) {
            let rows = self
                .store
                .ngsild_history(&HistoryFilter {
                    entity_ids: ids,
                    attrs: request.attrs.clone(),
                    from: Some(from.map_or(origin, |f| f.max(origin))),
                    to,
                    last_n: None,
                    first_n: None,
                })
                .await?;
            distinct_counts(&rows, origin, period)?
        } else {
            HashMap::new()
        };
        let mut out: Vec<(SeriesKey, Vec<AggregatedPeriod>)> = Vec::new();
        for bucket in &buckets {
            let key = (
                bucket.entity_id.clone(),
                bucket.attr.clone(),
                bucket.dataset_id.clone(),
            );
            let n = (bucket.start - origin) / period;
            let (start, end) = whole.unwrap_or_else(|| {
                let end = bucket.start + period;
                (bucket.start, to.map_or(end, |t| end.min(t)))
            });
            let values = methods
                .iter()
                .filter_map(|m| {
                    let d = distinct.get(&(key.clone(), n)).copied();
                    method_value(*m, bucket, d).map(|v| (*m, v))
                })
                .collect();
            let period = AggregatedPeriod { start, end, values };
            match out.last_mut() {
                Some((k, periods)) if *k == key => periods.push(period),
                _ => out.push((key, vec![period])),
            }
        }
        Ok(out)
    }

    /// Create or Update Temporal Representation of an Entity (§5.6.11). Returns true when the
    /// entity was created.
    pub async fn create_temporal(&self, ctx: &Context, body: &Value) -> Result<bool> {
        let object = body.as_object().ok_or_else(|| {
            BrokerError::InvalidRequest("a temporal entity must be a JSON object".into())
        })?;
        let id = document::entity_id(object)?
            .ok_or_else(|| BrokerError::BadRequestData("the entity has no 'id'".into()))?;
        let types = document::entity_types(object, ctx)?
            .ok_or_else(|| BrokerError::BadRequestData("the entity has no 'type'".into()))?;
        let now = now_ms();
        let instances = parse_temporal_attributes(object, ctx, now)?;
        let mut history = history_entries(&id, &instances)?;
        let scope = parse_temporal_scope(object, now)?;
        for instance in &scope {
            history.push(record::scope_entry(&id, instance, observed_ms(instance))?);
        }
        // The current scope is the latest instance (the last given on ties).
        let scopes = scope
            .iter()
            .max_by_key(|i| observed_ms(i))
            .map(record::scopes_of)
            .unwrap_or_default();

        let mut pending = Some((types, instances, history.clone()));
        let mut created = false;
        let results = self
            .store
            .ngsild_modify(std::slice::from_ref(&id), |id, current| {
                if current.is_some() {
                    return Ok((Change::Keep, ()));
                }
                let (types, instances, history) = pending.take().ok_or_else(|| {
                    BrokerError::InternalError(format!("entity {id} was visited twice"))
                })?;
                let entity = Entity {
                    id: id.to_string(),
                    types,
                    scopes: scopes.clone(),
                    created_at: now,
                    modified_at: now,
                    attributes: latest_instances(instances),
                };
                let record = record::record_of(&entity)?;
                created = true;
                Ok::<_, BrokerError>((
                    Change::Put {
                        note: ChangeNote {
                            entity_id: entity.id.clone(),
                            op: "create".into(),
                            attrs: entity.attributes.keys().cloned().collect(),
                            snapshot: Some(record.body.clone()),
                            previous: None,
                        },
                        record,
                        history,
                        deletions: Vec::new(),
                    },
                    (),
                ))
            })
            .await?;
        for result in results {
            result?;
        }
        if !created && !history.is_empty() {
            self.store.ngsild_append_history(&history).await?;
        }
        Ok(created)
    }

    /// Add Attributes to Temporal Representation of an Entity (§5.6.12): the instances are
    /// appended to the history; the current entity is left as it is.
    pub async fn append_temporal_attributes(
        &self,
        id: &str,
        ctx: &Context,
        body: &Value,
    ) -> Result<()> {
        let object = body.as_object().ok_or_else(|| {
            BrokerError::InvalidRequest("the payload must be a JSON object".into())
        })?;
        if let Some(given) = document::entity_id(object)? {
            if given != id {
                return Err(BrokerError::BadRequestData(format!(
                    "the body's id {given} differs from the id {id} in the path"
                )));
            }
        }
        let instances = parse_temporal_attributes(object, ctx, now_ms())?;
        if self.store.ngsild_get(id).await?.is_none() {
            return Err(not_found(id));
        }
        let history = history_entries(id, &instances)?;
        self.store.ngsild_append_history(&history).await?;
        Ok(())
    }

    /// Delete Temporal Representation of an Entity (§5.6.16): the entity and its history.
    pub async fn delete_temporal(&self, id: &str) -> Result<()> {
        let existed = match self.delete_entity(id).await {
            Ok(()) => true,
            Err(BrokerError::ResourceNotFound(_)) => false,
            Err(e) => return Err(e),
        };
        let deleted = self.store.ngsild_delete_history(id, None).await?;
        if !existed && deleted == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    /// Delete Attribute from Temporal Representation of an Entity (§5.6.13): every instance
    /// of the attribute, whatever its datasetId. The current entity is left as it is.
    pub async fn delete_temporal_attribute(&self, id: &str, attr_iri: &str) -> Result<()> {
        let deleted = self.store.ngsild_delete_history(id, Some(attr_iri)).await?;
        if deleted == 0 {
            return Err(BrokerError::ResourceNotFound(format!(
                "entity {id} has no history of the attribute {attr_iri}"
            )));
        }
        Ok(())
    }

    /// Delete Attribute Instance from Temporal Representation of an Entity (§5.6.15).
    /// `instance_id` is one the temporal API gave (`urn:ngsi-ld:instance:<n>`).
    pub async fn delete_temporal_instance(
        &self,
        id: &str,
        attr_iri: &str,
        instance_id: &str,
    ) -> Result<()> {
        let missing = || {
            BrokerError::ResourceNotFound(format!(
                "entity {id} has no instance {instance_id} of the attribute {attr_iri}"
            ))
        };
        let deleted = match InstanceRef::parse(instance_id)?.ok_or_else(missing)? {
            InstanceRef::History(seq) => {
                self.store
                    .ngsild_delete_history_instance(id, attr_iri, seq)
                    .await?
            }
            InstanceRef::Deletion(seq) => {
                self.store.ngsild_delete_deletion(id, attr_iri, seq).await?
            }
        };
        if !deleted {
            return Err(missing());
        }
        Ok(())
    }

    /// Modify Attribute Instance in Temporal Representation of an Entity (§5.6.14): the
    /// instance is looked up (400/404 as the specification says), but modifying it is not
    /// supported (422).
    pub async fn modify_temporal_instance(
        &self,
        id: &str,
        attr_iri: &str,
        instance_id: &str,
    ) -> Result<()> {
        let missing = || {
            BrokerError::ResourceNotFound(format!(
                "entity {id} has no instance {instance_id} of the attribute {attr_iri}"
            ))
        };
        let found = InstanceRef::parse(instance_id)?.ok_or_else(missing)?;
        let filter = HistoryFilter {
            entity_ids: vec![id.to_string()],
            attrs: vec![attr_iri.to_string()],
            ..Default::default()
        };
        let rows = match found {
            InstanceRef::History(_) => self.store.ngsild_history(&filter).await?,
            InstanceRef::Deletion(_) => self.store.ngsild_deletions(&filter).await?,
        };
        let deletions = matches!(found, InstanceRef::Deletion(_));
        if !rows
            .iter()
            .any(|r| InstanceRef::of(r.seq, deletions) == found)
        {
            return Err(missing());
        }
        Err(BrokerError::OperationNotSupported(
            "modifying an attribute instance of the history is not supported; delete it and \
             add the new instance instead"
                .into(),
        ))
    }

    /// Retention: deletes the history observed more than `older_than_days` days ago; returns
    /// the number of instances deleted. 0 keeps everything.
    pub async fn purge_history(&self, older_than_days: u32) -> Result<u64> {
        if older_than_days == 0 {
            return Ok(0);
        }
        let cutoff = now_ms() - i64::from(older_than_days) * MS_PER_DAY;
        Ok(self.store.ngsild_purge_history(cutoff).await?)
    }
}

/// Members of a temporal entity that are not attributes.
const ENTITY_MEMBERS: &[&str] = &[
    "@context",
    "id",
    "@id",
    "type",
    "@type",
    "scope",
    "createdAt",
    "modifiedAt",
    "deletedAt",
];

/// The attributes of a temporal document: each member holds one instance or an array of
/// instances (several may share a datasetId: they are points in time).
fn parse_temporal_attributes(
    object: &Map<String, Value>,
    ctx: &Context,
    now: i64,
) -> Result<Vec<(String, Attribute)>> {
    let mut out = Vec::new();
    for (name, value) in object {
        if ENTITY_MEMBERS.contains(&name.as_str()) {
            continue;
        }
        document::check_name(name)?;
        let iri = ctx.expand(name);
        let items: Vec<&Value> = match value {
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                items.iter().collect()
            }
            Value::Object(_) => vec![value],
            _ => {
                return Err(BrokerError::BadRequestData(format!(
                    "attribute '{name}' of a temporal entity must be an attribute instance or \
                     an array of instances"
                )))
            }
        };
        for item in items {
            for instance in document::parse_attribute(name, &iri, item, ctx, now)? {
                out.push((iri.clone(), instance));
            }
        }
    }
    Ok(out)
}

/// What an instanceId this broker gave names: a history instance or a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstanceRef {
    History(i64),
    Deletion(i64),
}

impl InstanceRef {
    const PREFIX: &'static str = "urn:ngsi-ld:instance:";
    const DELETION: &'static str = "deletion-";

    fn of(seq: i64, deletion: bool) -> InstanceRef {
        if deletion {
            InstanceRef::Deletion(seq)
        } else {
            InstanceRef::History(seq)
        }
    }

    fn uri(self) -> String {
        match self {
            InstanceRef::History(n) => format!("{}{n}", Self::PREFIX),
            InstanceRef::Deletion(n) => format!("{}{}{n}", Self::PREFIX, Self::DELETION),
        }
    }

    /// None for a URI this broker did not give.
    fn parse(instance_id: &str) -> Result<Option<InstanceRef>> {
        if !document::is_uri(instance_id) {
            return Err(BrokerError::BadRequestData(format!(
                "the instanceId '{instance_id}' is not a URI"
            )));
        }
        let Some(rest) = instance_id.strip_prefix(Self::PREFIX) else {
            return Ok(None);
        };
        Ok(match rest.strip_prefix(Self::DELETION) {
            Some(n) => n.parse().ok().map(InstanceRef::Deletion),
            None => rest.parse().ok().map(InstanceRef::History),
        })
    }
}

/// The scope of a temporal entity (§4.5.6): a scope or an array of scopes, set now; or an array
/// of Property instances with `value` (a scope or an array of them) and `observedAt` (default:
/// now). `[]` sets no scope.
fn parse_temporal_scope(object: &Map<String, Value>, now: i64) -> Result<Vec<Attribute>> {
    let Some(value) = object.get("scope") else {
        return Ok(Vec::new());
    };
    let items: Vec<&Map<String, Value>> = match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            items.iter().filter_map(Value::as_object).collect()
        }
        Value::Object(item) => vec![item],
        plain => {
            let scopes = document::parse_scope_value(plain)?;
            if scopes.is_empty() {
                return Ok(Vec::new());
            }
            return Ok(vec![record::scope_instance(&scopes, now)]);
        }
    };
    let bad = |why: &str| BrokerError::BadRequestData(format!("scope: {why}"));
    items
        .into_iter()
        .map(|item| {
            if let Some(other) = item
                .keys()
                .find(|k| !matches!(k.as_str(), "type" | "value" | "observedAt" | "instanceId"))
            {
                return Err(bad(&format!(
                    "a scope instance has only type, value and observedAt, not {other}"
                )));
            }
            if item.get("type").is_some_and(|t| t != "Property") {
                return Err(bad("a scope instance is a Property"));
            }
            let value = item
                .get("value")
                .ok_or_else(|| bad("a scope instance needs a value"))?;
            let scopes = document::parse_scope_value(value)?;
            let mut instance = record::scope_instance(&scopes, now);
            if let Some(observed) = item.get("observedAt") {
                let text = observed.as_str().filter(|t| parse_time(t).is_some());
                instance.observed_at = Some(
                    text.ok_or_else(|| {
                        bad("observedAt must be an ISO 8601 date-time, e.g. 2026-11-25T08:00:00Z")
                    })?
                    .to_string(),
                );
            }
            Ok(instance)
        })
        .collect()
}

fn observed_ms(instance: &Attribute) -> i64 {
    instance
        .observed_at
        .as_deref()
        .and_then(parse_time)
        .unwrap_or(instance.modified_at)
}

fn history_entries(id: &str, instances: &[(String, Attribute)]) -> Result<Vec<HistoryEntry>> {
    instances
        .iter()
        .map(|(iri, instance)| {
            Ok(HistoryEntry {
                entity_id: id.to_string(),
                attr: iri.clone(),
                dataset_id: instance.dataset_id.clone(),
                observed_at: observed_ms(instance),
                num: instance
                    .value
                    .as_f64()
                    .filter(|_| instance.kind == AttributeKind::Property),
                instance: serde_json::to_string(instance).map_err(|e| {
                    BrokerError::InternalError(format!("history of {id} not encodable: {e}"))
                })?,
            })
        })
        .collect()
}

/// The current value of each attribute instance: the latest observed (the last given on ties).
fn latest_instances(instances: Vec<(String, Attribute)>) -> BTreeMap<String, Vec<Attribute>> {
    let mut latest: BTreeMap<String, Vec<Attribute>> = BTreeMap::new();
    for (iri, instance) in instances {
        let list = latest.entry(iri).or_default();
        match list
            .iter_mut()
            .find(|a| a.dataset_id == instance.dataset_id)
        {
            Some(existing) if observed_ms(existing) > observed_ms(&instance) => {}
            Some(existing) => *existing = instance,
            None => list.push(instance),
        }
    }
    latest
}

/// History rows (ordered by entity, attribute, dataset, time) grouped by series.
/// `deletions`: the rows are deletions (their own sequence, their own instanceIds).
fn group_instances(
    rows: Vec<HistoryRow>,
    deletions: bool,
) -> Result<Vec<(SeriesKey, Vec<TemporalInstance>)>> {
    let mut out: Vec<(SeriesKey, Vec<TemporalInstance>)> = Vec::new();
    for row in rows {
        let instance = TemporalInstance {
            instance_id: InstanceRef::of(row.seq, deletions).uri(),
            at: row.observed_at,
            attribute: decode(&row)?,
        };
        let key = (row.entity_id, row.attr, row.dataset_id);
        match out.last_mut() {
            Some((k, list)) if *k == key => list.push(instance),
            _ => out.push((key, vec![instance])),
        }
    }
    Ok(out)
}

fn decode(row: &HistoryRow) -> Result<Attribute> {
    serde_json::from_str(&row.instance).map_err(|e| {
        BrokerError::InternalError(format!(
            "a history instance of {} is stored unreadable: {e}",
            row.entity_id
        ))
    })
}

/// History rows (ordered by series) timed by their instance's createdAt or modifiedAt
/// instead: kept within `[from, to)` of `filter`, each series ordered by that time (then
/// sequence) and cut to its first or last N.
fn retimed(
    rows: Vec<HistoryRow>,
    filter: &HistoryFilter,
    time: TimeProperty,
) -> Result<Vec<HistoryRow>> {
    #[derive(serde::Deserialize)]
    struct Times {
        created_at: i64,
        modified_at: i64,
    }
    fn flush(series: &mut Vec<HistoryRow>, filter: &HistoryFilter, out: &mut Vec<HistoryRow>) {
        series.sort_by_key(|r| (r.observed_at, r.seq));
        let n = series.len();
        let (skip, take) = match (filter.last_n, filter.first_n) {
            (Some(k), _) => (n.saturating_sub(k as usize), n),
            (None, Some(k)) => (0, n.min(k as usize)),
            (None, None) => (0, n),
        };
        out.extend(series.drain(..).take(take).skip(skip));
    }
    let mut out = Vec::new();
    let mut series: Vec<HistoryRow> = Vec::new();
    for mut row in rows {
        let times: Times = serde_json::from_str(&row.instance).map_err(|e| {
            BrokerError::InternalError(format!(
                "a history instance of {} is stored unreadable: {e}",
                row.entity_id
            ))
        })?;
        row.observed_at = match time {
            TimeProperty::CreatedAt => times.created_at,
            _ => times.modified_at,
        };
        if filter.from.is_some_and(|f| row.observed_at < f)
            || filter.to.is_some_and(|t| row.observed_at >= t)
        {
            continue;
        }
        let same = |a: &HistoryRow| {
            (&a.entity_id, &a.attr, &a.dataset_id) == (&row.entity_id, &row.attr, &row.dataset_id)
        };
        if series.last().is_some_and(|last| !same(last)) {
            flush(&mut series, filter, &mut out);
        }
        series.push(row);
    }
    flush(&mut series, filter, &mut out);
    Ok(out)
}

fn kind_of(entities: &[Entity], id: &str, attr: &str) -> AttributeKind {
    entities
        .iter()
        .find(|e| e.id == id)
        .and_then(|e| e.attributes.get(attr))
        .and_then(|instances| instances.first())
        .map_or(AttributeKind::Property, |a| a.kind)
}

/// §5.7.4.4: a method not defined for an attribute asked for is an InvalidRequest. Only
/// relationships can be told apart without reading values (they carry no numbers).
/// Without `attrs`, relationships are aggregated with the methods that apply to them.
fn check_eligible(entities: &[Entity], attrs: &[String], methods: &[AggrMethod]) -> Result<()> {
    let Some(method) = methods.iter().find(|m| !m.applies_to_relationships()) else {
        return Ok(());
    };
    if attrs.is_empty() {
        return Ok(());
    }
    for entity in entities {
        for (iri, instances) in &entity.attributes {
            if !attrs.contains(iri) {
                continue;
            }
            let relationship = instances.iter().any(|a| {
                matches!(
                    a.kind,
                    AttributeKind::Relationship | AttributeKind::ListRelationship
                )
            });
            if relationship {
                return Err(BrokerError::InvalidRequest(format!(
                    "aggregation method {} does not apply to the relationship {iri} (only \
                     totalCount and distinctCount do)",
                    method.name()
                )));
            }
        }
    }
    Ok(())
}

/// Distinct values per (series, period number), from the instances.
fn distinct_counts(
    rows: &[HistoryRow],
    origin: i64,
    period: i64,
) -> Result<HashMap<(SeriesKey, i64), u64>> {
    let mut sets: HashMap<(SeriesKey, i64), HashSet<String>> = HashMap::new();
    for row in rows {
        if row.observed_at < origin {
            continue;
        }
        let attribute: Attribute = serde_json::from_str(&row.instance).map_err(|e| {
            BrokerError::InternalError(format!(
                "a history instance of {} is stored unreadable: {e}",
                row.entity_id
            ))
        })?;
        let key = (
            (
                row.entity_id.clone(),
                row.attr.clone(),
                row.dataset_id.clone(),
            ),
            (row.observed_at - origin) / period,
        );
        sets.entry(key)
            .or_default()
            .insert(attribute.value.to_string());
    }
    Ok(sets
        .into_iter()
        .map(|(k, set)| (k, set.len() as u64))
        .collect())
}

fn number(v: f64) -> Option<Value> {
    serde_json::Number::from_f64(v).map(Value::Number)
}

/// The value of `method` over one bucket; None when the method is undefined there (no numeric
/// value in the period).
fn method_value(method: AggrMethod, b: &AggregateBucket, distinct: Option<u64>) -> Option<Value> {
    match method {
        AggrMethod::TotalCount => Some(Value::from(b.count)),
        AggrMethod::DistinctCount => Some(Value::from(distinct.unwrap_or(0))),
        _ if b.num_count == 0 => None,
        AggrMethod::Sum => b.sum.and_then(number),
        AggrMethod::Avg => b.avg().and_then(number),
        AggrMethod::Min => b.min.and_then(number),
        AggrMethod::Max => b.max.and_then(number),
        AggrMethod::Sumsq => b.sumsq.and_then(number),
        AggrMethod::Stddev => b.variance().map(f64::sqrt).and_then(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_fixed_lengths_and_refuse_calendar_units() {
        assert_eq!(parse_duration("PT1H"), Ok(3_600_000));
        assert_eq!(parse_duration("P1D"), Ok(86_400_000));
        assert_eq!(parse_duration("P1W"), Ok(7 * 86_400_000));
        assert_eq!(parse_duration("P1DT12H30M5.5S"), Ok(131_405_500));
        assert_eq!(parse_duration("PT0S"), Ok(0));
        assert_eq!(parse_duration("P0D"), Ok(0));
        for bad in ["P1M", "P1Y", "1H", "PT", "P", "PT1", "PT1X", "P1H", "PTH"] {
            assert!(
                matches!(parse_duration(bad), Err(BrokerError::BadRequestData(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn timerel_needs_its_times_and_an_increasing_interval() {
        let at = "2026-11-25T10:00:00+07:00";
        let end = "2026-11-25T11:00:00+07:00";
        let t = parse_time(at).unwrap();
        let e = parse_time(end).unwrap();
        assert_eq!(TimeRel::parse(None, None, None), Ok(None));
        assert_eq!(
            TimeRel::parse(Some("before"), Some(at), None),
            Ok(Some(TimeRel::Before(t)))
        );
        assert_eq!(
            TimeRel::parse(Some("after"), Some(at), None),
            Ok(Some(TimeRel::After(t)))
        );
        assert_eq!(
            TimeRel::parse(Some("between"), Some(at), Some(end)),
            Ok(Some(TimeRel::Between(t, e)))
        );
        for (rel, a, b) in [
            (Some("between"), Some(end), Some(at)),
            (Some("between"), Some(at), Some(at)),
            (Some("between"), Some(at), None),
            (Some("before"), None, None),
            (Some("after"), Some("yesterday"), None),
            (Some("during"), Some(at), None),
            (None, Some(at), None),
        ] {
            assert!(
                matches!(
                    TimeRel::parse(rel, a, b),
                    Err(BrokerError::BadRequestData(_))
                ),
                "{rel:?} {a:?} {b:?}"
            );
        }
    }

    #[test]
    fn aggregation_methods_parse_in_order_without_duplicates() {
        assert_eq!(
            parse_aggr_methods("max, avg,max,totalCount"),
            Ok(vec![
                AggrMethod::Max,
                AggrMethod::Avg,
                AggrMethod::TotalCount
            ])
        );
        assert!(matches!(
            parse_aggr_methods("median"),
            Err(BrokerError::BadRequestData(_))
        ));
        assert!(matches!(
            parse_aggr_methods(""),
            Err(BrokerError::BadRequestData(_))
        ));
    }

    #[test]
    fn time_properties_parse_and_default_to_observed_at() {
        for (text, tp) in [
            (None, TimeProperty::ObservedAt),
            (Some("observedAt"), TimeProperty::ObservedAt),
            (Some("createdAt"), TimeProperty::CreatedAt),
            (Some("modifiedAt"), TimeProperty::ModifiedAt),
            (Some("deletedAt"), TimeProperty::DeletedAt),
        ] {
            assert_eq!(TimeProperty::parse(text), Ok(tp));
            assert_eq!(text.map_or("observedAt", |t| t), tp.name());
        }
        assert!(matches!(
            TimeProperty::parse(Some("when")),
            Err(BrokerError::BadRequestData(_))
        ));
    }

    #[test]
    fn instance_ids_name_history_instances_and_deletions() {
        for r in [InstanceRef::History(12), InstanceRef::Deletion(3)] {
            assert_eq!(InstanceRef::parse(&r.uri()), Ok(Some(r)));
        }
        assert_eq!(InstanceRef::History(12).uri(), "urn:ngsi-ld:instance:12");
        assert_eq!(
            InstanceRef::Deletion(3).uri(),
            "urn:ngsi-ld:instance:deletion-3"
        );
        assert_eq!(InstanceRef::parse("urn:ngsi-ld:Instance:x"), Ok(None));
        assert!(InstanceRef::parse("not a uri").is_err());
    }
}
