//! The stored shape of an NGSI-LD entity: every term expanded to its full IRI.
//!
//! The broker expands what clients send (with their `@context`) into this shape on write and
//! compacts it on read. Keeping one expanded shape in storage means two clients with different
//! contexts see the same data, and the query evaluators never deal with contexts.
//!
//! Invariant: attribute and type names here are expanded IRIs; attribute values (the content of
//! `value`) are kept as the client sent them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An entity in expanded form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: String,
    /// Expanded type IRIs, in the order given, without duplicates; never empty.
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// System attributes, milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
    pub modified_at: i64,
    /// Expanded attribute IRI → its instances. Each instance of one attribute has a distinct
    /// `dataset_id`; the default instance has none. A present key has at least one instance.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<Attribute>>,
}

/// The NGSI-LD attribute kinds (§4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeKind {
    Property,
    Relationship,
    GeoProperty,
    LanguageProperty,
    JsonProperty,
    VocabProperty,
    ListProperty,
    ListRelationship,
}

impl AttributeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeKind::Property => "Property",
            AttributeKind::Relationship => "Relationship",
            AttributeKind::GeoProperty => "GeoProperty",
            AttributeKind::LanguageProperty => "LanguageProperty",
            AttributeKind::JsonProperty => "JsonProperty",
            AttributeKind::VocabProperty => "VocabProperty",
            AttributeKind::ListProperty => "ListProperty",
            AttributeKind::ListRelationship => "ListRelationship",
        }
    }

    /// The member that carries the payload in normalized form (`value`, `object`, …).
    pub fn payload_member(self) -> &'static str {
        match self {
            AttributeKind::Property | AttributeKind::GeoProperty => "value",
            AttributeKind::Relationship => "object",
            AttributeKind::LanguageProperty => "languageMap",
            AttributeKind::JsonProperty => "json",
            AttributeKind::VocabProperty => "vocab",
            AttributeKind::ListProperty => "valueList",
            AttributeKind::ListRelationship => "objectList",
        }
    }

    pub fn parse(name: &str) -> Option<AttributeKind> {
        Some(match name {
            "Property" => AttributeKind::Property,
            "Relationship" => AttributeKind::Relationship,
            "GeoProperty" => AttributeKind::GeoProperty,
            "LanguageProperty" => AttributeKind::LanguageProperty,
            "JsonProperty" => AttributeKind::JsonProperty,
            "VocabProperty" => AttributeKind::VocabProperty,
            "ListProperty" => AttributeKind::ListProperty,
            "ListRelationship" => AttributeKind::ListRelationship,
            _ => return None,
        })
    }
}

/// One attribute instance (or a sub-attribute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub kind: AttributeKind,
    /// The payload: the `value` of a Property or GeoProperty (a GeoJSON geometry object for a
    /// GeoProperty), the `object` of a Relationship (a URI string), the `languageMap` object of
    /// a LanguageProperty, and so on (see [`AttributeKind::payload_member`]).
    pub value: Value,
    /// `observedAt` as sent (validated ISO 8601 date-time with an offset or `Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_code: Option<String>,
    /// Expanded? No: a URI chosen by the client, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<String>,
    /// System attributes, milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
    pub modified_at: i64,
    /// Expanded sub-attribute IRI → sub-attribute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sub_attributes: BTreeMap<String, Attribute>,
}
