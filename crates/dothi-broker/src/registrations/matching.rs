//! Which registrations a discovery query (§5.10.2) or a registration subscription (§5.11)
//! selects: entity and attribute information, `q` and `csf` on the Context Source Properties,
//! geo-queries on `location` (or `observationSpace`, `operationSpace`), `scopeQ` on `scope`, and
//! temporal queries on `observationInterval` (`observedAt`) or `managementInterval`
//! (`createdAt`, `modifiedAt`).

use std::collections::BTreeMap;

use dothi_ngsild::context::Context;
use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::eval::{CompiledGeoQuery, CompiledQuery};
use dothi_ngsild::scopeq::ScopeQuery;
use regex::Regex;
use serde_json::Value;

use super::document::{EntityInfo, Registration, RegistrationInfo, TimeInterval, TYPE};
use crate::temporal::TimeRel;
use crate::{BrokerError, Result};

/// A temporal query on registrations: `timeproperty=observedAt` (the default) is matched
/// against `observationInterval`, `createdAt` and `modifiedAt` against `managementInterval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemporalFilter {
    pub rel: TimeRel,
    pub management: bool,
}

impl TemporalFilter {
    /// Parses `timerel`, `timeAt`, `endTimeAt` and `timeproperty`; None when absent.
    pub fn parse(
        timerel: Option<&str>,
        time_at: Option<&str>,
        end_time_at: Option<&str>,
        timeproperty: Option<&str>,
    ) -> Result<Option<TemporalFilter>> {
        let management = match timeproperty {
            None | Some("observedAt") => false,
            Some("createdAt") | Some("modifiedAt") => true,
            Some(other) => {
                return Err(BrokerError::BadRequestData(format!(
                    "timeproperty must be observedAt, createdAt or modifiedAt, not {other}"
                )))
            }
        };
        let rel = TimeRel::parse(timerel, time_at, end_time_at)?;
        match rel {
            Some(rel) => Ok(Some(TemporalFilter { rel, management })),
            None if timeproperty.is_some() => Err(BrokerError::BadRequestData(
                "timeproperty needs timerel and timeAt".into(),
            )),
            None => Ok(None),
        }
    }

    fn matches(&self, reg: &Registration) -> bool {
        let interval = if self.management {
            &reg.management_interval
        } else {
            &reg.observation_interval
        };
        let Some(interval) = interval else {
            return false;
        };
        let (start, end) = interval.bounds();
        let (from, to) = self.rel.range();
        to.is_none_or(|to| start < to) && end.is_none_or(|end| from.is_none_or(|from| end > from))
    }
}

/// Without a temporal query only context sources providing the latest information are
/// considered (§5.10.2.4): a registration whose `observationInterval` does not contain `now`
/// offers historical information only.
fn provides_latest(interval: Option<&TimeInterval>, now: i64) -> bool {
    interval.is_none_or(|iv| {
        let (start, end) = iv.bounds();
        start <= now && end.is_none_or(|end| end >= now)
    })
}

/// What an entity selector asks (ids, an id pattern, a type selection in disjunctive normal
/// form, names expanded).
#[derive(Debug, Clone, Default)]
pub struct EntityAsk {
    pub ids: Vec<String>,
    pub id_pattern: Option<Regex>,
    pub types: Option<Vec<Vec<String>>>,
}

impl EntityAsk {
    /// A selector; `id_pattern` must be a valid regular expression (400 otherwise).
    pub fn new(
        ids: Vec<String>,
        id_pattern: Option<&str>,
        types: Option<Vec<Vec<String>>>,
    ) -> Result<EntityAsk> {
        let id_pattern = id_pattern
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    BrokerError::BadRequestData(format!(
                        "idPattern is not a valid regular expression: {e}"
                    ))
                })
            })
            .transpose()?;
        Ok(EntityAsk {
            ids,
            id_pattern,
            types,
        })
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.id_pattern.is_none() && self.types.is_none()
    }

    /// Whether an EntityInfo may describe an entity this selector selects.
    fn matches(&self, info: &EntityInfo) -> bool {
        if let Some(dnf) = &self.types {
            if !dnf
                .iter()
                .any(|all| all.iter().all(|t| info.types.contains(t)))
            {
                return false;
            }
        }
        if !self.ids.is_empty() {
            let pattern = info.id_pattern.as_deref().map(Regex::new);
            let any = self.ids.iter().any(|id| match (&info.id, &pattern) {
                (Some(own), _) => own == id,
                (None, Some(Ok(re))) => re.is_match(id),
                (None, Some(Err(_))) => false,
                (None, None) => true,
            });
            if !any {
                return false;
            }
        }
        if let (Some(re), Some(own)) = (&self.id_pattern, &info.id) {
            if !re.is_match(own) {
                return false;
            }
        }
        true
    }
}

/// Whether one RegistrationInfo covers what is asked: an entity a selector selects (any, when
/// there is no selector) and one of `attrs` (any, when empty). A RegistrationInfo without
/// entities covers every entity; one without attribute names covers every attribute.
pub(crate) fn info_matches(info: &RegistrationInfo, asks: &[EntityAsk], attrs: &[String]) -> bool {
    let entities = asks.is_empty()
        || asks.iter().all(EntityAsk::is_empty)
        || info.entities.is_empty()
        || asks
            .iter()
            .any(|ask| info.entities.iter().any(|e| ask.matches(e)));
    let attributes =
        attrs.is_empty() || info.all_attributes() || attrs.iter().any(|a| info.has_attribute(a));
    entities && attributes
}

/// The registration as an entity for `q` and `csf` (§4.9 on Context Source Properties): its
/// Context Source Properties and its plain members (`endpoint`, `registrationName`, `mode`…)
/// are Properties, `location`, `observationSpace` and `operationSpace` GeoProperties.
pub(crate) fn as_entity(reg: &Registration, ctx: &Context) -> Entity {
    let property = |kind: AttributeKind, value: Value| {
        vec![Attribute {
            kind,
            value,
            observed_at: None,
            unit_code: None,
            dataset_id: None,
            created_at: 0,
            modified_at: 0,
            sub_attributes: BTreeMap::new(),
        }]
    };
    let mut attributes = BTreeMap::new();
    for (iri, value) in &reg.properties {
        // A property written in normalized form counts by its value.
        let value = match value {
            Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("Property") => {
                o.get("value").cloned().unwrap_or(Value::Null)
            }
            other => other.clone(),
        };
        attributes.insert(iri.clone(), property(AttributeKind::Property, value));
    }
    let plain = [
        ("endpoint", Some(reg.endpoint.clone())),
        ("registrationName", reg.registration_name.clone()),
        ("description", reg.description.clone()),
        ("mode", Some(reg.mode.clone())),
        ("tenant", reg.tenant.clone()),
        ("refreshRate", reg.refresh_rate.clone()),
        ("contextSourceAlias", reg.context_source_alias.clone()),
    ];
    for (name, value) in plain {
        if let Some(v) = value {
            attributes.insert(
                ctx.expand(name),
                property(AttributeKind::Property, Value::String(v)),
            );
        }
    }
    attributes.insert(
        ctx.expand("operations"),
        property(AttributeKind::Property, serde_json::json!(reg.operations)),
    );
    for (name, value) in [
        ("location", &reg.location),
        ("observationSpace", &reg.observation_space),
        ("operationSpace", &reg.operation_space),
    ] {
        if let Some(v) = value {
            attributes.insert(
                ctx.expand(name),
                property(AttributeKind::GeoProperty, v.clone()),
            );
        }
    }
    Entity {
        id: reg.id.clone(),
        types: vec![ctx.expand(TYPE)],
        scopes: reg.scopes(),
        created_at: 0,
        modified_at: 0,
        attributes,
    }
}

/// The filters of a discovery query or a registration subscription, compiled.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entity selectors; empty = any entity.
    pub asks: Vec<EntityAsk>,
    /// Expanded attribute names; empty = any attribute.
    pub attrs: Vec<String>,
    pub q: Option<CompiledQuery>,
    pub csf: Option<CompiledQuery>,
    /// The geo-query and the expanded member it applies to.
    pub geo: Option<(CompiledGeoQuery, String)>,
    pub scope_q: Option<ScopeQuery>,
    pub temporal: Option<TemporalFilter>,
}

impl Filter {
    /// The indices of the RegistrationInfo elements of `reg` that match, or None when the
    /// registration does not match at `now`. `ctx` expands the names of `q` and `csf`.
    pub fn matching(&self, reg: &Registration, ctx: &Context, now: i64) -> Option<Vec<usize>> {
        let infos: Vec<usize> = reg
            .information
            .iter()
            .enumerate()
            .filter(|(_, info)| info_matches(info, &self.asks, &self.attrs))
            .map(|(i, _)| i)
            .collect();
        if infos.is_empty() {
            return None;
        }
        match &self.temporal {
            Some(t) if !t.matches(reg) => return None,
            None if !provides_latest(reg.observation_interval.as_ref(), now) => return None,
            _ => {}
        }
        if let Some(scope_q) = &self.scope_q {
            if !scope_q.matches(&reg.scopes()) {
                return None;
            }
        }
        if let Some((geo, iri)) = &self.geo {
            if !reg
                .geometry(iri, ctx)
                .is_some_and(|g| geo.matches_geometry(g))
            {
                return None;
            }
        }
        if self.q.is_some() || self.csf.is_some() {
            let entity = as_entity(reg, ctx);
            let expand = |term: &str| ctx.expand(term);
            for query in [&self.q, &self.csf].into_iter().flatten() {
                if !query.matches(&entity, &expand) {
                    return None;
                }
            }
        }
        Some(infos)
    }
}

/// The registration with only the RegistrationInfo elements at `infos` (what a notification
/// carries, §5.11.7).
pub(crate) fn restricted(reg: &Registration, infos: &[usize]) -> Registration {
    let mut out = reg.clone();
    out.information = infos
        .iter()
        .filter_map(|&i| reg.information.get(i).cloned())
        .collect();
    out
}
