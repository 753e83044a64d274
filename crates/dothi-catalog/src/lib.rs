//! The open-data catalogue, the pure part: datasets (CKAN "packages") with their resources,
//! organizations (the province's agencies), groups, tags, licences and extras; metadata in
//! Vietnamese and English in the style of ckanext-fluent (`title_translated`,
//! `notes_translated`, with `title`/`notes` holding the Vietnamese text); CKAN's validation
//! rules with CKAN-shaped field errors; who may read and write (`access`); and the
//! `package_search` parameter language parsed into a typed query (`search`), and the search
//! index that answers it in memory (`index`).
//!
//! Architecture invariant: no I/O, no HTTP, no SQL. The store persists what this crate
//! validated; the CKAN protocol crate renders what the store returns with [`render`].

pub mod access;
pub mod error;
pub mod index;
pub mod input;
pub mod licence;
pub mod model;
pub mod render;
pub mod search;

pub use error::{CatalogError, FieldErrors};
pub use model::{Dataset, Extra, Group, Organization, Resource, State, Translated};

/// A fresh random identifier, in CKAN's format (a UUID).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An id derived from what names a record, the same on every instance and backend: an
/// agency's organization (`kind` "organization", the agency code), a group (its name), a demo
/// dataset. Two portals of the same province then agree on ids, so a dump of one loads into
/// the other (`ckanapi dump` / `ckanapi load`).
pub fn stable_id(kind: &str, key: &str) -> String {
    const RECORDS: uuid::Uuid = uuid::Uuid::from_u128(0x3f5e_2a41_9c0d_4e7b_8a16_5b2c_d4e9_0a73);
    uuid::Uuid::new_v5(&RECORDS, format!("{kind}:{key}").as_bytes()).to_string()
}

/// Tags have no table of their own: a tag's id is derived from its name, so every instance
/// and every backend give the same tag the same id.
pub fn tag_id(name: &str) -> String {
    const TAGS: uuid::Uuid = uuid::Uuid::from_u128(0x6a1b_7c2e_0f44_4b6e_9d8a_33c1_5e07_d017);
    uuid::Uuid::new_v5(&TAGS, name.as_bytes()).to_string()
}

/// Instants are sent as ISO 8601 in +07:00 (the platform's rule), to the millisecond, where
/// CKAN sends naive UTC; both parse with any ISO 8601 parser.
pub fn timestamp(ms: i64) -> String {
    use chrono::{FixedOffset, Offset, SecondsFormat, TimeZone, Utc};
    let utc = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    // 25,200 s is within ±24 h, so `east_opt` always gives it; UTC only to stay total.
    let vn = FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix());
    utc.with_timezone(&vn)
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}
