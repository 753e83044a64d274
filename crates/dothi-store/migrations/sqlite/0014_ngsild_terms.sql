-- The query index names attributes and types by number (issue 4, ingestion throughput). With
-- the IRIs in its keys, an index row took ~120 bytes and the index of 100,000 entities ~300 MB;
-- an update batch rewrites index entries all over it (the values move), so every batch wrote
-- tens of thousands of pages. Numbered, a row takes ~25 bytes. Written and read by
-- crates/dothi-store/src/ngsild.rs. Keep in step with ../postgres/0014_ngsild_terms.sql.
--
-- A term is never renumbered nor deleted, so a number read once stays valid.
CREATE TABLE ngsild_terms (
    id INTEGER PRIMARY KEY,
    iri TEXT NOT NULL UNIQUE
);
INSERT INTO ngsild_terms (iri)
SELECT attr FROM ngsild_attr_index UNION SELECT type FROM ngsild_attr_index;

-- As in 0005, with attr_id and type_id for attr and type.
CREATE TABLE ngsild_attr_index_terms (
    entity_pk INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    attr_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    num DOUBLE PRECISION,
    text TEXT,
    PRIMARY KEY (entity_pk, ord)
) WITHOUT ROWID;
INSERT INTO ngsild_attr_index_terms (entity_pk, ord, attr_id, type_id, num, text)
SELECT i.entity_pk, i.ord, a.id, t.id, i.num, i.text
FROM ngsild_attr_index i
JOIN ngsild_terms a ON a.iri = i.attr
JOIN ngsild_terms t ON t.iri = i.type;
DROP TABLE ngsild_attr_index;
ALTER TABLE ngsild_attr_index_terms RENAME TO ngsild_attr_index;
CREATE INDEX ngsild_attr_index_num ON ngsild_attr_index (attr_id, type_id, num, entity_pk);
CREATE INDEX ngsild_attr_index_text ON ngsild_attr_index (attr_id, type_id, text, entity_pk)
    WHERE text IS NOT NULL;
