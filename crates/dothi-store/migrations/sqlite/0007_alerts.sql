-- Threshold rules and alerts (issue 4, item 6). Keep in step with ../postgres/0007_alerts.sql.
-- Read and written by crates/dothi-store/src/alerts.rs; the semantics are in docs/ALERTS.md.
--
-- spec is the rule's definition as JSON (RuleSpec), read and written whole.
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

-- Where each (rule, entity) pair stands, so that a restarted engine continues a pending
-- duration or a firing alert where it was. alert_id is the alert the pair raised while firing.
CREATE TABLE alert_rule_states (
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    entity_id TEXT NOT NULL,
    state TEXT NOT NULL,
    since BIGINT,
    last_value DOUBLE PRECISION,
    last_threshold DOUBLE PRECISION,
    last_observed BIGINT,
    alert_id BIGINT,
    PRIMARY KEY (rule_id, entity_id)
);
CREATE INDEX alert_rule_states_pending ON alert_rule_states (state, since);
CREATE INDEX alert_rule_states_entity ON alert_rule_states (entity_id);

-- Alerts outlive their rule (no foreign key): the record of what was raised stays.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id BIGINT NOT NULL,
    rule_name TEXT NOT NULL,
    rule_name_en TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    since BIGINT NOT NULL,
    observed_at BIGINT NOT NULL,
    raised_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at BIGINT,
    resolved_by TEXT,
    agency_id BIGINT,
    message_vi TEXT NOT NULL,
    message_en TEXT NOT NULL,
    note TEXT
);
CREATE INDEX alerts_raised ON alerts (raised_at);
CREATE INDEX alerts_status ON alerts (status, raised_at);
CREATE INDEX alerts_agency ON alerts (agency_id, raised_at);

-- Every lifecycle step of an alert, in order: the server-sent event stream resumes from an id
-- of this table, and webhook deliveries point at it. alert holds the alert as the API showed it
-- right after the step.
CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    agency_id BIGINT,
    alert TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- events is a comma-separated list with a comma at each end (",raised,resolved,"), so that one
-- LIKE selects the webhooks of an event kind on both backends.
CREATE TABLE alert_webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    agency_id BIGINT,
    description TEXT,
    created_at BIGINT NOT NULL,
    last_success_at BIGINT,
    last_failure_at BIGINT,
    last_error TEXT
);

-- The durable outbox: a row per (webhook, event) until the receiver answers 2xx.
CREATE TABLE alert_webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES alert_webhooks (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_webhook_deliveries_due ON alert_webhook_deliveries (next_attempt_at, id);
CREATE INDEX alert_webhook_deliveries_webhook ON alert_webhook_deliveries (webhook_id);
