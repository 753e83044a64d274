//! Discovery (§5.7.5–5.7.10): which entity types and attributes the broker holds.
//!
//! Counts and names come from the storage index. The attribute *kinds* (Property,
//! Relationship, …) are not indexed, so the detailed views read the entities concerned, at
//! most [`KIND_SCAN_LIMIT`] of them: discovery is rare, and a type with more entities than
//! that is reported from its first ones.

use std::collections::{BTreeMap, BTreeSet};

use dothi_ngsild::entity::Entity;
use dothi_store::ngsild::{EntityFilter, Prefilter};

use crate::{record, Broker, BrokerError, Result};

/// How many entities the detailed views read to learn attribute kinds.
pub const KIND_SCAN_LIMIT: u32 = 10_000;

/// An entity type with its attributes (expanded names).
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSummary {
    pub type_iri: String,
    pub entity_count: u64,
    pub attributes: Vec<String>,
}

/// An attribute with the types of the entities having it (expanded names).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeSummary {
    pub attr: String,
    pub entity_count: u64,
    pub types: Vec<String>,
}

/// One type in detail: each attribute with the kinds it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDetails {
    pub type_iri: String,
    pub entity_count: u64,
    pub attributes: BTreeMap<String, BTreeSet<&'static str>>,
}

/// One attribute in detail.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDetails {
    pub attr: String,
    pub entity_count: u64,
    pub types: Vec<String>,
    pub kinds: BTreeSet<&'static str>,
}

impl Broker {
    /// The entities a detailed view reads to learn the attribute kinds: the first
    /// [`KIND_SCAN_LIMIT`] that `filter` selects.
    async fn kind_scan(&self, filter: EntityFilter) -> Result<Vec<Entity>> {
        let filter = EntityFilter {
            limit: Some(KIND_SCAN_LIMIT),
            ..filter
        };
        let page = self.store.ngsild_query(&filter).await?;
        page.entities.iter().map(record::entity_of).collect()
    }

    pub async fn types(&self) -> Result<Vec<TypeSummary>> {
        Ok(self
            .store
            .ngsild_types(true)
            .await?
            .into_iter()
            .map(|t| TypeSummary {
                type_iri: t.type_iri,
                entity_count: t.entity_count,
                attributes: t.attrs,
            })
            .collect())
    }

    pub async fn attributes(&self) -> Result<Vec<AttributeSummary>> {
        Ok(self
            .store
            .ngsild_attributes(true)
            .await?
            .into_iter()
            .map(|a| AttributeSummary {
                attr: a.attr,
                entity_count: a.entity_count,
                types: a.types,
            })
            .collect())
    }

    pub async fn type_details(&self, type_iri: &str) -> Result<TypeDetails> {
        let summary = self
            .store
            .ngsild_types(false)
            .await?
            .into_iter()
            .find(|t| t.type_iri == type_iri)
            .ok_or_else(|| {
                BrokerError::ResourceNotFound(format!("no entity has the type {type_iri}"))
            })?;
        let entities = self
            .kind_scan(EntityFilter {
                types: vec![vec![type_iri.to_string()]],
                ..Default::default()
            })
            .await?;
        let mut attributes: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        for entity in &entities {
            for (iri, instances) in &entity.attributes {
                let kinds = attributes.entry(iri.clone()).or_default();
                kinds.extend(instances.iter().map(|i| i.kind.as_str()));
            }
        }
        Ok(TypeDetails {
            type_iri: summary.type_iri,
            entity_count: summary.entity_count,
            attributes,
        })
    }

    pub async fn attribute_details(&self, attr: &str) -> Result<AttributeDetails> {
        let summary = self
            .store
            .ngsild_attributes(true)
            .await?
            .into_iter()
            .find(|a| a.attr == attr)
            .ok_or_else(|| {
                BrokerError::ResourceNotFound(format!("no entity has the attribute {attr}"))
            })?;
        let entities = self
            .kind_scan(EntityFilter {
                prefilter: Prefilter::Exists {
                    attr: attr.to_string(),
                },
                ..Default::default()
            })
            .await?;
        let mut kinds = BTreeSet::new();
        for entity in &entities {
            if let Some(instances) = entity.attributes.get(attr) {
                kinds.extend(instances.iter().map(|i| i.kind.as_str()));
            }
        }
        Ok(AttributeDetails {
            attr: summary.attr,
            entity_count: summary.entity_count,
            types: summary.types,
            kinds,
        })
    }
}
