-- JSON-LD contexts hosted through /ngsi-ld/v1/jsonldContexts (issue 4, item 2). Keep in step
-- with ../postgres/0011_ngsild_contexts.sql. Read and written by
-- crates/dothi-store/src/ngsild_contexts.rs; the broker keeps a cache in memory.
--
-- id is the local id (the last segment of url); document is the JSON-LD document as sent.
CREATE TABLE ngsild_contexts (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
