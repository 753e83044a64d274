//! The JSON-LD contexts the broker knows (§5.13, "@context source management"): the bundled
//! core, contexts an operator loads from files, contexts clients register through
//! `/jsonldContexts` ("Hosted"), and, only when the operator allows it, contexts fetched from
//! their URL ("Cached").
//!
//! Nothing is downloaded unless `fetch_remote_contexts` is on: an unknown URL is refused with
//! 503 LdContextNotAvailable, so a broker on a closed network behaves predictably.
//!
//! Hosted contexts are stored (`dothi_store::ngsild_contexts`) before they are acknowledged, so
//! they survive a restart and every instance serves them: the store is the reference, memory a
//! cache filled on first use. Cached and preloaded contexts live in memory only (they come back
//! from their URL or from the configuration).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use dothi_ngsild::context::{self, Context, ContextDocuments, ContextError};
use dothi_store::ngsild_contexts::StoredContext;
use dothi_store::Store;
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
    store: Store,
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
    pub fn new(fetch: bool, store: Store) -> Self {
        Contexts {
            store,
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
            let mut missing = context::missing_urls(local, &self.documents());
            if missing.is_empty() {
                return context::resolve(local, &self.documents()).map_err(context_error);
            }
            // Hosted before a restart, or through another instance.
            let mut found = false;
            for url in &missing {
                if let Some(stored) = self.store.ngsild_context(url).await? {
                    self.cache_hosted(stored)?;
                    found = true;
                }
            }
            if found {
                missing = context::missing_urls(local, &self.documents());
                if missing.is_empty() {
                    continue;
                }
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
        self.insert_at(id, url, document, kind, now_ms())
    }

    fn insert_at(
        &self,
        id: String,
        url: &str,
        document: Value,
        kind: ContextKind,
        created_at: i64,
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
            created_at,
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

    /// A stored hosted context, put in the cache.
    fn cache_hosted(&self, stored: StoredContext) -> Result<ContextEntry> {
        let document: Value = serde_json::from_str(&stored.document).map_err(|e| {
            BrokerError::InternalError(format!("stored context {} is not JSON: {e}", stored.id))
        })?;
        self.insert_at(
            stored.id,
            &stored.url,
            document,
            ContextKind::Hosted,
            stored.created_at,
        )
    }

    /// Add @context (§5.13.2): the broker hosts `document` at
    /// `{base}/ngsi-ld/v1/jsonldContexts/{id}`. Stored before it is answered.
    pub async fn host(&self, base_url: &str, document: Value) -> Result<ContextEntry> {
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
        // Checked (it must be a usable context) before anything is stored.
        ContextDocuments::with_core()
            .insert(&url, document.clone())
            .map_err(context_error)?;
        let stored = StoredContext {
            id,
            url,
            document: document.to_string(),
            created_at: now_ms(),
        };
        self.store.ngsild_context_add(&stored).await?;
        self.cache_hosted(stored)
    }

    /// List @contexts (§5.13.3): the hosted ones from the store, the others from memory.
    pub async fn list(&self, kind: Option<ContextKind>) -> Result<Vec<ContextEntry>> {
        let mut out: Vec<ContextEntry> = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|e| e.kind != ContextKind::Hosted && kind.is_none_or(|k| e.kind == k))
            .cloned()
            .collect();
        if kind.is_none_or(|k| k == ContextKind::Hosted) {
            for stored in self.store.ngsild_contexts().await? {
                out.push(self.cache_hosted(stored)?);
            }
        }
        Ok(out)
    }

    /// Serve @context (§5.13.4): by local id, or by URL.
    pub async fn get(&self, id: &str) -> Result<Option<ContextEntry>> {
        let cached = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .get(id)
                .cloned()
                .or_else(|| entries.values().find(|e| e.url == id).cloned())
        };
        if cached.is_some() {
            return Ok(cached);
        }
        match self.store.ngsild_context(id).await? {
            Some(stored) => Ok(Some(self.cache_hosted(stored)?)),
            None => Ok(None),
        }
    }

    /// Delete and Reload @context (§5.13.5); false if there was no such context.
    pub async fn remove(&self, id: &str) -> Result<bool> {
        let Some(entry) = self.get(id).await? else {
            return Ok(false);
        };
        if entry.kind == ContextKind::Hosted {
            self.store.ngsild_context_delete(&entry.id).await?;
        }
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&entry.id);
        self.documents
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&entry.url);
        Ok(true)
    }
}

fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.gen_range(0..36)]))
        .collect()
}
