//! Entity operations (§5.6) and batch operations (§5.6.7–5.6.10, 5.6.20): each parses the
//! client's document with the request's context, applies the NGSI-LD update semantics from
//! `dothi_ngsild::document`, and stores the result through [`Broker::modify`].

use dothi_ngsild::context::Context;
use dothi_ngsild::document::{self, AttrOutcome, Fragment};
use dothi_ngsild::entity::Entity;
use serde_json::Value;

use crate::{not_found, now_ms, Broker, BrokerError, Mutation, Result};

/// One failed item of a batch operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchError {
    pub entity_id: String,
    pub error: BrokerError,
}

/// The result of a batch operation: ids that succeeded, and the failures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub success: Vec<String>,
    pub errors: Vec<BatchError>,
    /// Upsert only: the ids that were created (as opposed to updated).
    pub created: Vec<String>,
}

/// How an upsert treats an entity that exists (`options=replace|update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertMode {
    Replace,
    Update,
}

/// What Purge Entities (§5.6.21) does to each matching entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    /// Delete the whole entity.
    Entity,
    /// Delete only these (expanded) attributes (`drop`).
    Drop(Vec<String>),
    /// Delete every attribute but these (`keep`).
    Keep(Vec<String>),
}

/// `scope`, expanded: how the entity's scope shows in `updated`/`notUpdated`.
pub const SCOPE: &str = "https://uri.etsi.org/ngsi-ld/scope";

/// Adds the types of a fragment the entity lacks.
fn add_types(entity: &mut Entity, types: &[String]) -> bool {
    let mut added = false;
    for t in types {
        if !entity.types.contains(t) {
            entity.types.push(t.clone());
            added = true;
        }
    }
    added
}

/// Everything of an entity counts as changed when it is created or replaced.
fn all_attributes(entity: &Entity) -> Vec<String> {
    entity.attributes.keys().cloned().collect()
}

impl Broker {
    /// Create Entity (§5.6.1).
    pub async fn create_entity(&self, ctx: &Context, body: &Value) -> Result<String> {
        let entity = document::parse_entity(body, ctx, now_ms())?;
        let id = entity.id.clone();
        let mut entity = Some(entity);
        let results = self
            .modify(std::slice::from_ref(&id), |id, current| {
                if current.is_some() {
                    return Err(BrokerError::AlreadyExists(format!(
                        "an entity with the id {id} exists"
                    )));
                }
                let entity = entity.take().ok_or_else(|| internal_twice(id))?;
                Ok(Mutation::Put {
                    changed: all_attributes(&entity),
                    entity,
                    created: true,
                })
            })
            .await?;
        single(results).map(|()| id)
    }

    /// The type selector of a write (`?type=`, §4.17): the entity must match the selection (in
    /// disjunctive normal form, expanded), otherwise it is treated as absent.
    pub async fn check_type(&self, id: &str, selection: &[Vec<String>]) -> Result<()> {
        let entity = self.entity(id).await?;
        if selection
            .iter()
            .any(|group| group.iter().all(|t| entity.types.contains(t)))
        {
            Ok(())
        } else {
            Err(BrokerError::ResourceNotFound(format!(
                "entity {id} does not match the type selection"
            )))
        }
    }

    /// Delete Entity (§5.6.6).
    pub async fn delete_entity(&self, id: &str) -> Result<()> {
        let results = self
            .modify(&[id.to_string()], |id, current| match current {
                Some(_) => Ok(Mutation::Delete),
                None => Err(not_found(id)),
            })
            .await?;
        single(results)
    }

    /// Purge Entities (§5.6.21): every entity the query matches is deleted, or loses the
    /// attributes `purge` names. The query's `limit`/`offset` are ignored.
    pub async fn purge_entities(
        &self,
        query: &crate::EntityQuery,
        expand: &(dyn Fn(&str) -> String + Sync),
        purge: &Purge,
    ) -> Result<()> {
        let mut query = query.clone();
        query.limit = self.config.max_limit.max(1);
        query.offset = 0;
        query.count = false;
        let mut ids = Vec::new();
        loop {
            let page = self.query_entities(&query, expand).await?;
            let n = page.entities.len();
            ids.extend(page.entities.into_iter().map(|e| e.id));
            if n < query.limit as usize {
                break;
            }
            query.offset += query.limit;
        }
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.modify(&ids, |_, current| {
            let Some(mut entity) = current else {
                return Ok(Mutation::Keep);
            };
            let removed: Vec<String> = match purge {
                Purge::Entity => return Ok(Mutation::Delete),
                Purge::Drop(attrs) => entity
                    .attributes
                    .keys()
                    .filter(|a| attrs.contains(a))
                    .cloned()
                    .collect(),
                Purge::Keep(attrs) => entity
                    .attributes
                    .keys()
                    .filter(|a| !attrs.contains(a))
                    .cloned()
                    .collect(),
            };
            if removed.is_empty() {
                return Ok(Mutation::Keep);
            }
            for attr in &removed {
                entity.attributes.remove(attr);
            }
            entity.modified_at = now;
            Ok(Mutation::Put {
                entity,
                changed: removed,
                created: false,
            })
        })
        .await?;
        Ok(())
    }

    /// Append Entity Attributes (§5.6.3); `overwrite` is false for `options=noOverwrite`.
    pub async fn append_attributes(
        &self,
        id: &str,
        ctx: &Context,
        body: &Value,
        overwrite: bool,
    ) -> Result<AttrOutcome> {
        let now = now_ms();
        let fragment = document::parse_fragment(body, ctx, now, false)?;
        check_fragment_id(id, body)?;
        self.update_one(id, move |entity| {
            let mut outcome = entity.append(fragment.attributes, overwrite, now);
            if let Some(types) = &fragment.types {
                add_types(entity, types);
            }
            // A scope replaces the entity's scopes, or is added to them with noOverwrite.
            if let Some(scopes) = fragment.scopes {
                if overwrite {
                    entity.scopes = scopes;
                } else {
                    for scope in scopes {
                        if !entity.scopes.contains(&scope) {
                            entity.scopes.push(scope);
                        }
                    }
                }
                entity.modified_at = now;
                outcome.updated.push(SCOPE.to_string());
            }
            Ok(outcome)
        })
        .await
    }

    /// Update Entity Attributes (§5.6.2): attributes the entity has are replaced, others are
    /// appended (as ETSI's TP 011_01_03 expects); the NGSI-LD Null deletes an attribute.
    pub async fn update_attributes(
        &self,
        id: &str,
        ctx: &Context,
        body: &Value,
    ) -> Result<AttrOutcome> {
        let now = now_ms();
        let fragment = document::parse_fragment(body, ctx, now, true)?;
        check_fragment_id(id, body)?;
        self.update_one(id, move |entity| {
            // An attribute set to the NGSI-LD Null is deleted (§4.5.8).
            let mut deleted = AttrOutcome::default();
            for (iri, dataset) in fragment.nulls {
                if entity.delete_attribute(&iri, dataset.as_deref(), false) {
                    entity.modified_at = now;
                    deleted.updated.push(iri);
                } else {
                    deleted
                        .not_updated
                        .push((iri, "the entity has no such attribute".into()));
                }
            }
            let mut outcome = entity.append(fragment.attributes, true, now);
            outcome.updated.extend(deleted.updated);
            outcome.not_updated.extend(deleted.not_updated);
            // Types given are added (§5.6.2); a scope replaces an existing one only.
            if let Some(types) = &fragment.types {
                if add_types(entity, types) {
                    entity.modified_at = now;
                }
            }
            if let Some(scopes) = fragment.scopes {
                if entity.scopes.is_empty() {
                    outcome
                        .not_updated
                        .push((SCOPE.to_string(), "the entity has no scope".into()));
                } else {
                    entity.scopes = scopes;
                    entity.modified_at = now;
                    outcome.updated.push(SCOPE.to_string());
                }
            }
            Ok(outcome)
        })
        .await
    }

    /// Partial Attribute Update (§5.6.4).
    pub async fn partial_update_attribute(
        &self,
        id: &str,
        attr: &str,
        ctx: &Context,
        body: &Value,
    ) -> Result<()> {
        self.change_attribute(id, attr, ctx, body, false).await
    }

    /// Replace Attribute (§5.6.19).
    pub async fn replace_attribute(
        &self,
        id: &str,
        attr: &str,
        ctx: &Context,
        body: &Value,
    ) -> Result<()> {
        self.change_attribute(id, attr, ctx, body, true).await
    }

    async fn change_attribute(
        &self,
        id: &str,
        attr: &str,
        ctx: &Context,
        body: &Value,
        replace: bool,
    ) -> Result<()> {
        let now = now_ms();
        document::check_name(attr)?;
        if attr == "scope" || attr == SCOPE {
            return Err(BrokerError::BadRequestData(
                "scope is not an attribute: change it with Append, Update or Merge Entity".into(),
            ));
        }
        let iri = ctx.expand(attr);
        let body = without_context(body);
        if !replace && document::is_null_marker(&body) {
            // Partial update to the NGSI-LD Null deletes the attribute (§4.5.8).
            let dataset = document::dataset_of(&body);
            return self
                .delete_attribute(id, attr, ctx, dataset.as_deref(), false)
                .await;
        }
        if body.get("datasetId").and_then(Value::as_str) == Some(document::NGSI_LD_NULL) {
            return Err(BrokerError::BadRequestData(
                "a datasetId cannot be deleted by setting it to the NGSI-LD Null".into(),
            ));
        }
        let instances = document::parse_attribute(attr, &iri, &body, ctx, now)?;
        // Only merge-patch removes keys of a compound value with the NGSI-LD Null (§5.5.4).
        if instances
            .iter()
            .any(|i| document::value_holds_null(&i.value))
        {
            return Err(BrokerError::BadRequestData(format!(
                "the value of {attr} holds the NGSI-LD Null, which only merge-patch accepts"
            )));
        }
        let outcome = self
            .update_one(id, |entity| {
                // A partial update that names a type must keep the attribute's type.
                if !replace && body.get("type").is_some() {
                    for instance in &instances {
                        let current = entity.attributes.get(&iri).and_then(|all| {
                            all.iter().find(|a| a.dataset_id == instance.dataset_id)
                        });
                        if current.is_some_and(|c| c.kind != instance.kind) {
                            return Err(BrokerError::BadRequestData(format!(
                                "attribute {attr} is a {}, not a {}",
                                current.map(|c| c.kind.as_str()).unwrap_or_default(),
                                instance.kind.as_str()
                            )));
                        }
                    }
                }
                let done = if replace {
                    entity.replace_attribute(&iri, instances, now)
                } else {
                    entity.partial_update(&iri, instances, now)
                };
                Ok(AttrOutcome {
                    updated: if done { vec![iri.clone()] } else { vec![] },
                    not_updated: if done {
                        vec![]
                    } else {
                        vec![(iri.clone(), "no such attribute".into())]
                    },
                })
            })
            .await?;
        if outcome.updated.is_empty() {
            return Err(BrokerError::ResourceNotFound(format!(
                "entity {id} has no attribute {attr} (or no instance with that datasetId)"
            )));
        }
        Ok(())
    }

    /// Delete Entity Attribute (§5.6.5).
    pub async fn delete_attribute(
        &self,
        id: &str,
        attr: &str,
        ctx: &Context,
        dataset_id: Option<&str>,
        delete_all: bool,
    ) -> Result<()> {
        let iri = ctx.expand(attr);
        let now = now_ms();
        let is_scope = attr == "scope" || attr == SCOPE;
        let outcome = self
            .update_one(id, |entity| {
                let done = if is_scope {
                    !std::mem::take(&mut entity.scopes).is_empty()
                } else {
                    entity.delete_attribute(&iri, dataset_id, delete_all)
                };
                if done {
                    entity.modified_at = now;
                }
                Ok(AttrOutcome {
                    updated: if done { vec![iri.clone()] } else { vec![] },
                    not_updated: vec![],
                })
            })
            .await?;
        if outcome.updated.is_empty() {
            return Err(BrokerError::ResourceNotFound(format!(
                "entity {id} has no attribute {attr} (or no instance with that datasetId)"
            )));
        }
        Ok(())
    }

    /// Merge Entity (§5.6.17): JSON merge-patch, `urn:ngsi-ld:null` deletes.
    pub async fn merge_entity(&self, id: &str, ctx: &Context, body: &Value) -> Result<()> {
        let now = now_ms();
        let fragment = document::parse_fragment(body, ctx, now, true)?;
        check_fragment_id(id, body)?;
        self.update_one(id, move |entity| Ok(entity.merge(fragment, now)))
            .await?;
        Ok(())
    }

    /// Replace Entity (§5.6.18).
    pub async fn replace_entity(&self, id: &str, ctx: &Context, body: &Value) -> Result<()> {
        let now = now_ms();
        let mut body = body.clone();
        if let Some(object) = body.as_object_mut() {
            match object.get("id").and_then(Value::as_str) {
                Some(given) if given != id => {
                    return Err(BrokerError::BadRequestData(format!(
                        "the body's id {given} differs from the id {id} in the path"
                    )))
                }
                _ => {
                    object.insert("id".into(), Value::String(id.to_string()));
                }
            }
        }
        let new = document::parse_entity(&body, ctx, now)?;
        let mut new = Some(new);
        let results = self
            .modify(&[id.to_string()], |id, current| {
                let mut entity = current.ok_or_else(|| not_found(id))?;
                let new = new.take().ok_or_else(|| internal_twice(id))?;
                entity.replace_with(new, now);
                Ok(Mutation::Put {
                    changed: all_attributes(&entity),
                    entity,
                    created: false,
                })
            })
            .await?;
        single(results)
    }

    /// Loads one entity, lets `change` edit it, and stores it if an attribute changed.
    async fn update_one(
        &self,
        id: &str,
        change: impl FnOnce(&mut Entity) -> Result<AttrOutcome>,
    ) -> Result<AttrOutcome> {
        let mut change = Some(change);
        let mut outcome = None;
        let results = self
            .modify(&[id.to_string()], |id, current| {
                let original = current.ok_or_else(|| not_found(id))?;
                let mut entity = original.clone();
                let change = change.take().ok_or_else(|| internal_twice(id))?;
                let result = change(&mut entity)?;
                let changed = result.updated.clone();
                outcome = Some(result);
                // Types and scopes are no attributes: a change of them alone is stored too.
                if changed.is_empty() && entity == original {
                    return Ok(Mutation::Keep);
                }
                Ok(Mutation::Put {
                    entity,
                    changed,
                    created: false,
                })
            })
            .await?;
        single(results)?;
        outcome.ok_or_else(|| internal_twice(id))
    }

    // -----------------------------------------------------------------------------------------
    // Batch operations

    /// Parses each item on its own: a malformed item fails alone. Items are (entity, raw id).
    fn parse_batch(
        items: &[Value],
        ctx: &Context,
        now: i64,
        outcome: &mut BatchOutcome,
    ) -> Vec<Entity> {
        let mut entities = Vec::with_capacity(items.len());
        for item in items {
            match document::parse_entity(item, ctx, now) {
                Ok(entity) => entities.push(entity),
                Err(e) => outcome.errors.push(BatchError {
                    entity_id: item
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    error: e.into(),
                }),
            }
        }
        entities
    }

    /// Batch Entity Creation (§5.6.7).
    pub async fn batch_create(&self, ctx: &Context, items: &[Value]) -> Result<BatchOutcome> {
        let now = now_ms();
        let mut outcome = BatchOutcome::default();
        let entities = Self::parse_batch(items, ctx, now, &mut outcome);
        self.batch_apply(entities, &mut outcome, |id, current, new| {
            if current.is_some() {
                return Err(BrokerError::AlreadyExists(format!(
                    "an entity with the id {id} exists"
                )));
            }
            Ok(Mutation::Put {
                changed: all_attributes(&new),
                entity: new,
                created: true,
            })
        })
        .await?;
        Ok(outcome)
    }

    /// Batch Entity Upsert (§5.6.8).
    pub async fn batch_upsert(
        &self,
        ctx: &Context,
        items: &[Value],
        mode: UpsertMode,
    ) -> Result<BatchOutcome> {
        let now = now_ms();
        let mut outcome = BatchOutcome::default();
        let entities = Self::parse_batch(items, ctx, now, &mut outcome);
        let mut created = Vec::new();
        self.batch_apply(entities, &mut outcome, |id, current, new| match current {
            None => {
                created.push(id.to_string());
                Ok(Mutation::Put {
                    changed: all_attributes(&new),
                    entity: new,
                    created: true,
                })
            }
            Some(mut entity) => {
                let changed = match mode {
                    UpsertMode::Replace => {
                        entity.replace_with(new, now);
                        all_attributes(&entity)
                    }
                    UpsertMode::Update => {
                        for t in &new.types {
                            if !entity.types.contains(t) {
                                entity.types.push(t.clone());
                            }
                        }
                        entity.append(new.attributes, true, now).updated
                    }
                };
                Ok(Mutation::Put {
                    entity,
                    changed,
                    created: false,
                })
            }
        })
        .await?;
        outcome.created = created;
        Ok(outcome)
    }

    /// Batch Entity Update (§5.6.9); `overwrite` is false for `options=noOverwrite`.
    pub async fn batch_update(
        &self,
        ctx: &Context,
        items: &[Value],
        overwrite: bool,
    ) -> Result<BatchOutcome> {
        let now = now_ms();
        let mut outcome = BatchOutcome::default();
        let entities = Self::parse_batch(items, ctx, now, &mut outcome);
        let mut partial = Vec::new();
        self.batch_apply(entities, &mut outcome, |id, current, new| {
            let mut entity = current.ok_or_else(|| not_found(id))?;
            add_types(&mut entity, &new.types);
            let result = entity.append(new.attributes, overwrite, now);
            if !result.not_updated.is_empty() {
                partial.push((id.to_string(), result.not_updated));
            }
            Ok(Mutation::Put {
                entity,
                changed: result.updated,
                created: false,
            })
        })
        .await?;
        // An entity some of whose attributes were kept (noOverwrite) is reported in `errors`.
        for (id, not_updated) in partial {
            outcome.success.retain(|s| *s != id);
            let names: Vec<String> = not_updated.into_iter().map(|(a, _)| a).collect();
            outcome.errors.push(BatchError {
                entity_id: id,
                error: BrokerError::BadRequestData(format!(
                    "attributes not overwritten (noOverwrite): {}",
                    names.join(", ")
                )),
            });
        }
        Ok(outcome)
    }

    /// Batch Entity Merge (§5.6.20).
    pub async fn batch_merge(&self, ctx: &Context, items: &[Value]) -> Result<BatchOutcome> {
        let now = now_ms();
        let mut outcome = BatchOutcome::default();
        let mut fragments = Vec::with_capacity(items.len());
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let parsed = document::parse_fragment(item, ctx, now, true)
                .map_err(BrokerError::from)
                .and_then(|f| {
                    if document::is_uri(&id) {
                        Ok(f)
                    } else {
                        Err(BrokerError::BadRequestData(
                            "each item needs a URI 'id'".into(),
                        ))
                    }
                });
            match parsed {
                Ok(fragment) => fragments.push((id, fragment)),
                Err(error) => outcome.errors.push(BatchError {
                    entity_id: id,
                    error,
                }),
            }
        }
        self.batch_rounds(
            fragments,
            &mut outcome,
            |id, current, fragment: Fragment| {
                let mut entity = current.ok_or_else(|| not_found(id))?;
                let result = entity.merge(fragment, now);
                Ok(Mutation::Put {
                    entity,
                    changed: result.updated,
                    created: false,
                })
            },
        )
        .await?;
        Ok(outcome)
    }

    /// Batch Entity Delete (§5.6.10): the body is an array of ids.
    pub async fn batch_delete(&self, ids: &[Value]) -> Result<BatchOutcome> {
        let mut outcome = BatchOutcome::default();
        let mut valid = Vec::new();
        for id in ids {
            match id.as_str() {
                Some(s) if document::is_uri(s) => valid.push((s.to_string(), ())),
                _ => outcome.errors.push(BatchError {
                    entity_id: id.as_str().unwrap_or("").to_string(),
                    error: BrokerError::BadRequestData(
                        "each item must be an entity id (a URI)".into(),
                    ),
                }),
            }
        }
        self.batch_rounds(valid, &mut outcome, |id, current, ()| match current {
            Some(_) => Ok(Mutation::Delete),
            None => Err(not_found(id)),
        })
        .await?;
        Ok(outcome)
    }

    async fn batch_apply(
        &self,
        entities: Vec<Entity>,
        outcome: &mut BatchOutcome,
        decide: impl FnMut(&str, Option<Entity>, Entity) -> Result<Mutation>,
    ) -> Result<()> {
        let items = entities.into_iter().map(|e| (e.id.clone(), e)).collect();
        self.batch_rounds(items, outcome, decide).await
    }

    /// Applies the items in one transaction; an id given twice is applied in order, the
    /// second seeing the first's result.
    async fn batch_rounds<T>(
        &self,
        items: Vec<(String, T)>,
        outcome: &mut BatchOutcome,
        mut decide: impl FnMut(&str, Option<Entity>, T) -> Result<Mutation>,
    ) -> Result<()> {
        let (ids, mut values): (Vec<String>, Vec<Option<T>>) =
            items.into_iter().map(|(id, item)| (id, Some(item))).unzip();
        let mut position = 0;
        let results = self
            .modify(&ids, |id, current| {
                let item = values
                    .get_mut(position)
                    .and_then(Option::take)
                    .ok_or_else(|| internal_twice(id))?;
                position += 1;
                decide(id, current, item)
            })
            .await?;
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(()) => outcome.success.push(id),
                Err(error) => outcome.errors.push(BatchError {
                    entity_id: id,
                    error,
                }),
            }
        }
        Ok(())
    }
}

fn single(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().next().unwrap_or_else(|| {
        Err(BrokerError::InternalError(
            "the store answered nothing".into(),
        ))
    })
}

fn internal_twice(id: &str) -> BrokerError {
    BrokerError::InternalError(format!("entity {id} was visited twice in one operation"))
}

/// A fragment may carry the entity's id; if it does, it must be this one.
fn check_fragment_id(id: &str, body: &Value) -> Result<()> {
    match body.get("id").and_then(Value::as_str) {
        Some(given) if given != id => Err(BrokerError::BadRequestData(format!(
            "the body's id {given} differs from the id {id} in the path"
        ))),
        _ => Ok(()),
    }
}

/// An attribute body may carry `@context` (application/ld+json); it is not a sub-attribute.
fn without_context(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("@context");
    }
    body
}
