//! The entity selection of the query operations (§6.4.3.2 Query and Purge Entities, §6.18.3.2
//! Query Temporal Evolution of Entities): `id`, `idPattern`, `type`, `attrs`, `q`, `csf`,
//! `scopeQ`, the geo-query and `local`, parsed once for every endpoint. What is enough of a
//! restriction differs per operation (§5.7.2.4, §5.7.4.4), so each endpoint applies its own rule
//! with [`Selection::names_user_attribute`] and the fields; paging (`limit`, `offset`, `count`)
//! and ordering stay with the endpoints.

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, LOCATION};
use dothi_ngsild::geo::GeoQuery;
use dothi_ngsild::scopeq::ScopeQuery;
use dothi_ngsild::{geo, q, scopeq, typesel};

use crate::negotiate::{list_param, param};
use crate::Problem;

/// A parsed entity selection, names expanded (except inside `q`).
pub(crate) struct Selection {
    pub ids: Vec<String>,
    pub id_pattern: Option<String>,
    /// Type selection in disjunctive normal form; None: any type (also for `type=*`).
    pub types: Option<Vec<Vec<String>>>,
    /// `type=*` (§4.17): every type of this broker.
    pub all_types: bool,
    pub local: Option<bool>,
    /// `attrs` as given.
    pub attr_names: Vec<String>,
    /// `attrs` expanded.
    pub attrs: Vec<String>,
    pub q: Option<q::Query>,
    pub scope_q: Option<ScopeQuery>,
    /// The geo-query and the expanded GeoProperty it applies to.
    pub geo: Option<(GeoQuery, String)>,
}

impl Selection {
    /// Whether `attrs` or `q` name an attribute that is not a system one: system attributes
    /// alone do not narrow a query (§5.7.2.4).
    pub fn names_user_attribute(&self) -> bool {
        self.attr_names
            .iter()
            .any(|a| !SYSTEM_NAMES.contains(&a.as_str()))
            || self.q.as_ref().is_some_and(query_names_user_attribute)
    }
}

/// Parses the selection parameters of `params`; a malformed one is 400 BadRequestData.
pub(crate) fn parse(params: &[(String, String)], ctx: &Context) -> Result<Selection, Problem> {
    let ids = list_param(params, "id");
    for id in &ids {
        check_id(id)?;
    }
    let id_pattern = param(params, "idPattern").map(str::to_string);
    if let Some(pattern) = &id_pattern {
        check_id_pattern(pattern)?;
    }
    let local = match param(params, "local") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(Problem::bad_request_data(format!(
                "local must be true or false, not {other}"
            )))
        }
    };
    // `type=*` selects every type (§4.17); it means a local query, so local=false contradicts.
    let all_types = param(params, "type") == Some("*");
    if all_types && local == Some(false) {
        return Err(Problem::bad_request_data(
            "type=* selects every entity type of this broker and cannot go with local=false",
        ));
    }
    let types = match param(params, "type").filter(|_| !all_types) {
        Some(selection) => Some(
            typesel::parse(selection)
                .map_err(|e| Problem::bad_request_data(format!("type: {e}")))?
                .into_iter()
                .map(|group| group.iter().map(|t| ctx.expand(t)).collect())
                .collect(),
        ),
        None => None,
    };
    let attr_names = list_param(params, "attrs");
    let attrs = attr_names.iter().map(|a| ctx.expand(a)).collect();
    let q = match param(params, "q") {
        Some(text) => {
            Some(q::parse(text).map_err(|e| Problem::bad_request_data(format!("q: {e}")))?)
        }
        None => None,
    };
    if let Some(csf) = param(params, "csf") {
        q::parse(csf).map_err(|e| Problem::bad_request_data(format!("csf: {e}")))?;
    }
    let scope_q = match param(params, "scopeQ") {
        Some(text) => Some(
            scopeq::parse(text).map_err(|e| Problem::bad_request_data(format!("scopeQ: {e}")))?,
        ),
        None => None,
    };
    let geo = match (
        param(params, "georel"),
        param(params, "geometry"),
        param(params, "coordinates"),
    ) {
        (None, None, None) => None,
        (Some(georel), Some(geometry), Some(coordinates)) => {
            let query = geo::parse(georel, geometry, coordinates)
                .map_err(|e| Problem::bad_request_data(format!("geo-query: {e}")))?;
            let property = param(params, "geoproperty")
                .map(|g| ctx.expand(g))
                .unwrap_or_else(|| LOCATION.to_string());
            Some((query, property))
        }
        _ => {
            return Err(Problem::bad_request_data(
                "a geo-query needs georel, geometry and coordinates together",
            ))
        }
    };
    Ok(Selection {
        ids,
        id_pattern,
        types,
        all_types,
        local,
        attr_names,
        attrs,
        q,
        scope_q,
        geo,
    })
}

/// An entity id (in a path or in `id`) must be a URI.
pub(crate) fn check_id(id: &str) -> Result<(), Problem> {
    if document::is_uri(id) {
        Ok(())
    } else {
        Err(Problem::bad_request_data(format!(
            "the entity id '{id}' is not a URI"
        )))
    }
}

/// System attribute names: they do not narrow a query (§5.7.2.4).
const SYSTEM_NAMES: &[&str] = &[
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "observedAt",
    "id",
    "type",
];

fn query_names_user_attribute(query: &q::Query) -> bool {
    match query {
        q::Query::Term(term) => term
            .attribute
            .path
            .first()
            .is_some_and(|a| !SYSTEM_NAMES.contains(&a.as_str())),
        q::Query::And(items) | q::Query::Or(items) => items.iter().any(query_names_user_attribute),
    }
}

/// `idPattern` is a regular expression; a malformed one is BadRequestData. Besides what the
/// regex engine refuses, a quantifier applied to a quantifier (`a**`) is refused, as in
/// POSIX and PCRE.
fn check_id_pattern(pattern: &str) -> Result<(), Problem> {
    let bad = |why: String| {
        Problem::bad_request_data(format!(
            "idPattern '{pattern}' is not a valid regular expression: {why}"
        ))
    };
    let mut escaped = false;
    let mut previous_quantifier = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            previous_quantifier = false;
            continue;
        }
        let quantifier = matches!(c, '*' | '+');
        if quantifier && previous_quantifier {
            return Err(bad(format!("'{c}' repeats a repetition")));
        }
        escaped = c == '\\';
        previous_quantifier = quantifier;
    }
    Ok(())
}
