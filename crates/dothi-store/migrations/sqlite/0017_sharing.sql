-- Sharing controls of Nghị định 47/2020/NĐ-CP (issue 5, item 6). Keep in step with
-- ../postgres/0017_sharing.sql. Read and written by crates/dothi-store/src/sharing.rs; the
-- rules are in crates/dothi-sharing and docs/OPEN-DATA.md ("Sharing controls").

-- Connection accounts (tài khoản kết nối). status is active | suspended | terminated;
-- status_reason and status_changed_at are set when it is not active.
CREATE TABLE sharing_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    organisation TEXT NOT NULL,
    contact_officer TEXT NOT NULL,
    contact_email TEXT,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT,
    status TEXT NOT NULL,
    status_reason TEXT,
    status_changed_at BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

-- Credentials: only the SHA-256 of the token is kept (as for API keys). Rotation revokes the
-- previous one in the same transaction, so an account has at most one live credential.
CREATE TABLE sharing_credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES sharing_accounts (id),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
-- At most one live credential per account, whatever runs concurrently.
CREATE UNIQUE INDEX sharing_credentials_live ON sharing_credentials (account_id)
    WHERE revoked_at IS NULL;
CREATE INDEX sharing_credentials_account ON sharing_credentials (account_id);

-- Access of an account to a dataset of the catalogue (a text id: CKAN id or name).
-- operations is a comma-separated sorted list of read, download.
CREATE TABLE sharing_grants (
    account_id BIGINT NOT NULL REFERENCES sharing_accounts (id),
    dataset_id TEXT NOT NULL,
    operations TEXT NOT NULL,
    valid_from BIGINT,
    valid_until BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, dataset_id)
);
CREATE INDEX sharing_grants_dataset ON sharing_grants (dataset_id);

-- The sharing log (nhật ký chia sẻ dữ liệu): every access, allowed or refused. refusal is the
-- refusal's code (NULL when allowed); reason the message the consumer was told. No foreign
-- key: the log outlives what it names. Append-only.
CREATE TABLE sharing_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    account_id BIGINT,
    dataset_id TEXT NOT NULL,
    resource_id TEXT,
    operation TEXT NOT NULL,
    refusal TEXT,
    reason TEXT,
    client TEXT,
    bytes BIGINT
);
CREATE INDEX sharing_log_at ON sharing_log (at);
CREATE INDEX sharing_log_account ON sharing_log (account_id, id);
CREATE INDEX sharing_log_dataset ON sharing_log (dataset_id, id);

CREATE TRIGGER sharing_log_no_update BEFORE UPDATE ON sharing_log
BEGIN SELECT RAISE(ABORT, 'sharing_log is append-only'); END;
CREATE TRIGGER sharing_log_no_delete BEFORE DELETE ON sharing_log
BEGIN SELECT RAISE(ABORT, 'sharing_log is append-only'); END;

-- Every administrator change to accounts, credentials and grants: who, when, what (detail is
-- JSON: the fields after the change, or the reason). Written in the change's transaction.
-- Append-only.
CREATE TABLE sharing_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id BIGINT,
    account_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX sharing_audit_account ON sharing_audit (account_id, id);

CREATE TRIGGER sharing_audit_no_update BEFORE UPDATE ON sharing_audit
BEGIN SELECT RAISE(ABORT, 'sharing_audit is append-only'); END;
CREATE TRIGGER sharing_audit_no_delete BEFORE DELETE ON sharing_audit
BEGIN SELECT RAISE(ABORT, 'sharing_audit is append-only'); END;
