//! The NGSI-LD context broker service: entities, queries, JSON-LD contexts, and (in their own
//! modules) subscriptions, history, MQTT ingestion and alert rules.
//!
//! This crate is the domain layer of dothi's IoT platform. It knows nothing of HTTP requests:
//! `dothi-ngsild-api` translates the NGSI-LD HTTP binding into calls here. It speaks SQL only
//! through `dothi_store::ngsild`, and the NGSI-LD semantics (documents, q, geo) come from the
//! pure `dothi-ngsild` crate.
//!
//! Architecture invariant: every entity change goes through [`Broker::modify`], which runs in
//! one storage transaction that also writes the attribute history and the change log; so a
//! change acknowledged to a client is in the history and will be notified, even after a crash.

pub mod access;
pub mod contexts;
pub mod discovery;
pub mod entities;
pub mod linked;
pub mod mqtt;
pub mod query;
mod record;
pub mod registrations;
pub mod rules;
pub mod subscriptions;
pub mod temporal;
pub mod webhooks;

use std::sync::Arc;

use dothi_ngsild::document::{DocumentError, EXPIRES_AT};
use dothi_ngsild::entity::Entity;
use dothi_store::ngsild::{Change, StoredEntity};
use dothi_store::{Store, StoreError};

pub use access::Access;
pub use contexts::Contexts;
pub use entities::{BatchError, BatchOutcome, Purge};
pub use query::EntityQuery;

/// Settings of the broker; `dothi serve` fills them from its configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Fetch `@context` URLs the broker does not hold. Off by default: the broker then answers
    /// 503 LdContextNotAvailable, and nothing is downloaded at run time.
    pub fetch_remote_contexts: bool,
    /// Public base URL, for the URLs of contexts registered through `/jsonldContexts`.
    pub base_url: String,
    /// Page size when the client gives no `limit`.
    pub default_limit: u32,
    /// The largest `limit` a client may ask.
    pub max_limit: u32,
    /// The temporal API's instance limit (§6.3.10): at most this many instances of each
    /// attribute per answer; a longer evolution is cut and answered 206 with a Content-Range.
    pub temporal_limit: u32,
    /// Who may read and write (see [`Access`]).
    pub access: Access,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            fetch_remote_contexts: false,
            base_url: "http://127.0.0.1:8080".into(),
            default_limit: 20,
            max_limit: 1000,
            temporal_limit: 1000,
            access: Access::default(),
        }
    }
}

/// Why an operation was refused; each variant is an ETSI problem type (§5.5.2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    BadRequestData(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// 409 for a conflict other than an existing id (§5.9.2.4: exclusive and redirect
    /// registrations that overlap each other or local entities).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    OperationNotSupported(String),
    #[error("{0}")]
    LdContextNotAvailable(String),
    #[error("{0}")]
    TooManyResults(String),
    #[error("{0}")]
    InternalError(String),
}

impl BrokerError {
    /// The last segment of the ETSI problem type URI
    /// (`https://uri.etsi.org/ngsi-ld/errors/<name>`).
    pub fn problem_type(&self) -> &'static str {
        match self {
            BrokerError::InvalidRequest(_) => "InvalidRequest",
            BrokerError::BadRequestData(_) => "BadRequestData",
            BrokerError::AlreadyExists(_) => "AlreadyExists",
            BrokerError::Conflict(_) => "Conflict",
            BrokerError::ResourceNotFound(_) => "ResourceNotFound",
            BrokerError::OperationNotSupported(_) => "OperationNotSupported",
            BrokerError::LdContextNotAvailable(_) => "LdContextNotAvailable",
            BrokerError::TooManyResults(_) => "TooManyResults",
            BrokerError::InternalError(_) => "InternalError",
        }
    }
}

impl From<DocumentError> for BrokerError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::BadRequestData(m) => BrokerError::BadRequestData(m),
            DocumentError::InvalidRequest(m) => BrokerError::InvalidRequest(m),
        }
    }
}

impl From<StoreError> for BrokerError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "NGSI-LD storage failed");
        BrokerError::InternalError(format!("storage failed: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, BrokerError>;

/// What an operation decided to do with one entity.
pub(crate) enum Mutation {
    /// Store the entity; `changed` lists the expanded attributes whose instances changed (they
    /// go to the history and to subscriptions), `created` tells a creation from an update.
    Put {
        entity: Entity,
        changed: Vec<String>,
        created: bool,
    },
    Delete,
    Keep,
}

/// The context broker. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    pub store: Store,
    pub contexts: Contexts,
    pub config: Arc<BrokerConfig>,
    /// Bumped after every committed entity change, so that change-log consumers
    /// (subscriptions, rules) wake at once: each keeps its own `changes.subscribe()` receiver.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Wakes the notification delivery worker when the outbox gains deliveries.
    pub outbox: Arc<tokio::sync::Notify>,
}

impl Broker {
    pub fn new(store: Store, config: BrokerConfig) -> Self {
        let contexts = Contexts::new(config.fetch_remote_contexts, store.clone());
        Broker {
            store,
            contexts,
            config: Arc::new(config),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
            outbox: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Runs `decide` for each id inside one storage transaction. Errors of one item do not
    /// undo the others (batch operations answer 207 with both).
    pub(crate) async fn modify(
        &self,
        ids: &[String],
        mut decide: impl FnMut(&str, Option<Entity>) -> Result<Mutation>,
    ) -> Result<Vec<Result<()>>> {
        let results = self
            .store
            .ngsild_modify(ids, |id: &str, stored: Option<&StoredEntity>| {
                let current = match stored {
                    Some(stored) => live(record::entity_of(stored)?, now_ms()),
                    None => None,
                };
                // The change log keeps what a change replaced (showChanges, deletions).
                let before = current.as_ref().map(|e| e.attributes.clone());
                // The temporal evolution records scope changes and deletions.
                let scopes_before = current.as_ref().map(|e| e.scopes.clone());
                let change = match decide(id, current)? {
                    Mutation::Put {
                        entity,
                        changed,
                        created,
                    } => record::put(
                        &entity,
                        &changed,
                        created,
                        before.as_ref(),
                        scopes_before.as_deref(),
                    )?,
                    Mutation::Delete => match stored {
                        Some(stored) => record::delete(
                            id,
                            &stored.body,
                            before.as_ref(),
                            scopes_before.as_deref(),
                            now_ms(),
                        )?,
                        None => Change::Keep,
                    },
                    Mutation::Keep => Change::Keep,
                };
                Ok((change, ()))
            })
            .await?;
        if results.iter().any(|r| r.is_ok()) {
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(results)
    }

    /// One entity, as stored.
    pub async fn entity(&self, id: &str) -> Result<Entity> {
        match self.store.ngsild_get(id).await? {
            Some(stored) => {
                live(record::entity_of(&stored)?, now_ms()).ok_or_else(|| not_found(id))
            }
            None => Err(not_found(id)),
        }
    }
}

/// The entity as it is at `now` (§4.22): None once its `expiresAt` has passed, and without the
/// attribute instances whose `expiresAt` has passed. An expired entity counts as absent, so its
/// id may be created again.
pub fn live(mut entity: Entity, now: i64) -> Option<Entity> {
    let expired = |value: &serde_json::Value| {
        value
            .as_str()
            .and_then(dothi_ngsild::document::parse_time)
            .is_some_and(|t| t <= now)
    };
    if entity
        .attributes
        .get(EXPIRES_AT)
        .is_some_and(|instances| instances.iter().any(|i| expired(&i.value)))
    {
        return None;
    }
    entity.attributes.retain(|_, instances| {
        instances.retain(|i| {
            !i.sub_attributes
                .get(EXPIRES_AT)
                .is_some_and(|sub| expired(&sub.value))
        });
        !instances.is_empty()
    });
    Some(entity)
}

pub(crate) fn not_found(id: &str) -> BrokerError {
    BrokerError::ResourceNotFound(format!("no entity has the id {id}"))
}

/// Milliseconds since the Unix epoch: the clock of every write.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
