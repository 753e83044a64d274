//! The JSON-LD contexts the broker knows (§5.13, "@context source management"): the bundled
//! core, contexts an operator loads from files, contexts clients register through
//! `/jsonldContexts` ("Hosted"), and, only when the operator allows it, contexts fetched from
//! their URL ("Cached").
//!
//! Nothing is downloaded unless `fetch_remote_contexts` is on: an unknown URL is refused with
//! 503 LdContextNotAvailable, so a broker on a closed network behaves predictably.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use dothi_ngsild::context::{self, Context, ContextDocuments, ContextError};
use serde_json::Value;

use crate::{now_ms, BrokerError, Result};

/// How the broker came to hold a context (the `kind` of §5.13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKind {
    Hosted,
    Cached,
    ImplicitlyCreated,
}

impl ContextKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Hosted => "Hosted",
            ContextKind::Cached => "Cached",
            ContextKind::ImplicitlyCreated => "ImplicitlyCreated",
        }
    }
}

/// One context in the registry, as `/jsonldContexts?details=true` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextEntry {
    pub id: String,
    pub url: String,
    pub kind: ContextKind,
    pub created_at: i64,
    pub document: Arc<Value>,
}

#[derive(Clone)]
pub struct Contexts {
    documents: Arc<RwLock<ContextDocuments>>,
    entries: Arc<RwLock<BTreeMap<String, ContextEntry>>>,
    fetch: bool,
    client: reqwest::Client,
}

fn context_error(e: ContextError) -> BrokerError {
    match e {
        ContextError::NotAvailable { url } => BrokerError::LdContextNotAvailable(format!(
            "the JSON-LD context {url} is not available: the broker does not hold it and does \
             not download contexts (register it through /ngsi-ld/v1/jsonldContexts)"
        )),
        ContextError::Invalid { reason } => {
            BrokerError::BadRequestData(format!("invalid JSON-LD context: {reason}"))
        }
    }
}

impl Contexts {
    pub fn new(fetch: bool) -> Self {
        Contexts {
            documents: Arc::new(RwLock::new(ContextDocuments::with_core())),
            entries: Arc::new(RwLock::new(BTreeMap::new())),
            fetch,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    fn documents(&self) -> std::sync::RwLockReadGuard<'_, ContextDocuments> {
        self.documents
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The core context alone (requests without a context).
    pub fn core(&self) -> Context {
        Context::core(&self.documents())
    }

    /// Resolves the `@context` of a request (a URL, an object, an array, or Null for none),
    /// fetching missing URLs first when the operator allows it.
    pub async fn resolve(&self, local: &Value) -> Result<Context> {
        if local.is_null() {
            return Ok(self.core());
        }
        // Nested documents may reveal further URLs; a few rounds reach any sane depth.
        for _ in 0..8 {
            let missing = context::missing_urls(local, &self.documents());
            if missing.is_empty() {
                return context::resolve(local, &self.documents()).map_err(context_error);
            }
            if !self.fetch {
                return Err(context_error(ContextError::NotAvailable {
                    url: missing[0].clone(),
                }));
            }
            for url in missing {
                let document = self.download(&url).await?;
                self.insert(url.clone(), &url, document, ContextKind::Cached)?;
            }
        }
        Err(BrokerError::BadRequestData(
            "the JSON-LD context nests remote contexts too deeply".into(),
        ))
    }

    async fn download(&self, url: &str) -> Result<Value> {
        let unavailable = |why: String| {
            BrokerError::LdContextNotAvailable(format!(
                "the JSON-LD context {url} could not be fetched: {why}"
            ))
        };
        let response = self
            .client
            .get(url)
            .header("Accept", "application/ld+json, application/json")
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let document: Value = response.json().await.map_err(|e| {
            BrokerError::BadRequestData(format!("the JSON-LD context {url} is not JSON: {e}"))
        })?;
        Ok(document)
    }

    fn insert(
        &self,
        id: String,
        url: &str,
        document: Value,
        kind: ContextKind,
    ) -> Result<ContextEntry> {
        let document = Arc::new(document);
        self.documents
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url, (*document).clone())
            .map_err(context_error)?;
        let entry = ContextEntry {
            id: id.clone(),
            url: url.to_string(),
            kind,
            created_at: now_ms(),
            document,
        };
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, entry.clone());
        Ok(entry)
    }

    /// Adds a context known under `url` (operator configuration: a file for a URL).
    pub fn preload(&self, url: &str, document: Value) -> Result<()> {
        self.insert(url.to_string(), url, document, ContextKind::Cached)
            .map(|_| ())
    }

    /// Add @context (§5.13.2): the broker hosts `document` at
    /// `{base}/ngsi-ld/v1/jsonldContexts/{id}`.
    pub fn host(&self, base_url: &str, document: Value) -> Result<ContextEntry> {
        if document.get("@context").is_none() {
            return Err(BrokerError::BadRequestData(
                "a context document is a JSON object with an @context member".into(),
            ));
        }
        let id = random_id();
        let url = format!(
            "{}/ngsi-ld/v1/jsonldContexts/{id}",
            base_url.trim_end_matches('/')
        );
        self.insert(id, &url, document, ContextKind::Hosted)
    }

    /// List @contexts (§5.13.3).
    pub fn list(&self, kind: Option<ContextKind>) -> Vec<ContextEntry> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .cloned()
            .collect()
    }

    /// Serve @context (§5.13.4): by local id, or by URL for cached ones.
    pub fn get(&self, id: &str) -> Option<ContextEntry> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(id)
            .cloned()
            .or_else(|| entries.values().find(|e| e.url == id).cloned())
    }

    /// Delete and Reload @context (§5.13.5).
    pub fn remove(&self, id: &str) -> bool {
        let Some(entry) = self.get(id) else {
            return false;
        };
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&entry.id);
        self.documents
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&entry.url);
        true
    }
}

fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}
