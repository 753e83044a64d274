//! Evaluation of NGSI-LD queries against stored entities (ETSI GS CIM 009 v1.8, §4.9 and §4.10).
//!
//! The parsers in [`crate::q`] and [`crate::geo`] only produce syntax trees; this module decides
//! whether one expanded [`Entity`] (or one GeoJSON geometry) satisfies them. It is pure: no
//! storage, no contexts — the caller passes an `expand` function mapping the attribute names
//! used in `q` to the IRIs under which the entity stores them.
//!
//! Readings of the specification chosen where it is loose (tests pin each one down):
//! * A term targets every instance (each `datasetId`) of the attribute, and every element of an
//!   array value; a positive term (`== > >= < <= ~=`) holds when ANY of them satisfies it.
//! * `!=` and `!~=` are the negations of `==` and `~=` over the entities where the target
//!   exists with at least one value of a comparable type: `a!=v` holds when `a` has a value of
//!   `v`'s type and no instance nor element equals `v`. Entities lacking `a`, or holding only
//!   values of another type, match neither `a==v` nor `a!=v` (a type mismatch is false, §4.9).
//! * Path items after the attribute name: `observedAt`, `createdAt`, `modifiedAt`, `unitCode`
//!   and `datasetId` address the instance's metadata (and must come last); any other item is a
//!   sub-attribute, expanded like the attribute. Bracketed items (`a[b][c]`) walk into the JSON
//!   value unexpanded, fanning out over arrays; for a LanguageProperty the single bracketed item
//!   selects a language (`name[vi]`).
//! * Compared payloads: a Property's `value` (a JSON-LD typed literal `{"@value": ..}` counts as
//!   its `@value`), a Relationship's `object`(s), every string of a LanguageProperty's map, a
//!   VocabProperty's vocab string(s), a JsonProperty's / ListProperty's JSON. A GeoProperty is
//!   never comparable: only existence terms match it.
//! * Typing: numbers compare with JSON numbers; quoted strings and URIs with JSON strings
//!   (lexicographically, by code point); date-times with strings that parse as RFC 3339
//!   date-times, as instants (a date-time without offset is taken as UTC); dates and times with
//!   strings of exactly that shape; booleans with JSON booleans. A date never equals a date-time.
//! * Ranges are inclusive; a range whose low bound exceeds its high bound matches nothing.
//! * `~=` uses the `regex` crate's syntax and matches anywhere in the string (anchor with `^`/`$`).
//!
//! Geo-queries: `near` measures the haversine (great-circle, mean Earth radius) distance in metres
//! from the reference point to the closest point of the entity's geometry (0 inside a polygon).
//! The other relations follow the OGC DE-9IM predicates of the `geo` crate with the entity
//! geometry first: `within` (entity within the reference), `contains` (entity contains the
//! reference), `intersects`, `disjoint`, `overlaps` and `equals` (topological equality). They work
//! in planar longitude/latitude, which is what GeoJSON prescribes; geometries crossing the
//! antimeridian are not handled. A stored geometry that is not valid GeoJSON never matches any
//! relation, `disjoint` included.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ::geo::{
    BoundingRect, Closest, Contains, Coord, Distance, Haversine, HaversineClosestPoint, Intersects,
    Rect, Relate,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use regex::Regex;
use serde_json::Value;

use crate::entity::{Attribute, AttributeKind, Entity};
use crate::geo::{self as geoq, GeoQuery, GeoRel, Position};
use crate::q::{self, CompareOp, Condition, EqualityValue, Query, QueryTerm};

/// Compiled regular expressions are bounded so a hostile pattern cannot take much memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// q semantics of §4.9 against an expanded entity; `expand` maps a q attribute name to its IRI.
///
/// Regular expressions come from a small per-thread cache, so calling this in a loop does not
/// recompile them; a query with an invalid pattern matches nothing (see [`check_patterns`]).
pub fn matches_q(query: &Query, entity: &Entity, expand: &dyn Fn(&str) -> String) -> bool {
    let mut regexes = HashMap::new();
    let mut patterns = Vec::new();
    collect_patterns(query, &mut patterns);
    for pattern in patterns {
        match cached_regex(pattern) {
            Ok(re) => {
                regexes.insert(pattern.to_string(), re);
            }
            Err(_) => return false,
        }
    }
    Evaluator {
        entity,
        expand,
        regexes: &regexes,
    }
    .query(query)
}

/// Patterns are compiled lazily; this lets the broker refuse a bad regex with 400 up front.
pub fn check_patterns(query: &Query) -> Result<(), String> {
    let mut patterns = Vec::new();
    collect_patterns(query, &mut patterns);
    patterns
        .into_iter()
        // Through the cache, so the scan that follows a successful check compiles nothing.
        .try_for_each(|p| cached_regex(p).map(drop))
}

/// geo-query §4.10 against one GeoJSON geometry object (serde_json::Value).
///
/// Converts the reference geometry on every call; scans should build a [`CompiledGeoQuery`].
pub fn matches_geometry(query: &GeoQuery, geometry: &Value) -> bool {
    CompiledGeoQuery::new(query).matches_geometry(geometry)
}

/// Any instance of the GeoProperty `geoproperty_iri` matches.
pub fn matches_geo(query: &GeoQuery, entity: &Entity, geoproperty_iri: &str) -> bool {
    CompiledGeoQuery::new(query).matches(entity, geoproperty_iri)
}

/// Bounding box [min_lon, min_lat, max_lon, max_lat] of a GeoJSON geometry, None if invalid.
pub fn bbox(geometry: &Value) -> Option<[f64; 4]> {
    let rect = geometry_from_json(geometry)?.bounding_rect()?;
    Some([rect.min().x, rect.min().y, rect.max().x, rect.max().y])
}

/// A `q` query with its regular expressions compiled once, for scanning many entities.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    query: Query,
    regexes: HashMap<String, Regex>,
}

impl CompiledQuery {
    /// Fails with a message naming the pattern when a regular expression does not compile.
    pub fn new(query: &Query) -> Result<Self, String> {
        let mut patterns = Vec::new();
        collect_patterns(query, &mut patterns);
        let mut regexes = HashMap::new();
        for pattern in patterns {
            if !regexes.contains_key(pattern) {
                regexes.insert(pattern.to_string(), compile_regex(pattern)?);
            }
        }
        Ok(CompiledQuery {
            query: query.clone(),
            regexes,
        })
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Same answer as [`matches_q`].
    pub fn matches(&self, entity: &Entity, expand: &dyn Fn(&str) -> String) -> bool {
        Evaluator {
            entity,
            expand,
            regexes: &self.regexes,
        }
        .query(&self.query)
    }
}

/// A geo-query with its reference geometry converted once, for scanning many entities.
#[derive(Debug, Clone)]
pub struct CompiledGeoQuery {
    georel: GeoRel,
    /// `None` only if the parser let through an empty geometry; such a query matches nothing.
    geometry: Option<::geo::Geometry<f64>>,
    bbox: Option<Rect<f64>>,
}

impl CompiledGeoQuery {
    pub fn new(query: &GeoQuery) -> Self {
        let geometry = query_geometry(&query.geometry);
        let bbox = geometry.as_ref().and_then(|g| g.bounding_rect());
        CompiledGeoQuery {
            georel: query.georel.clone(),
            geometry,
            bbox,
        }
    }

    /// Same answer as [`matches_geometry`].
    pub fn matches_geometry(&self, geometry: &Value) -> bool {
        let (Some(reference), Some(reference_box)) = (&self.geometry, self.bbox) else {
            return false;
        };
        let Some(target) = geometry_from_json(geometry) else {
            return false;
        };
        // geo's algorithms assert on some degenerate inputs (e.g. self-intersecting rings);
        // a bad stored geometry must cost one non-match, not the whole request.
        catch_unwind(AssertUnwindSafe(|| {
            self.relate(&target, reference, reference_box)
        }))
        .unwrap_or(false)
    }

    /// Same answer as [`matches_geo`].
    pub fn matches(&self, entity: &Entity, geoproperty_iri: &str) -> bool {
        entity
            .attributes
            .get(geoproperty_iri)
            .is_some_and(|instances| {
                instances.iter().any(|a| {
                    a.kind == AttributeKind::GeoProperty && self.matches_geometry(&a.value)
                })
            })
    }

    fn relate(
        &self,
        target: &::geo::Geometry<f64>,
        reference: &::geo::Geometry<f64>,
        reference_box: Rect<f64>,
    ) -> bool {
        if let GeoRel::Near(distance) = &self.georel {
            let ::geo::Geometry::Point(point) = reference else {
                return false;
            };
            let metres = match target.haversine_closest_point(point) {
                Closest::Intersection(_) => 0.0,
                Closest::SinglePoint(closest) => Haversine.distance(closest, *point),
                Closest::Indeterminate => return false,
            };
            return distance.max.is_none_or(|max| metres <= max)
                && distance.min.is_none_or(|min| metres >= min);
        }
        let Some(target_box) = target.bounding_rect() else {
            return false;
        };
        // Bounding boxes settle most entities of a scan without the costly DE-9IM matrix.
        let boxes_meet = rects_intersect(target_box, reference_box);
        match self.georel {
            GeoRel::Near(_) => false,
            GeoRel::Intersects => boxes_meet && target.intersects(reference),
            GeoRel::Disjoint => !boxes_meet || !target.intersects(reference),
            // `Contains` has fast paths for common pairs (point in polygon) and otherwise
            // computes the same DE-9IM predicate; `a within b` is `b contains a`.
            GeoRel::Within => rect_covers(reference_box, target_box) && reference.contains(target),
            GeoRel::Contains => {
                rect_covers(target_box, reference_box) && target.contains(reference)
            }
            GeoRel::Overlaps => boxes_meet && target.relate(reference).is_overlaps(),
            GeoRel::Equals => {
                target_box == reference_box
                    && (target == reference || target.relate(reference).is_equal_topo())
            }
        }
    }
}

fn rects_intersect(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// Whether `outer` covers `inner` (boundary included).
fn rect_covers(outer: Rect<f64>, inner: Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

// ---------------------------------------------------------------------------------------------
// Regular expressions

fn collect_patterns<'q>(query: &'q Query, out: &mut Vec<&'q str>) {
    match query {
        Query::Term(term) => {
            if let Some(Condition::Pattern(p) | Condition::NotPattern(p)) = &term.condition {
                out.push(p);
            }
        }
        Query::And(items) | Query::Or(items) => {
            for item in items {
                collect_patterns(item, out);
            }
        }
    }
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Distinct patterns kept per thread; past this the cache starts over (queries rarely vary).
const REGEX_CACHE_CAPACITY: usize = 64;

fn cached_regex(pattern: &str) -> Result<Regex, String> {
    REGEX_CACHE.with(|cache| {
        // A re-entrant call (an `expand` that itself evaluates a query) finds the cache
        // borrowed; it then compiles without caching rather than panicking.
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return compile_regex(pattern);
        };
        if let Some(re) = cache.get(pattern) {
            return Ok(re.clone());
        }
        let re = compile_regex(pattern)?;
        if cache.len() >= REGEX_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

// ---------------------------------------------------------------------------------------------
// q evaluation

struct Evaluator<'a> {
    entity: &'a Entity,
    expand: &'a dyn Fn(&str) -> String,
    regexes: &'a HashMap<String, Regex>,
}

/// What a term reaches: the existence of its target, then each comparable scalar in it.
enum Item<'v> {
    Exists,
    Scalar(Scalar<'v>),
    /// A Relationship's object: only `==` and `!=` apply to it (§4.9).
    Object(&'v str),
}

#[derive(Clone, Copy)]
enum Scalar<'v> {
    Number(f64),
    Str(&'v str),
    Bool(bool),
    /// `createdAt` / `modifiedAt`, stored as milliseconds.
    Instant(DateTime<Utc>),
}

#[derive(Clone, Copy)]
enum Meta {
    ObservedAt,
    CreatedAt,
    ModifiedAt,
    UnitCode,
    DatasetId,
}

enum Step {
    Meta(Meta),
    /// An expanded sub-attribute IRI.
    Sub(String),
}

impl Evaluator<'_> {
    fn query(&self, query: &Query) -> bool {
        match query {
            Query::Term(term) => self.term(term),
            Query::And(items) => items.iter().all(|q| self.query(q)),
            Query::Or(items) => items.iter().any(|q| self.query(q)),
        }
    }

    fn term(&self, term: &QueryTerm) -> bool {
        let attribute = &term.attribute;
        let Some((name, rest)) = attribute.path.split_first() else {
            return false;
        };
        let Some(instances) = self.entity.attributes.get(&(self.expand)(name)) else {
            return false;
        };
        // Expanded once per term, not once per instance.
        let steps: Vec<Step> = rest
            .iter()
            .map(|item| match meta(item) {
                Some(m) => Step::Meta(m),
                None => Step::Sub((self.expand)(item)),
            })
            .collect();
        let trailing = attribute.trailing.as_slice();
        let visit = |f: &mut dyn FnMut(Item) -> ControlFlow<()>| {
            for instance in instances {
                if visit_attribute(instance, &steps, trailing, f).is_break() {
                    return;
                }
            }
        };
        let Some(condition) = &term.condition else {
            let mut exists = false;
            visit(&mut |_| {
                exists = true;
                ControlFlow::Break(())
            });
            return exists;
        };
        // `comparable`: some value had the operand's type (for `!=`, any value: a value of
        // another type is unequal, §4.9); `hit`: some value satisfied the positive form of the
        // condition (`==` for `!=`, `~=` for `!~=`).
        let unequal = matches!(condition, Condition::NotEqual(_));
        let (mut comparable, mut hit) = (false, false);
        visit(&mut |item| {
            let scalar = match item {
                Item::Scalar(scalar) => scalar,
                Item::Object(object)
                    if matches!(condition, Condition::Equal(_) | Condition::NotEqual(_)) =>
                {
                    Scalar::Str(object)
                }
                _ => return ControlFlow::Continue(()),
            };
            match self.test(condition, scalar) {
                Some(true) => {
                    hit = true;
                    ControlFlow::Break(())
                }
                Some(false) => {
                    comparable = true;
                    ControlFlow::Continue(())
                }
                None => {
                    comparable |= unequal;
                    ControlFlow::Continue(())
                }
            }
        });
        match condition {
            Condition::NotEqual(_) | Condition::NotPattern(_) => comparable && !hit,
            _ => hit,
        }
    }

    /// `None` when the scalar's type does not fit the condition.
    fn test(&self, condition: &Condition, scalar: Scalar) -> Option<bool> {
        match condition {
            Condition::Compare { op, value } => {
                let ord = compare(scalar, value)?;
                Some(match op {
                    CompareOp::Greater => ord == Ordering::Greater,
                    CompareOp::GreaterEq => ord != Ordering::Less,
                    CompareOp::Less => ord == Ordering::Less,
                    CompareOp::LessEq => ord != Ordering::Greater,
                })
            }
            Condition::Equal(value) | Condition::NotEqual(value) => equals(scalar, value),
            Condition::Pattern(pattern) | Condition::NotPattern(pattern) => {
                let Scalar::Str(s) = scalar else {
                    return None;
                };
                // Absent only if the caller skipped compilation; no match is the safe answer.
                Some(self.regexes.get(pattern).is_some_and(|re| re.is_match(s)))
            }
        }
    }
}

fn meta(item: &str) -> Option<Meta> {
    Some(match item {
        "observedAt" => Meta::ObservedAt,
        "createdAt" => Meta::CreatedAt,
        "modifiedAt" => Meta::ModifiedAt,
        "unitCode" => Meta::UnitCode,
        "datasetId" => Meta::DatasetId,
        _ => return None,
    })
}

type Visitor<'f, 'v> = &'f mut dyn FnMut(Item<'v>) -> ControlFlow<()>;

fn visit_attribute<'v>(
    attribute: &'v Attribute,
    steps: &[Step],
    trailing: &[String],
    f: Visitor<'_, 'v>,
) -> ControlFlow<()> {
    match steps.split_first() {
        None => visit_payload(attribute, trailing, f),
        Some((Step::Meta(m), rest)) => {
            if rest.is_empty() && trailing.is_empty() {
                visit_meta(attribute, *m, f)
            } else {
                ControlFlow::Continue(())
            }
        }
        Some((Step::Sub(iri), rest)) => match attribute.sub_attributes.get(iri) {
            Some(sub) => visit_attribute(sub, rest, trailing, f),
            None => ControlFlow::Continue(()),
        },
    }
}

fn visit_meta<'v>(attribute: &'v Attribute, meta: Meta, f: Visitor<'_, 'v>) -> ControlFlow<()> {
    let text = match meta {
        Meta::ObservedAt => attribute.observed_at.as_deref(),
        Meta::UnitCode => attribute.unit_code.as_deref(),
        Meta::DatasetId => attribute.dataset_id.as_deref(),
        Meta::CreatedAt | Meta::ModifiedAt => {
            let ms = match meta {
                Meta::CreatedAt => attribute.created_at,
                _ => attribute.modified_at,
            };
            f(Item::Exists)?;
            return match DateTime::from_timestamp_millis(ms) {
                Some(instant) => f(Item::Scalar(Scalar::Instant(instant))),
                None => ControlFlow::Continue(()),
            };
        }
    };
    match text {
        Some(s) => {
            f(Item::Exists)?;
            f(Item::Scalar(Scalar::Str(s)))
        }
        None => ControlFlow::Continue(()),
    }
}

fn visit_payload<'v>(
    attribute: &'v Attribute,
    trailing: &[String],
    f: Visitor<'_, 'v>,
) -> ControlFlow<()> {
    let value = &attribute.value;
    match attribute.kind {
        AttributeKind::GeoProperty => {
            if trailing.is_empty() {
                f(Item::Exists)
            } else {
                ControlFlow::Continue(())
            }
        }
        AttributeKind::LanguageProperty => {
            let Some(map) = value.as_object() else {
                return ControlFlow::Continue(());
            };
            match trailing {
                [] => {
                    f(Item::Exists)?;
                    map.values().try_for_each(|v| visit_strings(v, f))
                }
                [any] if any == "*" => {
                    f(Item::Exists)?;
                    map.values().try_for_each(|v| visit_strings(v, f))
                }
                [language] => match map.get(language) {
                    Some(v) => {
                        f(Item::Exists)?;
                        visit_strings(v, f)
                    }
                    None => ControlFlow::Continue(()),
                },
                _ => ControlFlow::Continue(()),
            }
        }
        AttributeKind::Relationship | AttributeKind::ListRelationship => {
            if trailing.is_empty() {
                f(Item::Exists)?;
                visit_objects(value, f)
            } else {
                ControlFlow::Continue(())
            }
        }
        AttributeKind::Property
        | AttributeKind::JsonProperty
        | AttributeKind::VocabProperty
        | AttributeKind::ListProperty => visit_json_at(value, trailing, f),
    }
}

/// Walks `trailing` keys into `value`; arrays met on the way are searched element by element.
fn visit_json_at<'v>(value: &'v Value, trailing: &[String], f: Visitor<'_, 'v>) -> ControlFlow<()> {
    match trailing.split_first() {
        None => {
            f(Item::Exists)?;
            visit_scalars(value, f)
        }
        Some((key, rest)) => match value {
            Value::Object(map) => match map.get(key) {
                Some(inner) => visit_json_at(inner, rest, f),
                None => ControlFlow::Continue(()),
            },
            Value::Array(items) => items.iter().try_for_each(|v| visit_json_at(v, trailing, f)),
            _ => ControlFlow::Continue(()),
        },
    }
}

fn visit_scalars<'v>(value: &'v Value, f: Visitor<'_, 'v>) -> ControlFlow<()> {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(x) => f(Item::Scalar(Scalar::Number(x))),
            None => ControlFlow::Continue(()),
        },
        Value::String(s) => f(Item::Scalar(Scalar::Str(s))),
        Value::Bool(b) => f(Item::Scalar(Scalar::Bool(*b))),
        Value::Array(items) => items.iter().try_for_each(|v| visit_scalars(v, f)),
        // A JSON-LD typed literal, e.g. {"@type": "DateTime", "@value": "2024-01-01T00:00:00Z"}.
        Value::Object(map) => match map.get("@value") {
            Some(inner) => visit_scalars(inner, f),
            None => ControlFlow::Continue(()),
        },
        Value::Null => ControlFlow::Continue(()),
    }
}

/// Relationship objects: a URI, an array of URIs, or (objectList) `{"object": URI}` items.
fn visit_objects<'v>(value: &'v Value, f: Visitor<'_, 'v>) -> ControlFlow<()> {
    match value {
        Value::String(s) => f(Item::Object(s)),
        Value::Array(items) => items.iter().try_for_each(|v| visit_objects(v, f)),
        Value::Object(map) => match map.get("object") {
            Some(inner) => visit_objects(inner, f),
            None => ControlFlow::Continue(()),
        },
        _ => ControlFlow::Continue(()),
    }
}

fn visit_strings<'v>(value: &'v Value, f: Visitor<'_, 'v>) -> ControlFlow<()> {
    match value {
        Value::String(s) => f(Item::Scalar(Scalar::Str(s))),
        Value::Array(items) => items.iter().try_for_each(|v| visit_strings(v, f)),
        _ => ControlFlow::Continue(()),
    }
}

/// `None` when the types differ (or a string does not parse as the operand's date/time kind).
fn equals(scalar: Scalar, value: &EqualityValue) -> Option<bool> {
    match value {
        EqualityValue::Single(v) => compare(scalar, v).map(Ordering::is_eq),
        EqualityValue::Range(low, high) => {
            let (low, high) = (compare(scalar, low)?, compare(scalar, high)?);
            Some(low.is_ge() && high.is_le())
        }
        EqualityValue::List(items) => {
            let mut result = None;
            for item in items {
                match compare(scalar, item) {
                    Some(Ordering::Equal) => return Some(true),
                    Some(_) => result = Some(false),
                    None => {}
                }
            }
            result
        }
    }
}

/// Orders the entity's scalar relative to the query operand.
fn compare(scalar: Scalar, operand: &q::Value) -> Option<Ordering> {
    match (scalar, operand) {
        (Scalar::Number(x), q::Value::Number(n)) => x.partial_cmp(n),
        (Scalar::Str(s), q::Value::Text(t) | q::Value::Uri(t)) => Some(s.cmp(t.as_str())),
        (Scalar::Str(s), q::Value::DateTime(d)) => Some(parse_instant(s)?.cmp(&parse_instant(d)?)),
        (Scalar::Instant(i), q::Value::DateTime(d)) => Some(i.cmp(&parse_instant(d)?)),
        (Scalar::Str(s), q::Value::Date(d)) => Some(parse_date(s)?.cmp(&parse_date(d)?)),
        (Scalar::Str(s), q::Value::Time(t)) => Some(parse_time(s)?.cmp(&parse_time(t)?)),
        (Scalar::Bool(x), q::Value::Bool(b)) => Some(x.cmp(b)),
        _ => None,
    }
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc())
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    // chrono accepts one-digit months and days; the ISO form has exactly ten characters.
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok()
}

// ---------------------------------------------------------------------------------------------
// GeoJSON → geo

fn coord(p: &Position) -> Coord<f64> {
    Coord { x: p.lon, y: p.lat }
}

fn query_geometry(geometry: &geoq::Geometry) -> Option<::geo::Geometry<f64>> {
    use ::geo::{LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
    let line = |ps: &Vec<Position>| LineString::new(ps.iter().map(coord).collect());
    let polygon = |rings: &Vec<Vec<Position>>| {
        let (exterior, interiors) = rings.split_first()?;
        Some(Polygon::new(
            line(exterior),
            interiors.iter().map(line).collect(),
        ))
    };
    Some(match geometry {
        geoq::Geometry::Point(p) => Point::from(coord(p)).into(),
        geoq::Geometry::LineString(ps) => line(ps).into(),
        geoq::Geometry::MultiPoint(ps) if !ps.is_empty() => {
            MultiPoint::new(ps.iter().map(|p| Point::from(coord(p))).collect()).into()
        }
        geoq::Geometry::Polygon(rings) => polygon(rings)?.into(),
        geoq::Geometry::MultiLineString(lines) if !lines.is_empty() => {
            MultiLineString::new(lines.iter().map(line).collect()).into()
        }
        geoq::Geometry::MultiPolygon(polys) if !polys.is_empty() => {
            MultiPolygon::new(polys.iter().map(polygon).collect::<Option<_>>()?).into()
        }
        _ => return None,
    })
}

/// Converts a GeoJSON geometry object, applying the same rules as the geo-query parser
/// (positions in range, lines of 2+ positions, closed rings of 4+ positions, no empty multi
/// geometries), plus GeometryCollection. Anything else is `None`.
fn geometry_from_json(value: &Value) -> Option<::geo::Geometry<f64>> {
    use ::geo::{
        GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
    };
    let kind = value.get("type")?.as_str()?;
    if kind == "GeometryCollection" {
        let members = value.get("geometries")?.as_array()?;
        if members.is_empty() {
            return None;
        }
        let members = members
            .iter()
            .map(geometry_from_json)
            .collect::<Option<Vec<_>>>()?;
        return Some(::geo::Geometry::GeometryCollection(
            GeometryCollection::new_from(members),
        ));
    }
    let coordinates = value.get("coordinates")?;
    Some(match kind {
        "Point" => Point::from(json_position(coordinates)?).into(),
        "LineString" => json_line(coordinates, 2)?.into(),
        "Polygon" => json_polygon(coordinates)?.into(),
        "MultiPoint" => MultiPoint::new(
            json_line(coordinates, 1)?
                .into_iter()
                .map(Point::from)
                .collect(),
        )
        .into(),
        "MultiLineString" => MultiLineString::new(
            non_empty(coordinates)?
                .iter()
                .map(|l| json_line(l, 2))
                .collect::<Option<Vec<LineString<f64>>>>()?,
        )
        .into(),
        "MultiPolygon" => MultiPolygon::new(
            non_empty(coordinates)?
                .iter()
                .map(json_polygon)
                .collect::<Option<Vec<Polygon<f64>>>>()?,
        )
        .into(),
        _ => return None,
    })
}

fn non_empty(value: &Value) -> Option<&Vec<Value>> {
    value.as_array().filter(|a| !a.is_empty())
}

fn json_position(value: &Value) -> Option<Coord<f64>> {
    let a = value.as_array()?;
    if !(2..=3).contains(&a.len()) || !a.iter().all(Value::is_number) {
        return None;
    }
    let (x, y) = (a[0].as_f64()?, a[1].as_f64()?);
    ((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)).then_some(Coord { x, y })
}

fn json_line(value: &Value, min: usize) -> Option<::geo::LineString<f64>> {
    let coords = non_empty(value)?
        .iter()
        .map(json_position)
        .collect::<Option<Vec<_>>>()?;
    (coords.len() >= min).then(|| ::geo::LineString::new(coords))
}

fn json_polygon(value: &Value) -> Option<::geo::Polygon<f64>> {
    let rings = non_empty(value)?
        .iter()
        .map(|r| json_line(r, 4).filter(|l| l.is_closed()))
        .collect::<Option<Vec<_>>>()?;
    let (exterior, interiors) = rings.split_first()?;
    Some(::geo::Polygon::new(exterior.clone(), interiors.to_vec()))
}
