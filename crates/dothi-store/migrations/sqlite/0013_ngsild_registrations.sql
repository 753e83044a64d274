-- NGSI-LD context source registrations and their subscriptions (issue 4; GS CIM 009 §5.9–5.11).
-- Keep in step with ../postgres/0013_ngsild_registrations.sql. Read and written by
-- crates/dothi-store/src/ngsild_registrations.rs; the bodies are opaque JSON computed by the
-- broker (crates/dothi-broker/src/registrations.rs), stored expanded (full IRIs).
--
-- revision counts the writes of a registration: an update is applied only to the revision it
-- was computed from (compare-and-swap), so concurrent PATCHes never lose one another.
-- expires_at (epoch ms) is the registration's expiresAt: a registration past it is absent to
-- every read and is deleted by the registry worker.
CREATE TABLE ngsild_registrations (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    expires_at BIGINT,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX ngsild_registrations_created ON ngsild_registrations (created_at, id);
CREATE INDEX ngsild_registrations_expires ON ngsild_registrations (expires_at);

-- Context source registration subscriptions: the same bookkeeping as ngsild_subscriptions.
-- Their notifications go through the same outbox, ngsild_deliveries, under the subscription id
-- 'csource ' || id (a space cannot occur in a URI, so the two kinds never share a key).
CREATE TABLE ngsild_csource_subscriptions (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at BIGINT,
    times_sent BIGINT NOT NULL DEFAULT 0,
    times_failed BIGINT NOT NULL DEFAULT 0,
    last_notification BIGINT,
    last_success BIGINT,
    last_failure BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX ngsild_csource_subscriptions_created
    ON ngsild_csource_subscriptions (created_at, id);
