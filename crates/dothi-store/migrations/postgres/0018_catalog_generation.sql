-- The catalogue's generation (issue 5, item 7): what keeps the search index every server
-- process holds in memory (crates/dothi-store/src/catalog_index.rs) exact. Keep in step with
-- ../sqlite/0018_catalog_generation.sql.
--
-- Every transaction that writes a catalogue table raises catalog_generation.generation by
-- one, as its last statement before COMMIT, and stamps the dataset rows it wrote with the new
-- value. A process whose index is at generation g reloads only the datasets stamped above g
-- (and the organizations and groups) when it reads a larger number. The counter's single row
-- is locked from the raise to the commit, so generations are handed out in commit order:
-- whoever reads generation g also sees every dataset stamped g or below.
CREATE TABLE catalog_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO catalog_generation (id, generation) VALUES (1, 1);

-- Rows written before this migration carry 0: a process's first load reads every row.
ALTER TABLE catalog_datasets ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX catalog_datasets_generation ON catalog_datasets (generation);
