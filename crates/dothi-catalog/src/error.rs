//! Refusals, in the classes of CKAN's action layer so that the protocol crate maps each to
//! CKAN's `__type` and status code without interpretation.

use serde_json::{Map, Value};

/// CKAN's validation error dictionary: field → list of messages, or, for lists of
/// sub-objects (resources, tags, extras), a list with one dictionary per item (`{}` for
/// items without errors).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldErrors(pub Map<String, Value>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors::default()
    }

    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// Errors of the items of a list field: one dictionary per item, in order.
    pub fn add_items(&mut self, field: &str, items: Vec<FieldErrors>) {
        if items.iter().all(FieldErrors::is_empty) {
            return;
        }
        self.0.insert(
            field.to_string(),
            Value::Array(items.into_iter().map(|e| Value::Object(e.0)).collect()),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result<T>(self, ok: T) -> Result<T, CatalogError> {
        if self.is_empty() {
            Ok(ok)
        } else {
            Err(CatalogError::Validation(self))
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CatalogError {
    /// CKAN "Validation Error".
    Validation(FieldErrors),
    /// CKAN "Not Found Error"; the text follows "Not found" (empty for the bare message).
    NotFound(String),
    /// CKAN "Authorization Error"; the text follows "Access denied".
    NotAuthorized(String),
    /// CKAN "Search Query Error".
    SearchQuery(String),
}

impl CatalogError {
    pub fn not_found() -> Self {
        CatalogError::NotFound(String::new())
    }
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::Validation(e) => {
                write!(f, "validation error: {}", Value::Object(e.0.clone()))
            }
            CatalogError::NotFound(m) => write!(f, "not found: {m}"),
            CatalogError::NotAuthorized(m) => write!(f, "access denied: {m}"),
            CatalogError::SearchQuery(m) => write!(f, "search query is invalid: {m}"),
        }
    }
}

impl std::error::Error for CatalogError {}
