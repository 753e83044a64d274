//! Query Entities (§5.7.2) and discovery (§5.7.5–5.7.10).
//!
//! A query runs in two stages. Storage first narrows the candidates with a prefilter built
//! from the parts of the query that its value index answers exactly (ids, types, attribute
//! existence, number and string comparisons, the bounding box of a geo-query). The exact
//! NGSI-LD semantics are then applied in memory by `dothi_ngsild::eval` to the candidates.
//! When the prefilter is exact, storage also pages and counts; otherwise the broker does.
//!
//! Invariant: the prefilter never drops an entity that the exact evaluation would keep.

use dothi_ngsild::entity::Entity;
use dothi_ngsild::eval::{self, CompiledQuery};
use dothi_ngsild::geo::{GeoQuery, GeoRel, Geometry};
use dothi_ngsild::q::{CompareOp, Condition, EqualityValue, Query, Value as QValue};
use dothi_ngsild::scopeq::ScopeQuery;
use dothi_store::ngsild::{Cmp, EntityFilter, Prefilter};
use regex::Regex;
use serde_json::Value;

use crate::{live, now_ms, record, Broker, BrokerError, Result};

/// A parsed Query Entities request, with every name already expanded except inside `q`.
#[derive(Debug, Clone, Default)]
pub struct EntityQuery {
    pub ids: Vec<String>,
    pub id_pattern: Option<String>,
    /// Type selection in disjunctive normal form, expanded; None = any type.
    pub types: Option<Vec<Vec<String>>>,
    /// Expanded `attrs`: entities must have at least one of them.
    pub attrs: Vec<String>,
    pub q: Option<Query>,
    /// The geo-query and the expanded GeoProperty it applies to.
    pub geo: Option<(GeoQuery, String)>,
    pub limit: u32,
    pub offset: u32,
    pub count: bool,
    /// `scopeQ` (§4.19).
    pub scope_q: Option<ScopeQuery>,
    /// `orderBy` (§4.23): the keys, most significant first; empty = storage order.
    pub order_by: Vec<OrderKey>,
    /// `collation`: with any tag, strings are compared with accents and case folded first
    /// (an approximation of the root collation for Latin scripts); None = code point order.
    pub collation: Option<String>,
}

/// One key of `orderBy` (§4.23).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub member: OrderMember,
    pub descending: bool,
}

/// What an `orderBy` key compares.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderMember {
    Id,
    Type,
    CreatedAt,
    ModifiedAt,
    /// An attribute (expanded), then sub-attribute IRIs or `createdAt`/`modifiedAt`/
    /// `observedAt`, then the keys into a compound value (`address[city]`).
    Attribute {
        path: Vec<String>,
        trailing: Vec<String>,
    },
    /// Distance of a GeoProperty (expanded) from a point (lon, lat).
    Distance {
        attr: String,
        from: (f64, f64),
    },
}

/// A page of entities and, when asked, the total count of matches.
#[derive(Debug, Clone, Default)]
pub struct EntityPage {
    pub entities: Vec<Entity>,
    pub total: Option<u64>,
}

/// Metres per degree of latitude, a safe (small) value so that the box never excludes a match.
const METRES_PER_DEGREE: f64 = 110_000.0;

impl Broker {
    /// Query Entities. `expand` maps the attribute names of `q` to IRIs (the request context).
    pub async fn query_entities(
        &self,
        query: &EntityQuery,
        expand: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<EntityPage> {
        let id_pattern = match &query.id_pattern {
            Some(p) => Some(Regex::new(p).map_err(|e| {
                BrokerError::BadRequestData(format!(
                    "idPattern is not a valid regular expression: {e}"
                ))
            })?),
            None => None,
        };
        let compiled = match &query.q {
            Some(q) => Some(CompiledQuery::new(q).map_err(BrokerError::BadRequestData)?),
            None => None,
        };
        let (q_prefilter, q_exact) = match &query.q {
            Some(q) => prefilter(q, expand),
            None => (Prefilter::True, true),
        };
        let geo_bbox = query.geo.as_ref().and_then(|(g, iri)| {
            // Storage keeps the box of `location` only.
            (iri == dothi_ngsild::document::LOCATION)
                .then(|| query_bbox(g))
                .flatten()
        });
        let mut exact = q_exact
            && id_pattern.is_none()
            && query.geo.is_none()
            && query.scope_q.is_none()
            && query.order_by.is_empty();
        let mut filter = EntityFilter {
            ids: query.ids.clone(),
            types: query.types.clone().unwrap_or_default(),
            attrs_any: query.attrs.clone(),
            prefilter: q_prefilter,
            bbox: geo_bbox,
            ..EntityFilter::default()
        };
        let mut entities = loop {
            filter.limit = exact.then_some(query.limit);
            filter.offset = if exact { query.offset } else { 0 };
            filter.count = exact && query.count;
            let page = self.store.ngsild_query(&filter).await?;
            let now = now_ms();
            let mut entities = Vec::with_capacity(page.entities.len());
            for stored in &page.entities {
                // Storage leaves out expired entities; expired attribute instances go here.
                let Some(entity) = live(record::entity_of(stored)?, now) else {
                    continue;
                };
                let keep = id_pattern.as_ref().is_none_or(|re| re.is_match(&entity.id))
                    && compiled.as_ref().is_none_or(|q| q.matches(&entity, expand))
                    && query
                        .geo
                        .as_ref()
                        .is_none_or(|(g, iri)| eval::matches_geo(g, &entity, iri))
                    && query
                        .scope_q
                        .as_ref()
                        .is_none_or(|s| s.matches(&entity.scopes));
                if keep {
                    entities.push(entity);
                }
            }
            if !exact {
                break entities;
            }
            if entities.len() == page.entities.len() {
                return Ok(EntityPage {
                    entities,
                    total: page.total,
                });
            }
            // The index still held an attribute instance that has expired since (or the entity
            // expired meanwhile): storage's page and count are off, so the broker pages.
            exact = false;
        };
        if !query.order_by.is_empty() {
            // A stable sort keeps storage order among equal keys.
            let folded = query.collation.is_some();
            entities.sort_by(|a, b| compare_entities(a, b, &query.order_by, folded));
        }
        let total = entities.len() as u64;
        let entities = entities
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .collect();
        Ok(EntityPage {
            entities,
            total: query.count.then_some(total),
        })
    }
}

/// The storage prefilter of a `q` query, and whether it is exact (selects exactly the
/// entities the query selects).
pub fn prefilter(query: &Query, expand: &dyn Fn(&str) -> String) -> (Prefilter, bool) {
    match query {
        Query::And(items) | Query::Or(items) => {
            let mut exact = true;
            let parts = items
                .iter()
                .map(|q| {
                    let (p, e) = prefilter(q, expand);
                    exact &= e;
                    p
                })
                .collect();
            let combined = if matches!(query, Query::And(_)) {
                Prefilter::And(parts)
            } else {
                Prefilter::Or(parts)
            };
            (combined, exact)
        }
        Query::Term(term) => {
            let attr = &term.attribute;
            let Some(first) = attr.path.first() else {
                return (Prefilter::True, false);
            };
            let iri = expand(first);
            let exists = Prefilter::Exists { attr: iri.clone() };
            if attr.path.len() > 1 || !attr.trailing.is_empty() {
                return (exists, false);
            }
            match &term.condition {
                None => (exists, true),
                Some(Condition::Compare { op, value }) => {
                    let cmp = match op {
                        CompareOp::Greater => Cmp::Gt,
                        CompareOp::GreaterEq => Cmp::Ge,
                        CompareOp::Less => Cmp::Lt,
                        CompareOp::LessEq => Cmp::Le,
                    };
                    match value {
                        QValue::Number(n) => (
                            Prefilter::Num {
                                attr: iri,
                                op: cmp,
                                value: *n,
                            },
                            true,
                        ),
                        // Not exact: the index also holds Relationship objects, which an
                        // ordering operator never matches (§4.9).
                        QValue::Text(s) => (
                            Prefilter::Text {
                                attr: iri,
                                op: cmp,
                                value: s.clone(),
                            },
                            false,
                        ),
                        _ => (exists, false),
                    }
                }
                Some(Condition::Equal(EqualityValue::Single(value))) => match value {
                    QValue::Number(n) => (
                        Prefilter::Num {
                            attr: iri,
                            op: Cmp::Eq,
                            value: *n,
                        },
                        true,
                    ),
                    QValue::Text(s) | QValue::Uri(s) => (
                        Prefilter::Text {
                            attr: iri,
                            op: Cmp::Eq,
                            value: s.clone(),
                        },
                        true,
                    ),
                    _ => (exists, false),
                },
                Some(Condition::Equal(EqualityValue::List(values))) => {
                    let numbers: Option<Vec<f64>> = values
                        .iter()
                        .map(|v| match v {
                            QValue::Number(n) => Some(*n),
                            _ => None,
                        })
                        .collect();
                    let texts: Option<Vec<String>> = values
                        .iter()
                        .map(|v| match v {
                            QValue::Text(s) | QValue::Uri(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    match (numbers, texts) {
                        (Some(values), _) => (Prefilter::NumIn { attr: iri, values }, true),
                        (_, Some(values)) => (Prefilter::TextIn { attr: iri, values }, true),
                        _ => (exists, false),
                    }
                }
                Some(Condition::Equal(EqualityValue::Range(
                    QValue::Number(low),
                    QValue::Number(high),
                ))) => (
                    // Each bound may hold for a different element of an array value.
                    Prefilter::And(vec![
                        Prefilter::Num {
                            attr: iri.clone(),
                            op: Cmp::Ge,
                            value: *low,
                        },
                        Prefilter::Num {
                            attr: iri,
                            op: Cmp::Le,
                            value: *high,
                        },
                    ]),
                    false,
                ),
                Some(_) => (exists, false),
            }
        }
    }
}

/// A bounding box that contains every geometry the geo-query can select, if one exists.
fn query_bbox(query: &GeoQuery) -> Option<[f64; 4]> {
    let positions: Vec<(f64, f64)> = match &query.geometry {
        Geometry::Point(p) => vec![(p.lon, p.lat)],
        Geometry::LineString(ps) | Geometry::MultiPoint(ps) => {
            ps.iter().map(|p| (p.lon, p.lat)).collect()
        }
        Geometry::Polygon(rings) | Geometry::MultiLineString(rings) => {
            rings.iter().flatten().map(|p| (p.lon, p.lat)).collect()
        }
        Geometry::MultiPolygon(polys) => polys
            .iter()
            .flatten()
            .flatten()
            .map(|p| (p.lon, p.lat))
            .collect(),
    };
    let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for (lon, lat) in positions {
        bbox = [
            bbox[0].min(lon),
            bbox[1].min(lat),
            bbox[2].max(lon),
            bbox[3].max(lat),
        ];
    }
    match &query.georel {
        // Anything may lie outside the query geometry.
        GeoRel::Disjoint => None,
        GeoRel::Near(distance) => {
            let max = distance.max?;
            let dlat = max / METRES_PER_DEGREE;
            let cos = bbox[1].to_radians().cos().abs().max(0.01);
            let dlon = dlat / cos;
            Some([
                bbox[0] - dlon,
                bbox[1] - dlat,
                bbox[2] + dlon,
                bbox[3] + dlat,
            ])
        }
        // A geometry that lies within, contains, equals, overlaps or meets the query geometry
        // has a box that meets the query's box.
        GeoRel::Within
        | GeoRel::Contains
        | GeoRel::Intersects
        | GeoRel::Equals
        | GeoRel::Overlaps => Some(bbox),
    }
}

/// Orders two entities by the `orderBy` keys (§4.23.2): numbers before strings before
/// booleans before other values, an absent key last whatever the direction.
fn compare_entities(a: &Entity, b: &Entity, keys: &[OrderKey], folded: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for key in keys {
        let (x, y) = (sort_value(a, &key.member), sort_value(b, &key.member));
        let ord = match (&x, &y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = compare_values(x, y, folded);
                if key.descending {
                    ord.reverse()
                } else {
                    ord
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        _ => 3,
    }
}

fn compare_values(x: &Value, y: &Value, folded: bool) -> std::cmp::Ordering {
    match (x, y) {
        (Value::String(a), Value::String(b)) if folded => fold(a)
            .cmp(&fold(b))
            .then_with(|| a.to_lowercase().cmp(&b.to_lowercase()))
            .then_with(|| a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0)),
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => rank(x)
            .cmp(&rank(y))
            .then_with(|| x.to_string().cmp(&y.to_string())),
    }
}

fn time_value(ms: i64) -> Value {
    Value::String(dothi_ngsild::document::format_time(ms))
}

/// The value an entity is ordered by for one key, if it has one.
fn sort_value(entity: &Entity, member: &OrderMember) -> Option<Value> {
    match member {
        OrderMember::Id => Some(Value::String(entity.id.clone())),
        OrderMember::Type => entity.types.first().cloned().map(Value::String),
        OrderMember::CreatedAt => Some(time_value(entity.created_at)),
        OrderMember::ModifiedAt => Some(time_value(entity.modified_at)),
        OrderMember::Distance { attr, from } => {
            let geometry = &entity.attributes.get(attr)?.first()?.value;
            distance_to(geometry, *from).map(Value::from)
        }
        OrderMember::Attribute { path, trailing } => {
            let (first, rest) = path.split_first()?;
            let mut attr = entity
                .attributes
                .get(first)?
                .iter()
                .find(|i| i.dataset_id.is_none())
                .or_else(|| entity.attributes.get(first)?.first())?;
            let mut value = None;
            for step in rest {
                match step.as_str() {
                    "createdAt" => value = Some(time_value(attr.created_at)),
                    "modifiedAt" => value = Some(time_value(attr.modified_at)),
                    "observedAt" => value = attr.observed_at.clone().map(Value::String),
                    _ => {
                        attr = attr.sub_attributes.get(step)?;
                        continue;
                    }
                }
                break;
            }
            let mut value = match value {
                Some(v) => v,
                None => attr.value.clone(),
            };
            for key in trailing {
                value = value.get(key)?.clone();
            }
            Some(value)
        }
    }
}

/// Haversine distance in metres from `from` to the nearest position of a GeoJSON geometry.
fn distance_to(geometry: &Value, from: (f64, f64)) -> Option<f64> {
    fn positions(v: &Value, out: &mut Vec<(f64, f64)>) {
        if let Some(items) = v.as_array() {
            match (
                items.first().and_then(Value::as_f64),
                items.get(1).and_then(Value::as_f64),
            ) {
                (Some(lon), Some(lat)) => out.push((lon, lat)),
                _ => items.iter().for_each(|i| positions(i, out)),
            }
        }
    }
    let mut points = Vec::new();
    positions(geometry.get("coordinates")?, &mut points);
    points
        .into_iter()
        .map(|(lon, lat)| {
            let (p1, p2) = (from.1.to_radians(), lat.to_radians());
            let dp = p2 - p1;
            let dl = (lon - from.0).to_radians();
            let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
            2.0 * 6_371_008.8 * h.sqrt().asin()
        })
        .min_by(f64::total_cmp)
}

/// Lower case without diacritics, for the collated order of Latin-script strings.
fn fold(s: &str) -> String {
    const GROUPS: &[(&str, &str)] = &[
        ("àáâãäåāăąạảấầẩẫậắằẳẵặ", "a"),
        ("çćĉċč", "c"),
        ("ďđ", "d"),
        ("èéêëēĕėęěẹẻẽếềểễệ", "e"),
        ("ĝğġģ", "g"),
        ("ĥħ", "h"),
        ("ìíîïĩīĭįıỉị", "i"),
        ("ĵ", "j"),
        ("ķ", "k"),
        ("ĺļľŀł", "l"),
        ("ñńņňŉ", "n"),
        ("òóôõöøōŏőơọỏốồổỗộớờởỡợ", "o"),
        ("ŕŗř", "r"),
        ("śŝşš", "s"),
        ("ţťŧ", "t"),
        ("ùúûüũūŭůűųưụủứừửữự", "u"),
        ("ŵ", "w"),
        ("ýÿŷỳỵỷỹ", "y"),
        ("źżž", "z"),
        ("ß", "ss"),
        ("æ", "ae"),
        ("œ", "oe"),
    ];
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match GROUPS.iter().find(|(from, _)| from.contains(c)) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}
