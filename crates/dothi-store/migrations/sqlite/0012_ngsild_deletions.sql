-- Deletions in the temporal evolution (issue 4, §4.5.6 and `timeproperty=deletedAt`): one row per
-- attribute instance or scope deleted through the entity API, holding the instance the temporal
-- API shows (kind and datasetId, the NGSI-LD Null as payload; `[]` for a scope). Kept apart
-- from ngsild_history, so that observedAt reads and aggregation, which read only the history's
-- covering index, never meet them. Written by crates/dothi-store/src/ngsild.rs
-- (`Change::*::deletions`). Keep in step with ../postgres/0012_ngsild_deletions.sql.
--
-- dataset_id '' is the default instance, as in ngsild_series.
CREATE TABLE ngsild_deletions (
    seq INTEGER PRIMARY KEY,
    entity_id TEXT NOT NULL,
    attr TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    deleted_at BIGINT NOT NULL,
    instance TEXT NOT NULL
);
CREATE INDEX ngsild_deletions_entity ON ngsild_deletions (entity_id, attr, deleted_at);
