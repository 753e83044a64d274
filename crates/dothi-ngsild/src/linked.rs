//! Linked Entity Retrieval (§4.5.23): the `join`/`joinLevel` request options, the nested
//! `pick`/`omit` selections that address linked entities (§4.21, `locatedAt{id,name}`), and
//! the shape of the answer once the broker has fetched the linked entities.
//!
//! * `join=inline`: the linked entity is embedded in its Relationship, as `entity` (normalized
//!   and concise forms; `entityList` for a ListRelationship) or in place of the object
//!   (keyValues).
//! * `join=flat`: the linked entities follow the requested entities in the result array, each
//!   once, level by level.
//! * `join=@none` (or no `join`): no linked entity.
//!
//! Everything here is pure; [`targets`] tells the broker which entities to fetch.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::context::Context;
use crate::document::{render_entity, RenderOptions};
use crate::entity::{AttributeKind, Entity};
use crate::projection::{self, ProjectionTerm};

/// The deepest `joinLevel` accepted: a bound on the work of one request.
pub const MAX_JOIN_LEVEL: u32 = 10;

/// How linked entities are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    Inline,
    Flat,
}

/// The member of a `pick`/`omit` selection named `name`, if any.
fn member<'a>(selection: &'a [ProjectionTerm], name: &str) -> Option<&'a ProjectionTerm> {
    selection.iter().find(|m| m.name == name)
}

/// The selection that applies to the entity linked by the member `name` (`locatedAt{id,name}`).
fn nested<'a>(selection: Option<&'a [ProjectionTerm]>, name: &str) -> Option<&'a [ProjectionTerm]> {
    selection
        .and_then(|s| member(s, name))
        .filter(|m| !m.linked.is_empty())
        .map(|m| m.linked.as_slice())
}

/// What a request asks of linked entities (`join`, `joinLevel`, `pick`, `omit`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkedRequest {
    pub join: Option<Join>,
    /// Hops to follow (1 when `join` is given without `joinLevel`).
    pub level: u32,
    /// `pick`/`omit` as parsed by [`projection::parse`] (compact names, as the client wrote
    /// them); the terms in braces apply to the linked entity.
    pub pick: Option<Vec<ProjectionTerm>>,
    pub omit: Option<Vec<ProjectionTerm>>,
}

impl LinkedRequest {
    /// Reads the parameters; None when the request neither joins nor selects members with
    /// `pick`/`omit` braces, so that the plain rendering applies.
    pub fn parse(
        join: Option<&str>,
        join_level: Option<&str>,
        pick: Option<&str>,
        omit: Option<&str>,
    ) -> Result<Option<LinkedRequest>, String> {
        let join = match join {
            None | Some("") | Some("@none") => None,
            Some("inline") => Some(Join::Inline),
            Some("flat") => Some(Join::Flat),
            Some(other) => return Err(format!("join must be inline, flat or @none, not {other}")),
        };
        let level = match join_level {
            None | Some("") => 1,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_JOIN_LEVEL).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "joinLevel must be an integer from 1 to {MAX_JOIN_LEVEL}, not {text}"
                    ))
                }
            },
        };
        let selection = |text: Option<&str>, what: &str| match text {
            None | Some("") => Ok(None),
            Some(t) => projection::parse(t)
                .map(Some)
                .map_err(|e| format!("{what}: {e}")),
        };
        let pick = selection(pick, "pick")?;
        let omit = selection(omit, "omit")?;
        let depth = pick
            .iter()
            .chain(omit.iter())
            .map(|s| projection::depth(s))
            .max()
            .unwrap_or(0);
        let depth = u32::try_from(depth).unwrap_or(u32::MAX);
        if depth > 0 && join.is_none() {
            return Err(
                "pick/omit select members of linked entities ({…}) only together with join".into(),
            );
        }
        if depth > level {
            return Err(format!(
                "pick/omit address linked entities {depth} hops away, but joinLevel is {level}"
            ));
        }
        if join.is_none() && depth == 0 {
            return Ok(None);
        }
        Ok(Some(LinkedRequest {
            join,
            level: if join.is_some() { level } else { 0 },
            pick,
            omit,
        }))
    }
}

/// The ids an entity's Relationships and ListRelationships point to, in attribute order.
pub fn targets(entity: &Entity) -> Vec<String> {
    let mut out = Vec::new();
    for instances in entity.attributes.values() {
        for attr in instances {
            if matches!(
                attr.kind,
                AttributeKind::Relationship | AttributeKind::ListRelationship
            ) {
                push_uris(&attr.value, &mut out);
            }
        }
    }
    out
}

fn push_uris(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| push_uris(v, out)),
        _ => {}
    }
}

/// Renders `roots` with their linked entities (from `linked`, keyed by id) as the request
/// asks: one value per root for `inline` or no join, the roots followed by the linked
/// entities for `flat`. `options.attrs` applies to the roots only.
pub fn render(
    roots: &[Entity],
    linked: &HashMap<String, Entity>,
    request: &LinkedRequest,
    ctx: &Context,
    options: &RenderOptions,
) -> Vec<Value> {
    let linked_options = RenderOptions {
        attrs: None,
        ..options.clone()
    };
    let renderer = Renderer {
        linked,
        request,
        ctx,
        options: &linked_options,
    };
    let mut out = Vec::with_capacity(roots.len());
    // Flat: (entity, selections that apply to it, hops left), level by level.
    let mut next = Vec::new();
    for root in roots {
        let (map, follow) = renderer.entity(
            root,
            options,
            request.pick.as_deref(),
            request.omit.as_deref(),
            request.level,
            &mut vec![root.id.clone()],
        );
        out.push(Value::Object(map));
        next.extend(follow);
    }
    if request.join == Some(Join::Flat) {
        let mut seen: HashSet<String> = roots.iter().map(|e| e.id.clone()).collect();
        while !next.is_empty() {
            let mut after = Vec::new();
            for (id, pick, omit, level) in next {
                let Some(entity) = linked.get(&id) else {
                    continue;
                };
                if !seen.insert(id) {
                    continue;
                }
                let (map, follow) = renderer.entity(
                    entity,
                    &linked_options,
                    pick,
                    omit,
                    level,
                    &mut vec![entity.id.clone()],
                );
                out.push(Value::Object(map));
                after.extend(follow);
            }
            next = after;
        }
    }
    out
}

/// A linked entity still to render in flat form: id, pick, omit, hops left.
type Pending<'a> = (
    String,
    Option<&'a [ProjectionTerm]>,
    Option<&'a [ProjectionTerm]>,
    u32,
);

struct Renderer<'a> {
    linked: &'a HashMap<String, Entity>,
    request: &'a LinkedRequest,
    ctx: &'a Context,
    options: &'a RenderOptions,
}

impl<'a> Renderer<'a> {
    /// Renders one entity with its selections applied; inline, the linked entities are
    /// embedded; flat, they are returned to be rendered after.
    fn entity(
        &self,
        entity: &Entity,
        options: &RenderOptions,
        pick: Option<&'a [ProjectionTerm]>,
        omit: Option<&'a [ProjectionTerm]>,
        level: u32,
        path: &mut Vec<String>,
    ) -> (Map<String, Value>, Vec<Pending<'a>>) {
        let mut map = render_entity(entity, self.ctx, options);
        if let Some(pick) = pick {
            map.retain(|k, _| member(pick, k).is_some());
        }
        if let Some(omit) = omit {
            map.retain(|k, _| member(omit, k).is_none_or(|m| !m.linked.is_empty()));
        }
        let mut follow = Vec::new();
        if level == 0 || self.request.join.is_none() {
            return (map, follow);
        }
        for (iri, instances) in &entity.attributes {
            let kind = instances[0].kind;
            if !matches!(
                kind,
                AttributeKind::Relationship | AttributeKind::ListRelationship
            ) {
                continue;
            }
            let name = self.ctx.compact(iri);
            let Some(member) = map.get_mut(&name) else {
                continue;
            };
            let (child_pick, child_omit) = (nested(pick, &name), nested(omit, &name));
            match self.request.join {
                Some(Join::Flat) => {
                    for instance in instances {
                        let mut ids = Vec::new();
                        push_uris(&instance.value, &mut ids);
                        follow.extend(
                            ids.into_iter()
                                .map(|id| (id, child_pick, child_omit, level - 1)),
                        );
                    }
                }
                Some(Join::Inline) => {
                    let mut embed = |id: &str| -> Option<Value> {
                        let linked = self.linked.get(id)?;
                        if path.iter().any(|p| p == id) {
                            return None;
                        }
                        path.push(id.to_string());
                        let (m, _) = self.entity(
                            linked,
                            self.options,
                            child_pick,
                            child_omit,
                            level - 1,
                            path,
                        );
                        path.pop();
                        Some(Value::Object(m))
                    };
                    embed_into(member, kind, &mut embed);
                }
                None => {}
            }
        }
        (map, follow)
    }
}

/// Embeds the linked entities in one rendered attribute (an instance or an array of them).
fn embed_into(
    member: &mut Value,
    kind: AttributeKind,
    embed: &mut dyn FnMut(&str) -> Option<Value>,
) {
    match member {
        // keyValues: the object (or the list of objects) is replaced by the entities.
        Value::String(id) => {
            if let Some(e) = embed(id) {
                *member = e;
            }
        }
        Value::Array(items) => {
            for item in items {
                embed_into(item, kind, embed);
            }
        }
        Value::Object(instance) => {
            let (payload, target) = match kind {
                AttributeKind::ListRelationship => ("objectList", "entityList"),
                _ => ("object", "entity"),
            };
            let embedded = match instance.get(payload) {
                Some(Value::String(id)) => embed(id),
                Some(Value::Array(ids)) => {
                    let list: Vec<Value> = ids
                        .iter()
                        .filter_map(|v| v.as_str())
                        .filter_map(&mut *embed)
                        .collect();
                    (!list.is_empty()).then_some(Value::Array(list))
                }
                _ => None,
            };
            if let Some(e) = embedded {
                instance.insert(target.into(), e);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated() {
        assert_eq!(
            LinkedRequest::parse(None, None, Some("a,b"), None),
            Ok(None)
        );
        assert_eq!(
            LinkedRequest::parse(Some("@none"), None, None, None),
            Ok(None)
        );
        let r = LinkedRequest::parse(Some("flat"), None, None, None)
            .unwrap()
            .unwrap();
        assert_eq!((r.join, r.level), (Some(Join::Flat), 1));
        assert!(LinkedRequest::parse(Some("inline"), Some("0"), None, None).is_err());
        assert!(LinkedRequest::parse(Some("deep"), None, None, None).is_err());
        assert!(LinkedRequest::parse(None, None, Some("a{b}"), None).is_err());
        assert!(LinkedRequest::parse(Some("inline"), Some("1"), None, Some("a{b{c}}")).is_err());
        assert!(LinkedRequest::parse(Some("inline"), Some("2"), None, Some("a{b{c}}")).is_ok());
        // The projection grammar of plain reads (§4.21): `|` separates too.
        let r = LinkedRequest::parse(Some("inline"), None, Some("id|locatedAt{name}"), None)
            .unwrap()
            .unwrap();
        let pick = r.pick.unwrap();
        assert_eq!((pick.len(), pick[1].linked[0].name.as_str()), (2, "name"));
        assert_eq!(
            LinkedRequest::parse(Some("flat"), None, Some("a{b"), None),
            Err("pick: 'a{b' has a '{' that is not closed".into())
        );
    }
}
