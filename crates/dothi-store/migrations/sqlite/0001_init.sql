-- dothi schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql: same tables,
-- same columns, same meaning. Times are Unix epoch milliseconds (UTC); flags are 0/1.

CREATE TABLE admin_units (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    division_type TEXT NOT NULL,
    province_code TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION
);

CREATE TABLE agencies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT,
    kind TEXT NOT NULL,
    commune_code TEXT REFERENCES admin_units(code),
    email TEXT,
    phone TEXT,
    active BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT,
    description TEXT NOT NULL DEFAULT '',
    description_en TEXT,
    group_name TEXT NOT NULL DEFAULT '',
    keywords TEXT NOT NULL DEFAULT '',
    deadline_normal_days BIGINT NOT NULL,
    deadline_urgent_days BIGINT NOT NULL,
    default_agency_id BIGINT REFERENCES agencies(id),
    attributes TEXT NOT NULL DEFAULT '[]',
    active BIGINT NOT NULL DEFAULT 1
);

-- commune_code '*' means "any commune": NULL would defeat the unique constraint.
CREATE TABLE routing_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id BIGINT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    commune_code TEXT NOT NULL,
    agency_id BIGINT NOT NULL REFERENCES agencies(id),
    UNIQUE (category_id, commune_code)
);

CREATE TABLE holidays (
    day TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    password_hash TEXT,
    role TEXT NOT NULL,
    agency_id BIGINT REFERENCES agencies(id),
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    category_id BIGINT NOT NULL REFERENCES categories(id),
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    commune_code TEXT,
    agency_id BIGINT REFERENCES agencies(id),
    reporter_user_id BIGINT REFERENCES users(id),
    reporter_name TEXT,
    reporter_email TEXT,
    reporter_phone TEXT,
    reporter_device_id TEXT,
    anonymous BIGINT NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}',
    search_text TEXT NOT NULL,
    status_notes TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deadline_at BIGINT NOT NULL,
    resolved_at BIGINT,
    closed_at BIGINT,
    overdue BIGINT NOT NULL DEFAULT 0,
    resolved_on_time BIGINT,
    rating TEXT,
    rating_comment TEXT,
    rated_at BIGINT,
    reopen_count BIGINT NOT NULL DEFAULT 0,
    reject_reason TEXT,
    duplicate_of BIGINT,
    api_key_id BIGINT,
    photo_id BIGINT
);
CREATE INDEX reports_created ON reports (created_at);
CREATE INDEX reports_updated ON reports (updated_at);
CREATE INDEX reports_category_created ON reports (category_id, created_at);
CREATE INDEX reports_agency_deadline ON reports (agency_id, deadline_at);
CREATE INDEX reports_status_deadline ON reports (status, deadline_at);
CREATE INDEX reports_reporter ON reports (reporter_user_id);

CREATE TABLE report_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id BIGINT NOT NULL REFERENCES reports(id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_label TEXT NOT NULL,
    actor_user_id BIGINT,
    actor_role TEXT,
    agency_id BIGINT,
    target_agency_id BIGINT,
    note TEXT,
    public BIGINT NOT NULL DEFAULT 1,
    detail TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX report_events_report ON report_events (report_id, id);
CREATE INDEX report_events_created ON report_events (created_at);

-- The history is append-only: the database itself refuses to rewrite it.
CREATE TRIGGER report_events_no_update BEFORE UPDATE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;
CREATE TRIGGER report_events_no_delete BEFORE DELETE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;

CREATE TABLE extensions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id BIGINT NOT NULL REFERENCES reports(id),
    days BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_note TEXT,
    old_deadline_at BIGINT NOT NULL,
    new_deadline_at BIGINT
);
CREATE INDEX extensions_report ON extensions (report_id);

CREATE TABLE media (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id BIGINT NOT NULL REFERENCES reports(id),
    event_id BIGINT,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    size BIGINT NOT NULL,
    data BLOB NOT NULL,
    thumbnail BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX media_report ON media (report_id);
