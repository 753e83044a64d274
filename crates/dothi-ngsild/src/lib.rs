//! NGSI-LD query parsing for dothi (ETSI GS CIM 009 v1.8).
//!
//! This crate is the first brick of an NGSI-LD context broker. It is a pure
//! parser: no HTTP, no I/O, no storage.
//!
//! * [`q`] parses the `q` request parameter (§4.9, "NGSI-LD Query Language")
//!   into an AST: attribute paths (`a.b`, `a[b][c]`, `attr.observedAt`),
//!   the operators `== != > >= < <= ~= !~=`, numbers, quoted strings,
//!   ISO 8601 dates/times/date-times, booleans, URIs, ranges (`a..b`),
//!   value lists (`a,b,c`), `;` (AND), `|` (OR) and nested parentheses.
//! * [`geo`] parses and validates the geo-query parameters (§4.10,
//!   "Geo-query language"): `georel`, `geometry` and `coordinates`.
//!
//! Errors carry the position (0-based character offset, or a JSON path for
//! coordinates) and what was expected there.
//!
//! The full broker (entity storage, HTTP API, query evaluation) is issue 4's
//! work in progress; nothing here evaluates a query against data yet.

pub mod geo;
pub mod q;
