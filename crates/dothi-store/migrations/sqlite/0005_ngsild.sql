-- NGSI-LD context broker (issue 4): entities, their query index, attribute history, the change
-- log of durable subscriptions, subscriptions and their delivery outbox. The store treats
-- entity and subscription bodies as opaque JSON computed by the broker (see
-- crates/dothi-store/src/ngsild.rs). Keep in step with ../postgres/0005_ngsild.sql.
--
-- Child rows (body, types, attribute index) are deleted explicitly with their entity: no foreign
-- keys, whose checks would cost a lookup per index row on the ingestion path.

-- pk orders results (creation order), so paging is stable. types: JSON array of type IRIs, in
-- the order given. The bounding box is that of the `location` GeoProperty, NULL without one.
-- The body lives in ngsild_entity_bodies: filters, counts and paging then read narrow rows (tens
-- per page), and bodies are read only for the entities returned.
CREATE TABLE ngsild_entities (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    types TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    min_lon DOUBLE PRECISION,
    min_lat DOUBLE PRECISION,
    max_lon DOUBLE PRECISION,
    max_lat DOUBLE PRECISION
);

CREATE TABLE ngsild_entity_bodies (
    pk INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE ngsild_entity_types (
    entity_pk INTEGER NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (entity_pk, type)
) WITHOUT ROWID;
CREATE INDEX ngsild_entity_types_type ON ngsild_entity_types (type, entity_pk);

-- One row per value of an attribute instance and type of the entity (nearly always one), for
-- the query prefilters; ord numbers the rows of an entity. The type in the index keys confines
-- a prefilter to the entities of the queried types instead of every entity having the
-- attribute. Most values are numbers, so the text index is partial.
CREATE TABLE ngsild_attr_index (
    entity_pk INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    attr TEXT NOT NULL,
    type TEXT NOT NULL,
    num DOUBLE PRECISION,
    text TEXT,
    PRIMARY KEY (entity_pk, ord)
) WITHOUT ROWID;
CREATE INDEX ngsild_attr_index_num ON ngsild_attr_index (attr, type, num, entity_pk);
CREATE INDEX ngsild_attr_index_text ON ngsild_attr_index (attr, type, text, entity_pk)
    WHERE text IS NOT NULL;

-- A series is one attribute instance of one entity; dataset_id '' is the default instance (NULL
-- would defeat the unique constraint). History rows carry the series number instead of the
-- long IRIs, which keeps the covering index small: aggregation reads only the index.
CREATE TABLE ngsild_series (
    sid INTEGER PRIMARY KEY,
    entity_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    UNIQUE (entity_id, attr, dataset_id)
);

CREATE TABLE ngsild_history (
    seq INTEGER PRIMARY KEY,
    sid BIGINT NOT NULL,
    observed_at BIGINT NOT NULL,
    num DOUBLE PRECISION,
    instance TEXT NOT NULL
);
CREATE INDEX ngsild_history_series ON ngsild_history (sid, observed_at, num);

-- 0 .. 65535: the bucket numbers of a temporal aggregation. Joining buckets (the outer loop, in
-- order) with the history index lets SQLite aggregate as it reads, where a GROUP BY on a
-- computed bucket would sort every instance first.
CREATE TABLE ngsild_numbers (n INTEGER PRIMARY KEY);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 65535)
INSERT INTO ngsild_numbers (n) SELECT i FROM c;

-- AUTOINCREMENT: a sequence number is never reused, even once the log has been purged, since
-- subscription cursors point into it. attrs: JSON array of attribute IRIs.
CREATE TABLE ngsild_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id TEXT NOT NULL,
    op TEXT NOT NULL,
    attrs TEXT NOT NULL,
    snapshot TEXT,
    at BIGINT NOT NULL
);

CREATE TABLE ngsild_subscriptions (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at BIGINT,
    times_sent BIGINT NOT NULL DEFAULT 0,
    -- Failed notifications (timesFailed, §5.2.14); times_sent counts every attempt.
    times_failed BIGINT NOT NULL DEFAULT 0,
    last_notification BIGINT,
    last_success BIGINT,
    last_failure BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

CREATE TABLE ngsild_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ngsild_deliveries_due ON ngsild_deliveries (next_attempt_at, seq);
CREATE INDEX ngsild_deliveries_subscription ON ngsild_deliveries (subscription_id);

CREATE TABLE ngsild_cursors (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
