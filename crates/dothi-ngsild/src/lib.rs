//! NGSI-LD, the pure part (ETSI GS CIM 009 v1.8): the model and languages of dothi's context
//! broker, with no HTTP, no I/O and no storage.
//!
//! * [`entity`]: the expanded shape every entity is stored in.
//! * [`context`]: JSON-LD `@context` resolution, term expansion and compaction.
//! * [`document`]: client JSON ↔ entities, and the attribute update semantics.
//! * [`q`] parses the `q` query language (§4.9) into an AST; [`typesel`] the entity type
//!   selection language (§4.17); [`geo`] the geo-query parameters (§4.10).
//! * [`projection`] parses `pick`/`omit` (§4.21); [`scopeq`] the scope query language (§4.19).
//! * [`eval`] evaluates q and geo-queries against an entity.
//! * [`linked`]: `join`/`joinLevel` and nested `pick`/`omit` (Linked Entity Retrieval).
//!
//! Errors carry the position (0-based character offset, or a JSON path for coordinates) and
//! what was expected there.

pub mod context;
pub mod document;
pub mod entity;
pub mod eval;
pub mod geo;
pub mod linked;
pub mod projection;
pub mod q;
pub mod scopeq;
pub mod typesel;
