//! Persistence of the sharing controls (Nghị định 47/2020, Chương III Mục 4): connection
//! accounts, their credentials, per-dataset grants, the sharing log and the audit of admin
//! changes. `dothi_sharing` decides; this module reads what it needs and writes what it decided.
//!
//! The hook for the catalogue's protocol layers is [`Store::sharing_authorize`]: one call
//! checks a credential against a dataset and writes the log row.
//!
//! Log durability: an access is answered only after its log row has committed, so a download
//! the platform served always has its row, also across a crash; if the row cannot be written
//! the call fails (the caller answers 503 and serves nothing). Rows waiting at the same moment
//! are written by one task in one multi-row INSERT and one commit ([`LogWriter`], the same
//! group commit as report intake in `writer.rs`), so concurrent downloads share a commit
//! instead of queueing for SQLite's single writer one by one.

use dothi_domain::{Actor, DomainError};
use dothi_sharing::{
    authorize, change_status, AccountFields, AccountStatus, ConnectionAccount, Decision, Grant,
    LogEntry, Operation, StatusChange,
};
use serde_json::json;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::auth::{digest, secret};
use crate::db::{bind_all, Db, Val, WriteTx};
use crate::error::{conflict_on_unique, Result, StoreError};
use crate::reports::row_placeholders;
use crate::time::{from_ms, now_ms};
use crate::Store;

/// An account as the admin API shows it: the account, its live credential's prefix, and when.
#[derive(Clone, Debug)]
pub struct AccountRecord {
    pub account: ConnectionAccount,
    /// The first characters of the live credential, so operators can tell which one a system
    /// holds; None once terminated.
    pub credential_prefix: Option<String>,
    pub credential_created_at: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

#[derive(Clone, Debug)]
pub struct GrantRecord {
    pub grant: Grant,
    pub created_at: i64,
    pub modified_at: i64,
}

/// What the protocol layer knows about one access attempt.
#[derive(Clone, Debug)]
pub struct AccessRequest {
    /// The dataset's name, as the log records it.
    pub dataset_id: String,
    /// The dataset's id (UUID), when known: grants may name the dataset by either.
    pub dataset_uuid: Option<String>,
    pub resource_id: Option<String>,
    pub operation: Operation,
    /// The client's network address.
    pub client: Option<String>,
    /// The length of what will be served, when known before serving (a resource's size).
    pub bytes: Option<i64>,
}

/// Filters of the sharing log; every one is optional.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub account_id: Option<i64>,
    pub dataset_id: Option<String>,
    /// Inclusive start, epoch ms.
    pub from: Option<i64>,
    /// Exclusive end, epoch ms.
    pub to: Option<i64>,
    /// Some(true): allowed only; Some(false): refused only.
    pub allowed: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct LogRow {
    pub id: i64,
    pub entry: LogEntry,
    /// The account's name and organisation at the time of reading.
    pub account_name: Option<String>,
    pub organisation: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub account_id: i64,
    pub action: String,
    pub detail: serde_json::Value,
}

/// Largest page of the sharing log and of the audit.
pub const LOG_PAGE_MAX: i64 = 1000;

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.organisation, a.contact_officer, a.contact_email, \
     a.purpose, a.legal_basis, a.valid_from, a.valid_until, a.status, a.status_reason, \
     a.status_changed_at, a.created_at, a.modified_at";

fn account_from_row(r: &sqlx::any::AnyRow) -> (ConnectionAccount, i64, i64) {
    let status = AccountStatus::from_parts(&r.get::<String, _>(9), r.get(10), r.get(11)).unwrap_or(
        AccountStatus::Terminated {
            reason: "unreadable status in storage".into(),
            at: 0,
        },
    );
    (
        ConnectionAccount {
            id: r.get(0),
            name: r.get(1),
            organisation: r.get(2),
            contact_officer: r.get(3),
            contact_email: r.get(4),
            purpose: r.get(5),
            legal_basis: r.get(6),
            valid_from: r.get(7),
            valid_until: r.get(8),
            status,
        },
        r.get(12),
        r.get(13),
    )
}

fn operations_text(ops: &[Operation]) -> String {
    ops.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(",")
}

fn operations_parse(text: &str) -> Vec<Operation> {
    text.split(',')
        .filter_map(|s| Operation::parse("operations", s).ok())
        .collect()
}

fn grant_from_row(r: &sqlx::any::AnyRow) -> GrantRecord {
    GrantRecord {
        grant: Grant {
            account_id: r.get(0),
            dataset_id: r.get(1),
            operations: operations_parse(&r.get::<String, _>(2)),
            valid_from: r.get(3),
            valid_until: r.get(4),
        },
        created_at: r.get(5),
        modified_at: r.get(6),
    }
}

fn vn_time(ms: i64) -> String {
    dothi_calendar::format_vn(from_ms(ms))
}

fn account_json(a: &ConnectionAccount) -> serde_json::Value {
    json!({
        "name": a.name, "organisation": a.organisation, "contact_officer": a.contact_officer,
        "contact_email": a.contact_email, "purpose": a.purpose, "legal_basis": a.legal_basis,
        "valid_from": vn_time(a.valid_from), "valid_until": a.valid_until.map(vn_time),
    })
}

async fn audit(
    tx: &mut WriteTx,
    actor: &Actor,
    account_id: i64,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sharing_audit (at, actor, actor_user_id, account_id, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_ms())
    .bind(actor.label.as_str())
    .bind(actor.user_id)
    .bind(account_id)
    .bind(action)
    .bind(detail.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn issue_credential(tx: &mut WriteTx, account_id: i64, now: i64) -> Result<String> {
    sqlx::query(
        "UPDATE sharing_credentials SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .execute(tx.conn())
    .await?;
    let token = secret("ds_");
    let prefix: String = token.chars().take(9).collect();
    sqlx::query(
        "INSERT INTO sharing_credentials (account_id, token_hash, prefix, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(account_id)
    .bind(digest(&token))
    .bind(prefix)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(|e| conflict_on_unique(e, || "the credential was rotated meanwhile; retry".into()))?;
    Ok(token)
}

/// The account as it stands inside a write transaction, locked until the transaction ends: the
/// empty UPDATE takes the row lock on PostgreSQL (SQLite's writer is already exclusive), so a
/// concurrent termination cannot slip between this read and the change decided on it.
async fn account_in_tx(tx: &mut WriteTx, id: i64) -> Result<(ConnectionAccount, i64, i64)> {
    sqlx::query("UPDATE sharing_accounts SET modified_at = modified_at WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM sharing_accounts a WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .map(|r| account_from_row(&r))
    .ok_or_else(|| DomainError::not_found(format!("connection account {id}")).into())
}

/// One administrator's change of one connection account: the write transaction, with the account
/// read and locked (`account_in_tx`) at the start; [`AccountChange::commit`] writes the audit
/// row and commits, so no change is saved without its audit row.
struct AccountChange<'a> {
    tx: WriteTx,
    actor: &'a Actor,
    id: i64,
    account: ConnectionAccount,
}

impl AccountChange<'_> {
    async fn commit(mut self, action: &str, detail: serde_json::Value) -> Result<()> {
        audit(&mut self.tx, self.actor, self.id, action, detail).await?;
        self.tx.commit().await
    }
}

fn refuse_terminated(account: &ConnectionAccount, what: &str) -> Result<()> {
    if matches!(account.status, AccountStatus::Terminated { .. }) {
        return Err(DomainError::Conflict(format!(
            "cannot {what} a connection account that is terminated"
        ))
        .into());
    }
    Ok(())
}

impl Store {
    async fn begin_change<'a>(&self, actor: &'a Actor, id: i64) -> Result<AccountChange<'a>> {
        actor.require_admin()?;
        let mut tx = self.db.begin_write().await?;
        let (account, _, _) = account_in_tx(&mut tx, id).await?;
        Ok(AccountChange {
            tx,
            actor,
            id,
            account,
        })
    }

    /// Create a connection account and its first credential, returned once.
    pub async fn sharing_create_account(
        &self,
        actor: &Actor,
        fields: AccountFields,
    ) -> Result<(String, AccountRecord)> {
        actor.require_admin()?;
        let f = fields.validated()?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO sharing_accounts (name, organisation, contact_officer, contact_email, \
             purpose, legal_basis, valid_from, valid_until, status, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9) RETURNING id",
        )
        .bind(f.name.as_str())
        .bind(f.organisation.as_str())
        .bind(f.contact_officer.as_str())
        .bind(f.contact_email.as_deref())
        .bind(f.purpose.as_str())
        .bind(f.legal_basis.as_str())
        .bind(f.valid_from)
        .bind(f.valid_until)
        .bind(now)
        .fetch_one(tx.conn())
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                format!("a connection account named '{}' exists", f.name)
            })
        })?
        .get(0);
        let token = issue_credential(&mut tx, id, now).await?;
        let (account, _, _) = account_in_tx(&mut tx, id).await?;
        audit(&mut tx, actor, id, "create", account_json(&account)).await?;
        tx.commit().await?;
        Ok((token, self.sharing_account(actor, id).await?))
    }

    pub async fn sharing_accounts(&self, actor: &Actor) -> Result<Vec<AccountRecord>> {
        actor.require_admin()?;
        self.account_records(None).await
    }

    pub async fn sharing_account(&self, actor: &Actor, id: i64) -> Result<AccountRecord> {
        actor.require_admin()?;
        self.account_records(Some(id))
            .await?
            .pop()
            .ok_or_else(|| DomainError::not_found(format!("connection account {id}")).into())
    }

    async fn account_records(&self, id: Option<i64>) -> Result<Vec<AccountRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, c.prefix, c.created_at FROM sharing_accounts a \
             LEFT JOIN sharing_credentials c ON c.account_id = a.id AND c.revoked_at IS NULL \
             WHERE ($1 IS NULL OR a.id = $1) ORDER BY a.id"
        ))
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let (account, created_at, modified_at) = account_from_row(r);
                AccountRecord {
                    account,
                    credential_prefix: r.get(14),
                    credential_created_at: r.get(15),
                    created_at,
                    modified_at,
                }
            })
            .collect())
    }

    /// Replace an account's description and validity period.
    pub async fn sharing_update_account(
        &self,
        actor: &Actor,
        id: i64,
        fields: AccountFields,
    ) -> Result<AccountRecord> {
        let f = fields.validated()?;
        let mut change = self.begin_change(actor, id).await?;
        refuse_terminated(&change.account, "update")?;
        sqlx::query(
            "UPDATE sharing_accounts SET name = $1, organisation = $2, contact_officer = $3, \
             contact_email = $4, purpose = $5, legal_basis = $6, valid_from = $7, \
             valid_until = $8, modified_at = $9 WHERE id = $10",
        )
        .bind(f.name.as_str())
        .bind(f.organisation.as_str())
        .bind(f.contact_officer.as_str())
        .bind(f.contact_email.as_deref())
        .bind(f.purpose.as_str())
        .bind(f.legal_basis.as_str())
        .bind(f.valid_from)
        .bind(f.valid_until)
        .bind(now_ms())
        .bind(id)
        .execute(change.tx.conn())
        .await
        .map_err(|e| {
            conflict_on_unique(e, || {
                format!("a connection account named '{}' exists", f.name)
            })
        })?;
        let (after, _, _) = account_in_tx(&mut change.tx, id).await?;
        let detail =
            json!({"before": account_json(&change.account), "after": account_json(&after)});
        change.commit("update", detail).await?;
        self.sharing_account(actor, id).await
    }

    /// Suspend, resume or terminate. Terminating also revokes the credential.
    pub async fn sharing_change_status(
        &self,
        actor: &Actor,
        id: i64,
        change: StatusChange,
    ) -> Result<AccountRecord> {
        let now = now_ms();
        let action = change.action();
        let mut locked = self.begin_change(actor, id).await?;
        let before = locked.account.status.clone();
        let after = change_status(&before, change, now)?;
        // Compare-and-set on the status read above: on PostgreSQL two admins may race.
        let changed = sqlx::query(
            "UPDATE sharing_accounts SET status = $1, status_reason = $2, status_changed_at = $3, \
             modified_at = $4 WHERE id = $5 AND status = $6",
        )
        .bind(after.as_str())
        .bind(after.reason())
        .bind(after.changed_at())
        .bind(now)
        .bind(id)
        .bind(before.as_str())
        .execute(locked.tx.conn())
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(DomainError::Conflict(format!(
                "connection account {id} changed meanwhile; reload it and retry"
            ))
            .into());
        }
        if matches!(after, AccountStatus::Terminated { .. }) {
            sqlx::query(
                "UPDATE sharing_credentials SET revoked_at = $1 \
                 WHERE account_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(locked.tx.conn())
            .await?;
        }
        let detail =
            json!({"from": before.as_str(), "to": after.as_str(), "reason": after.reason()});
        locked.commit(action, detail).await?;
        self.sharing_account(actor, id).await
    }

    /// Replace the account's credential; the old one stops working at once.
    pub async fn sharing_rotate_credential(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<(String, AccountRecord)> {
        let mut change = self.begin_change(actor, id).await?;
        refuse_terminated(&change.account, "issue a credential for")?;
        let token = issue_credential(&mut change.tx, id, now_ms()).await?;
        let prefix: String = token.chars().take(9).collect();
        change
            .commit("rotate_credential", json!({"prefix": prefix}))
            .await?;
        Ok((token, self.sharing_account(actor, id).await?))
    }

    pub async fn sharing_grants(&self, actor: &Actor, account_id: i64) -> Result<Vec<GrantRecord>> {
        self.sharing_account(actor, account_id).await?;
        let rows = sqlx::query(
            "SELECT account_id, dataset_id, operations, valid_from, valid_until, created_at, \
             modified_at FROM sharing_grants WHERE account_id = $1 ORDER BY dataset_id",
        )
        .bind(account_id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(grant_from_row).collect())
    }

    /// Create or replace the grant of `grant.account_id` on `grant.dataset_id`; true when it
    /// is new.
    pub async fn sharing_put_grant(
        &self,
        actor: &Actor,
        grant: &Grant,
    ) -> Result<(GrantRecord, bool)> {
        let now = now_ms();
        let mut change = self.begin_change(actor, grant.account_id).await?;
        refuse_terminated(&change.account, "grant access to")?;
        let ops = operations_text(&grant.operations);
        let updated = sqlx::query(
            "UPDATE sharing_grants SET operations = $1, valid_from = $2, valid_until = $3, \
             modified_at = $4 WHERE account_id = $5 AND dataset_id = $6",
        )
        .bind(ops.as_str())
        .bind(grant.valid_from)
        .bind(grant.valid_until)
        .bind(now)
        .bind(grant.account_id)
        .bind(grant.dataset_id.as_str())
        .execute(change.tx.conn())
        .await?
        .rows_affected();
        let created = updated == 0;
        if created {
            sqlx::query(
                "INSERT INTO sharing_grants (account_id, dataset_id, operations, valid_from, \
                 valid_until, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(grant.account_id)
            .bind(grant.dataset_id.as_str())
            .bind(ops.as_str())
            .bind(grant.valid_from)
            .bind(grant.valid_until)
            .bind(now)
            .execute(change.tx.conn())
            .await
            .map_err(|e| {
                conflict_on_unique(e, || "the grant was created meanwhile; retry".into())
            })?;
        }
        let detail = json!({
                "dataset_id": grant.dataset_id, "operations": grant.operations,
                "valid_from": grant.valid_from.map(vn_time),
                "valid_until": grant.valid_until.map(vn_time),
        });
        let row = sqlx::query(
            "SELECT account_id, dataset_id, operations, valid_from, valid_until, created_at, \
             modified_at FROM sharing_grants WHERE account_id = $1 AND dataset_id = $2",
        )
        .bind(grant.account_id)
        .bind(grant.dataset_id.as_str())
        .fetch_one(change.tx.conn())
        .await?;
        change.commit("grant", detail).await?;
        Ok((grant_from_row(&row), created))
    }

    pub async fn sharing_revoke_grant(
        &self,
        actor: &Actor,
        account_id: i64,
        dataset_id: &str,
    ) -> Result<()> {
        let mut change = self.begin_change(actor, account_id).await?;
        let gone =
            sqlx::query("DELETE FROM sharing_grants WHERE account_id = $1 AND dataset_id = $2")
                .bind(account_id)
                .bind(dataset_id)
                .execute(change.tx.conn())
                .await?
                .rows_affected();
        if gone == 0 {
            return Err(DomainError::not_found(format!(
                "grant of connection account {account_id} on dataset '{dataset_id}'"
            ))
            .into());
        }
        change
            .commit("revoke", json!({"dataset_id": dataset_id}))
            .await
    }

    /// The admin changes, newest first; `before` is the id of the last row of the previous page.
    pub async fn sharing_audit(
        &self,
        actor: &Actor,
        account_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        actor.require_admin()?;
        let rows = sqlx::query(
            "SELECT id, at, actor, account_id, action, detail FROM sharing_audit \
             WHERE ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(account_id)
        .bind(before)
        .bind(limit.clamp(1, LOG_PAGE_MAX))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                account_id: r.get(3),
                action: r.get(4),
                detail: serde_json::from_str(&r.get::<String, _>(5)).unwrap_or_default(),
            })
            .collect())
    }

    /// A page of the sharing log, newest first; `before` is the id of the last row of the
    /// previous page (keyset paging: the log only grows, so offsets would shift).
    pub async fn sharing_log(
        &self,
        actor: &Actor,
        filter: &LogFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LogRow>> {
        actor.require_ioc()?;
        let mut sql = String::from(
            "SELECT l.id, l.at, l.account_id, l.dataset_id, l.resource_id, l.operation, \
             l.refusal, l.reason, l.client, l.bytes, a.name, a.organisation \
             FROM sharing_log l LEFT JOIN sharing_accounts a ON a.id = l.account_id WHERE 1 = 1",
        );
        let mut vals = Vec::new();
        let mut cond = |sql: &mut String, clause: &str, v: Val| {
            vals.push(v);
            sql.push_str(&clause.replace('?', &format!("${}", vals.len())));
        };
        if let Some(id) = filter.account_id {
            cond(&mut sql, " AND l.account_id = ?", Val::I(id));
        }
        if let Some(ds) = &filter.dataset_id {
            cond(&mut sql, " AND l.dataset_id = ?", Val::S(ds.clone()));
        }
        if let Some(from) = filter.from {
            cond(&mut sql, " AND l.at >= ?", Val::I(from));
        }
        if let Some(to) = filter.to {
            cond(&mut sql, " AND l.at < ?", Val::I(to));
        }
        match filter.allowed {
            Some(true) => sql.push_str(" AND l.refusal IS NULL"),
            Some(false) => sql.push_str(" AND l.refusal IS NOT NULL"),
            None => {}
        }
        if let Some(b) = before {
            cond(&mut sql, " AND l.id < ?", Val::I(b));
        }
        cond(
            &mut sql,
            " ORDER BY l.id DESC LIMIT ?",
            Val::I(limit.clamp(1, LOG_PAGE_MAX)),
        );
        let rows = bind_all(sqlx::query(&sql), &vals)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let refusal: Option<String> = r.get(6);
                LogRow {
                    id: r.get(0),
                    entry: LogEntry {
                        at: r.get(1),
                        account_id: r.get(2),
                        dataset_id: r.get(3),
                        resource_id: r.get(4),
                        operation: Operation::parse("operation", &r.get::<String, _>(5))
                            .unwrap_or(Operation::Read),
                        refusal: refusal.map(|code| {
                            dothi_sharing::Refusal::CODES
                                .into_iter()
                                .find(|c| *c == code)
                                .unwrap_or("unknown")
                        }),
                        reason: r.get(7),
                        client: r.get(8),
                        bytes: r.get(9),
                    },
                    account_name: r.get(10),
                    organisation: r.get(11),
                }
            })
            .collect())
    }

    /// The hook for protocol layers serving shared datasets (the CKAN Action API, resource
    /// downloads): is the holder of `token` allowed `request.operation` on
    /// `request.dataset_id` now? The answer is logged, allowed or refused, and returned only
    /// once the log row is durable; an `Err` means nothing may be served (answer 503).
    pub async fn sharing_authorize(&self, token: &str, request: AccessRequest) -> Result<Decision> {
        let now = now_ms();
        let keys: Vec<&str> = std::iter::once(request.dataset_id.as_str())
            .chain(request.dataset_uuid.as_deref())
            .collect();
        // One row per grant on the dataset's name or id (or one row without a grant).
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, c.revoked_at, g.account_id, g.dataset_id, g.operations, \
             g.valid_from, g.valid_until \
             FROM sharing_credentials c JOIN sharing_accounts a ON a.id = c.account_id \
             LEFT JOIN sharing_grants g ON g.account_id = a.id AND g.dataset_id IN ($2, $3) \
             WHERE c.token_hash = $1"
        ))
        .bind(digest(token))
        .bind(keys[0])
        .bind(keys.last().copied())
        .fetch_all(&self.db.pool)
        .await?;
        let account = rows.first().map(|r| account_from_row(r).0);
        let revoked = rows
            .first()
            .is_some_and(|r| r.get::<Option<i64>, _>(14).is_some());
        let grants: Vec<Grant> = rows
            .iter()
            .filter(|r| r.get::<Option<i64>, _>(15).is_some())
            .map(|r| Grant {
                account_id: r.get(15),
                dataset_id: r.get(16),
                operations: operations_parse(&r.get::<String, _>(17)),
                valid_from: r.get(18),
                valid_until: r.get(19),
            })
            .collect();
        // A replaced credential is refused as unknown, but the log names its account, so
        // operators see which system still sends an old credential.
        let decision = authorize(
            account.as_ref().filter(|_| !revoked),
            &grants,
            &keys,
            request.operation,
            now,
        );
        let (refusal, reason) = match &decision {
            Decision::Allowed { .. } => (None, None),
            Decision::Refused(r) => (Some(r.code()), Some(r.message(vn_time))),
        };
        let entry = LogEntry {
            at: now,
            account_id: account.as_ref().map(|a| a.id),
            dataset_id: request.dataset_id,
            resource_id: request.resource_id,
            operation: request.operation,
            refusal,
            reason,
            client: request.client,
            bytes: request.bytes.filter(|_| decision.is_allowed()),
        };
        self.sharing_log_writer.append(entry).await?;
        Ok(decision)
    }
}

/// Group commit of sharing-log rows; see the module's documentation.
#[derive(Clone)]
pub struct LogWriter {
    queue: mpsc::Sender<(LogEntry, oneshot::Sender<Result<()>>)>,
}

/// Rows written by one statement; 9 columns each keeps PostgreSQL under its 65,535 binds.
const LOG_BATCH_MAX: usize = 256;
const LOG_COLUMNS: usize = 9;

impl LogWriter {
    /// Start the writer task; it ends when the last `Store` clone is dropped.
    pub fn start(db: Db) -> Self {
        let (queue, mut rx) =
            mpsc::channel::<(LogEntry, oneshot::Sender<Result<()>>)>(4 * LOG_BATCH_MAX);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < LOG_BATCH_MAX {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let entries: Vec<&LogEntry> = batch.iter().map(|(e, _)| e).collect();
                match write_log(&db, &entries).await {
                    Ok(()) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, size = batch.len(), "sharing log batch failed; retrying row by row");
                        for (entry, reply) in batch {
                            let _ = reply.send(write_log(&db, &[&entry]).await);
                        }
                    }
                }
            }
        });
        LogWriter { queue }
    }

    async fn append(&self, entry: LogEntry) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.queue.send((entry, tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

async fn write_log(db: &Db, entries: &[&LogEntry]) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "INSERT INTO sharing_log (at, account_id, dataset_id, resource_id, operation, refusal, \
         reason, client, bytes) VALUES {}",
        row_placeholders(tx.backend(), entries.len(), LOG_COLUMNS)
    );
    let vals: Vec<Val> = entries
        .iter()
        .flat_map(|e| {
            [
                Val::I(e.at),
                Val::OptI(e.account_id),
                Val::S(e.dataset_id.clone()),
                Val::OptS(e.resource_id.clone()),
                Val::S(e.operation.as_str().into()),
                Val::OptS(e.refusal.map(str::to_string)),
                Val::OptS(e.reason.clone()),
                Val::OptS(e.client.clone()),
                Val::OptI(e.bytes),
            ]
        })
        .collect();
    bind_all(sqlx::query(&sql), &vals)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}
