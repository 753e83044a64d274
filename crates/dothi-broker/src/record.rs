//! Entity ↔ storage rows: the JSON body, the value index that query prefilters use, the
//! bounding box of `location`, the history rows and the change-log note of each write.
//!
//! Invariant: the index holds, for every attribute instance, one row per scalar it carries
//! (a number, a string, each scalar of an array, each string of a language map, the object of a
//! relationship), and at least one row per attribute, so that `Exists` prefilters are exact.

use dothi_ngsild::document::{parse_time, EXPIRES_AT, LOCATION};
use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::eval;
use dothi_store::ngsild::{
    Change, ChangeNote, EntityRecord, HistoryEntry, IndexEntry, StoredEntity,
};
use std::collections::BTreeMap;

use serde_json::Value;

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

/// The change-log note of a put; `before` (the attributes before the change) gives the
/// previous instances of the changed attributes, all that notifications need of the past.
pub(crate) fn put(
    entity: &Entity,
    changed: &[String],
    created: bool,
    before: Option<&BTreeMap<String, Vec<Attribute>>>,
) -> Result<Change> {
    let record = record_of(entity)?;
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
        history: history_of(entity, changed)?,
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
/// as it was in `previous`.
pub(crate) fn delete(id: &str, body: &str) -> Change {
    Change::Delete {
        note: ChangeNote {
            entity_id: id.to_string(),
            op: "delete".to_string(),
            attrs: Vec::new(),
            snapshot: None,
            previous: Some(body.to_string()),
        },
    }
}
