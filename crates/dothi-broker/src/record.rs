//! Entity ↔ storage rows: the JSON body, the value index that query prefilters use, the
//! bounding box of `location`, the history rows and the change-log note of each write.
//!
//! Besides the instances of the changed attributes, the history gets one instance of the scope
//! when a write changes it (§4.5.6: a Property whose `observedAt` is a copy of its
//! `modifiedAt`), and a deletion (see [`deletions_of`]) for each attribute instance a write
//! removes; writes that change neither (the ingestion path) write nothing more.
//!
//! Invariant: the index holds, for every attribute instance, one row per scalar it carries
//! (a number, a string, each scalar of an array, each string of a language map, the object of a
//! relationship), and at least one row per attribute, so that `Exists` prefilters are exact.

use dothi_ngsild::document::{format_time, null_payload, parse_time, EXPIRES_AT, LOCATION};
use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::eval;
use dothi_store::ngsild::{
    Change, ChangeNote, EntityRecord, HistoryEntry, IndexEntry, StoredEntity,
};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::entities::SCOPE;
use crate::{BrokerError, Result};

pub(crate) fn entity_of(stored: &StoredEntity) -> Result<Entity> {
    serde_json::from_str(&stored.body).map_err(|e| {
        BrokerError::InternalError(format!("entity {} is stored unreadable: {e}", stored.id))
    })
}

fn body_of(entity: &Entity) -> Result<String> {
    serde_json::to_string(entity).map_err(|e| {
        BrokerError::InternalError(format!("entity {} cannot be stored: {e}", entity.id))
    })
}

pub(crate) fn record_of(entity: &Entity) -> Result<EntityRecord> {
    let mut index = Vec::new();
    for (iri, instances) in &entity.attributes {
        let before = index.len();
        for instance in instances {
            index_instance(iri, instance, &mut index);
        }
        if index.len() == before {
            index.push(IndexEntry {
                attr: iri.clone(),
                num: None,
                text: None,
            });
        }
    }
    let bbox = entity
        .attributes
        .get(LOCATION)
        .and_then(|instances| {
            instances
                .iter()
                .find(|a| a.kind == AttributeKind::GeoProperty)
        })
        .and_then(|a| eval::bbox(&a.value));
    Ok(EntityRecord {
        id: entity.id.clone(),
        types: entity.types.clone(),
        body: body_of(entity)?,
        created_at: entity.created_at,
        modified_at: entity.modified_at,
        index,
        bbox,
        expires_at: expires_at(entity),
    })
}

/// When the entity expires (§4.22): the earliest `expiresAt` of its instances, as [`crate::live`]
/// reads it.
fn expires_at(entity: &Entity) -> Option<i64> {
    entity
        .attributes
        .get(EXPIRES_AT)?
        .iter()
        .filter_map(|i| i.value.as_str().and_then(parse_time))
        .min()
}

fn index_instance(iri: &str, instance: &Attribute, index: &mut Vec<IndexEntry>) {
    let mut push = |v: &Value| match v {
        Value::Number(n) => index.push(IndexEntry {
            attr: iri.to_string(),
            num: n.as_f64(),
            text: None,
        }),
        Value::String(s) => index.push(IndexEntry {
            attr: iri.to_string(),
            num: None,
            text: Some(s.clone()),
        }),
        _ => {}
    };
    match (instance.kind, &instance.value) {
        (AttributeKind::GeoProperty | AttributeKind::JsonProperty, _) => {}
        (AttributeKind::LanguageProperty, Value::Object(map)) => {
            for v in map.values() {
                match v {
                    Value::Array(items) => items.iter().for_each(&mut push),
                    other => push(other),
                }
            }
        }
        (_, Value::Array(items)) => items.iter().for_each(&mut push),
        (_, other) => push(other),
    }
}

/// The history rows of the instances of `changed` attributes.
fn history_of(entity: &Entity, changed: &[String]) -> Result<Vec<HistoryEntry>> {
    let mut rows = Vec::new();
    for iri in changed {
        let Some(instances) = entity.attributes.get(iri) else {
            continue;
        };
        for instance in instances {
            let observed_at = instance
                .observed_at
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(instance.modified_at);
            rows.push(HistoryEntry {
                entity_id: entity.id.clone(),
                attr: iri.clone(),
                dataset_id: instance.dataset_id.clone(),
                observed_at,
                num: instance
                    .value
                    .as_f64()
                    .filter(|_| instance.kind == AttributeKind::Property),
                instance: serde_json::to_string(instance).map_err(|e| {
                    BrokerError::InternalError(format!(
                        "history of {} not encodable: {e}",
                        entity.id
                    ))
                })?,
            });
        }
    }
    Ok(rows)
}

fn encode(id: &str, instance: &Attribute) -> Result<String> {
    serde_json::to_string(instance)
        .map_err(|e| BrokerError::InternalError(format!("history of {id} not encodable: {e}")))
}

/// The value of a scope instance: one scope as a string, several as an array, none as `[]`.
pub(crate) fn scope_value(scopes: &[String]) -> Value {
    match scopes {
        [one] => Value::String(one.clone()),
        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
    }
}

/// The scopes a scope instance holds (the inverse of [`scope_value`]).
pub(crate) fn scopes_of(instance: &Attribute) -> Vec<String> {
    match &instance.value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The scope as a Property instance set at `at` (§4.5.6).
pub(crate) fn scope_instance(scopes: &[String], at: i64) -> Attribute {
    Attribute {
        kind: AttributeKind::Property,
        value: scope_value(scopes),
        observed_at: Some(format_time(at)),
        unit_code: None,
        dataset_id: None,
        created_at: at,
        modified_at: at,
        sub_attributes: BTreeMap::new(),
    }
}

/// A history (or deletion) row of the scope.
pub(crate) fn scope_entry(id: &str, instance: &Attribute, at: i64) -> Result<HistoryEntry> {
    Ok(HistoryEntry {
        entity_id: id.to_string(),
        attr: SCOPE.to_string(),
        dataset_id: None,
        observed_at: at,
        num: None,
        instance: encode(id, instance)?,
    })
}

/// The deletions a write records (the temporal evolution's `deletedAt` instances, §4.5.6):
/// each instance of `before` whose attribute and datasetId `after` lacks becomes an instance of
/// its kind with the NGSI-LD Null as payload, and a scope that was set and is gone becomes a
/// scope `[]`; all deleted at `at`. `after` is None when the entity is deleted.
pub(crate) fn deletions_of(
    id: &str,
    after: Option<&Entity>,
    before: Option<&BTreeMap<String, Vec<Attribute>>>,
    scopes_before: Option<&[String]>,
    at: i64,
) -> Result<Vec<HistoryEntry>> {
    let mut rows = Vec::new();
    for (iri, instances) in before.into_iter().flatten() {
        let kept = after.and_then(|e| e.attributes.get(iri));
        for instance in instances {
            if kept.is_some_and(|k| k.iter().any(|i| i.dataset_id == instance.dataset_id)) {
                continue;
            }
            let deleted = Attribute {
                kind: instance.kind,
                value: null_payload(instance.kind),
                observed_at: None,
                unit_code: None,
                dataset_id: instance.dataset_id.clone(),
                created_at: at,
                modified_at: at,
                sub_attributes: BTreeMap::new(),
            };
            rows.push(HistoryEntry {
                entity_id: id.to_string(),
                attr: iri.clone(),
                dataset_id: instance.dataset_id.clone(),
                observed_at: at,
                num: None,
                instance: encode(id, &deleted)?,
            });
        }
    }
    let had_scope = scopes_before.is_some_and(|s| !s.is_empty());
    if had_scope && after.is_none_or(|e| e.scopes.is_empty()) {
        let mut gone = scope_instance(&[], at);
        gone.observed_at = None;
        rows.push(scope_entry(id, &gone, at)?);
    }
    Ok(rows)
}

/// The change-log note of a put; `before` (the attributes before the change) gives the
/// previous instances of the changed attributes, all that notifications need of the past, and
/// with `scopes_before` what the write deleted.
pub(crate) fn put(
    entity: &Entity,
    changed: &[String],
    created: bool,
    before: Option<&BTreeMap<String, Vec<Attribute>>>,
    scopes_before: Option<&[String]>,
) -> Result<Change> {
    let record = record_of(entity)?;
    let mut history = history_of(entity, changed)?;
    let scope_changed = scopes_before.unwrap_or_default() != entity.scopes.as_slice();
    if scope_changed && !entity.scopes.is_empty() {
        let at = entity.modified_at;
        history.push(scope_entry(
            &entity.id,
            &scope_instance(&entity.scopes, at),
            at,
        )?);
    }
    let deletions = if created {
        Vec::new()
    } else {
        deletions_of(
            &entity.id,
            Some(entity),
            before,
            scopes_before,
            entity.modified_at,
        )?
    };
    let snapshot = Some(record.body.clone());
    let previous = match before {
        Some(before) if !created => {
            let replaced: BTreeMap<&String, &Vec<Attribute>> = changed
                .iter()
                .filter_map(|iri| before.get_key_value(iri))
                .collect();
            if replaced.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&replaced).map_err(|e| {
                    BrokerError::InternalError(format!(
                        "previous values of {} not encodable: {e}",
                        entity.id
                    ))
                })?)
            }
        }
        _ => None,
    };
    Ok(Change::Put {
        history,
        deletions,
        note: ChangeNote {
            entity_id: entity.id.clone(),
            op: if created { "create" } else { "update" }.to_string(),
            attrs: changed.to_vec(),
            snapshot,
            previous,
        },
        record,
    })
}

/// The note of a deletion: no snapshot (the rules engine reads that as a deletion), the body
/// as it was in `previous`; and the deletion of each attribute instance and of the scope of
/// the entity `before` at `at`.
pub(crate) fn delete(
    id: &str,
    body: &str,
    before: Option<&BTreeMap<String, Vec<Attribute>>>,
    scopes_before: Option<&[String]>,
    at: i64,
) -> Result<Change> {
    Ok(Change::Delete {
        deletions: deletions_of(id, None, before, scopes_before, at)?,
        note: ChangeNote {
            entity_id: id.to_string(),
            op: "delete".to_string(),
            attrs: Vec::new(),
            snapshot: None,
            previous: Some(body.to_string()),
        },
    })
}
