//! Context source registrations (ETSI GS CIM 009 §5.9 register, update, delete; §5.10
//! discovery; data types §5.2.8–5.2.11, §5.2.34) and, in `csource`, context source registration
//! subscriptions (§5.11) with their notifications.
//!
//! dothi keeps a complete registry but is not a distributed broker: it never forwards an
//! operation to a registered context source. The registry is what clients discover and
//! subscribe to; the modes of §4.3.6 are validated (an exclusive or redirect registration
//! conflicts with overlapping exclusive ones and with matching local entities) but do not
//! change how local entities are served.
//!
//! A registration is stored expanded (entity types, attribute names and Context Source Property
//! names as IRIs) and compacted with the reader's context. Every change is one storage
//! transaction that also queues the notifications it causes (`ngsild_deliveries`, sent by the
//! delivery worker of entity subscriptions), so an acknowledged change is notified at least
//! once, also across a crash. Updates are compare-and-swap on the registration's revision.

pub mod csource;
mod document;
mod matching;

use dothi_ngsild::context::Context;
use dothi_store::ngsild_registrations::RegistrationRecord;
use serde_json::Value;

pub use csource::{spawn_registry_worker, CsourceSubscription, CsourceSubscriptionPage};
pub use document::{
    merged, parse_registration, render_registration, EntityInfo, Registration, RegistrationInfo,
    TimeInterval, GEO_MEMBERS, MODES, TYPE,
};
pub use matching::{EntityAsk, Filter, TemporalFilter};

use crate::query::EntityQuery;
use crate::{now_ms, Broker, BrokerError, Result};

/// Tries of a compare-and-swap write before giving up (another writer changed the
/// registration in between each time).
const WRITE_TRIES: usize = 8;

/// A stored registration with its system attributes.
#[derive(Debug, Clone)]
pub struct StoredRegistration {
    pub registration: Registration,
    pub created_at: i64,
    pub modified_at: i64,
    pub(crate) revision: i64,
}

impl StoredRegistration {
    /// Rendered with `ctx`; with `sys_attrs`, `createdAt` and `modifiedAt`.
    pub fn render(&self, ctx: &Context, sys_attrs: bool) -> Value {
        render_registration(
            &self.registration,
            ctx,
            sys_attrs.then_some((self.created_at, self.modified_at)),
        )
    }
}

pub(crate) fn stored(record: RegistrationRecord) -> Result<StoredRegistration> {
    let registration: Registration = serde_json::from_str(&record.body).map_err(|e| {
        BrokerError::InternalError(format!(
            "registration {} is stored unreadable: {e}",
            record.id
        ))
    })?;
    Ok(StoredRegistration {
        registration,
        created_at: record.created_at,
        modified_at: record.modified_at,
        revision: record.revision,
    })
}

fn body_of(reg: &Registration) -> Result<String> {
    serde_json::to_string(reg).map_err(|e| {
        BrokerError::InternalError(format!("registration {} cannot be stored: {e}", reg.id))
    })
}

fn not_found(id: &str) -> BrokerError {
    BrokerError::ResourceNotFound(format!("no context source registration has the id {id}"))
}

/// A discovery query (§5.10.2): its filters and the page asked.
#[derive(Debug, Clone)]
pub struct RegistrationQuery {
    pub filter: Filter,
    pub limit: u32,
    pub offset: u32,
}

/// A page of registrations and the number of all that match.
#[derive(Debug, Clone)]
pub struct RegistrationPage {
    pub registrations: Vec<StoredRegistration>,
    pub total: u64,
}

impl Broker {
    /// Register Context Source (§5.9.2): validates, checks the mode conflicts, stores the
    /// registration with the notifications of matching registration subscriptions, and
    /// returns its id.
    pub async fn create_registration(&self, ctx: &Context, body: &Value) -> Result<String> {
        let now = now_ms();
        let reg = parse_registration(body, ctx, now)?;
        self.check_conflicts(&reg).await?;
        let deliveries = self.registration_deliveries(None, Some(&reg), now).await?;
        self.store
            .ngsild_registration_create(
                &reg.id,
                &body_of(&reg)?,
                reg.expires_at_ms(),
                now,
                &deliveries,
            )
            .await
            .map_err(|e| match e {
                dothi_store::StoreError::Domain(dothi_domain::DomainError::Conflict(_)) => {
                    BrokerError::AlreadyExists(format!(
                        "a context source registration with the id {} already exists",
                        reg.id
                    ))
                }
                other => other.into(),
            })?;
        if !deliveries.is_empty() {
            self.outbox.notify_one();
        }
        Ok(reg.id)
    }

    /// Retrieve Context Source Registration (§5.10.1).
    pub async fn registration(&self, id: &str) -> Result<StoredRegistration> {
        match self.store.ngsild_registration_get(id, now_ms()).await? {
            Some(record) => stored(record),
            None => Err(not_found(id)),
        }
    }

    /// Every live registration, in creation order.
    pub(crate) async fn all_registrations(&self, now: i64) -> Result<Vec<StoredRegistration>> {
        self.store
            .ngsild_registrations(now)
            .await?
            .into_iter()
            .map(stored)
            .collect()
    }

    /// Query Context Source Registrations (§5.10.2), in creation order. `ctx` expands the
    /// names of `q` and `csf` (the request context).
    pub async fn query_registrations(
        &self,
        query: &RegistrationQuery,
        ctx: &Context,
    ) -> Result<RegistrationPage> {
        let now = now_ms();
        let matching: Vec<StoredRegistration> = self
            .all_registrations(now)
            .await?
            .into_iter()
            .filter(|s| query.filter.matching(&s.registration, ctx, now).is_some())
            .collect();
        let total = matching.len() as u64;
        Ok(RegistrationPage {
            registrations: matching
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit as usize)
                .collect(),
            total,
        })
    }

    /// Update Context Source Registration (§5.9.3): merges `fragment` (names expanded with
    /// `ctx`) into the registration and notifies the registration subscriptions concerned.
    pub async fn update_registration(
        &self,
        id: &str,
        ctx: &Context,
        fragment: &Value,
    ) -> Result<()> {
        for _ in 0..WRITE_TRIES {
            let current = self.registration(id).await?;
            let now = now_ms();
            let updated = merged(&current.registration, fragment, ctx, now)?;
            self.check_conflicts(&updated).await?;
            let deliveries = self
                .registration_deliveries(Some(&current.registration), Some(&updated), now)
                .await?;
            let written = self
                .store
                .ngsild_registration_update(
                    id,
                    current.revision,
                    &body_of(&updated)?,
                    updated.expires_at_ms(),
                    &deliveries,
                )
                .await?;
            if written.is_some() {
                if !deliveries.is_empty() {
                    self.outbox.notify_one();
                }
                return Ok(());
            }
        }
        Err(BrokerError::InternalError(format!(
            "the registration {id} kept changing while it was being updated; try again"
        )))
    }

    /// Delete Context Source Registration (§5.9.4).
    pub async fn delete_registration(&self, id: &str) -> Result<()> {
        for _ in 0..WRITE_TRIES {
            let current = self.registration(id).await?;
            if self.remove_registration(&current).await? {
                return Ok(());
            }
        }
        Err(BrokerError::InternalError(format!(
            "the registration {id} kept changing while it was being deleted; try again"
        )))
    }

    /// Deletes this revision of a registration with the notifications of its removal; false
    /// when it changed meanwhile.
    pub(crate) async fn remove_registration(&self, current: &StoredRegistration) -> Result<bool> {
        let deliveries = self
            .registration_deliveries(Some(&current.registration), None, now_ms())
            .await?;
        let deleted = self
            .store
            .ngsild_registration_delete(&current.registration.id, current.revision, &deliveries)
            .await?;
        if deleted && !deliveries.is_empty() {
            self.outbox.notify_one();
        }
        Ok(deleted)
    }

    /// The conflicts of §4.3.6.3 and §5.9.2.4 for an exclusive or redirect registration: an
    /// overlapping exclusive registration (or, for an exclusive one, an overlapping redirect
    /// one), and a local entity that the registration covers.
    async fn check_conflicts(&self, reg: &Registration) -> Result<()> {
        if !matches!(reg.mode.as_str(), "exclusive" | "redirect") {
            return Ok(());
        }
        let now = now_ms();
        for other in self.all_registrations(now).await? {
            let other = &other.registration;
            if other.id == reg.id {
                continue;
            }
            let clash = match (reg.mode.as_str(), other.mode.as_str()) {
                ("exclusive", "exclusive" | "redirect") | ("redirect", "exclusive") => {
                    overlaps(reg, other)
                }
                _ => false,
            };
            if clash {
                return Err(BrokerError::Conflict(format!(
                    "the {} registration {} already covers these entities and attributes; an \
                     {} registration cannot overlap it (§4.3.6.3)",
                    other.mode, other.id, reg.mode
                )));
            }
        }
        for info in &reg.information {
            let attrs: Vec<String> = info
                .property_names
                .iter()
                .chain(&info.relationship_names)
                .cloned()
                .collect();
            // The local entities each EntityInfo describes (any entity when there is none).
            let queries: Vec<EntityQuery> = if info.entities.is_empty() {
                vec![EntityQuery {
                    attrs: attrs.clone(),
                    limit: 1,
                    ..EntityQuery::default()
                }]
            } else {
                info.entities
                    .iter()
                    .map(|e| EntityQuery {
                        ids: e.id.iter().cloned().collect(),
                        id_pattern: e.id.is_none().then(|| e.id_pattern.clone()).flatten(),
                        types: Some(e.types.iter().map(|t| vec![t.clone()]).collect()),
                        attrs: attrs.clone(),
                        limit: 1,
                        ..EntityQuery::default()
                    })
                    .collect()
            };
            for query in queries {
                let found = self
                    .query_entities(&query, &|t: &str| t.to_string())
                    .await?;
                if let Some(entity) = found.entities.first() {
                    return Err(BrokerError::Conflict(format!(
                        "the entity {} exists in this broker with information that this {} \
                         registration would take over (§5.9.2.4)",
                        entity.id, reg.mode
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Two registrations overlap when one of their RegistrationInfo pairs can describe the same
/// attribute of the same entity.
fn overlaps(a: &Registration, b: &Registration) -> bool {
    a.information.iter().any(|ia| {
        b.information.iter().any(|ib| {
            let attributes = ia.all_attributes()
                || ib.all_attributes()
                || ia
                    .property_names
                    .iter()
                    .chain(&ia.relationship_names)
                    .any(|n| ib.has_attribute(n));
            let entities = ia.entities.is_empty()
                || ib.entities.is_empty()
                || ia
                    .entities
                    .iter()
                    .any(|ea| ib.entities.iter().any(|eb| same_entities(ea, eb)));
            attributes && entities
        })
    })
}

fn same_entities(a: &EntityInfo, b: &EntityInfo) -> bool {
    if !a.types.iter().any(|t| b.types.contains(t)) {
        return false;
    }
    let pattern = |p: &Option<String>, id: &str| {
        p.as_deref()
            .and_then(|p| regex::Regex::new(p).ok())
            .is_none_or(|re| re.is_match(id))
    };
    match (&a.id, &b.id) {
        (Some(x), Some(y)) => x == y,
        (Some(x), None) => pattern(&b.id_pattern, x),
        (None, Some(y)) => pattern(&a.id_pattern, y),
        // Two patterns (or whole types): they may select the same entities.
        (None, None) => true,
    }
}
