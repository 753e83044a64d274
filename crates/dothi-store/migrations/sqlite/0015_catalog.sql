-- The open-data catalogue (issue 5): CKAN-compatible datasets, organizations and groups.
-- Written and read by crates/dothi-store/src/catalog.rs. Keep in step with
-- ../postgres/0015_catalog.sql.
--
-- A dataset is one JSON document (catalog_dataset_bodies, resources inside); catalog_datasets
-- holds what filters, sorting and visibility read, kept narrow so that scanning it stays cheap;
-- catalog_words indexes the diacritics-folded words of its text. All are rewritten with the
-- body in the same transaction.

-- One organization per agency of the reference data (agency_id), plus any created by hand.
CREATE TABLE catalog_organizations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    title_en TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    description_en TEXT NOT NULL DEFAULT '',
    image_url TEXT NOT NULL DEFAULT '',
    agency_id BIGINT UNIQUE REFERENCES agencies(id),
    state TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL
);

CREATE TABLE catalog_groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    title_en TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    description_en TEXT NOT NULL DEFAULT '',
    image_url TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL
);

-- Names stay taken by deleted datasets (package_delete is a soft delete).
CREATE TABLE catalog_datasets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    owner_org BIGINT NOT NULL REFERENCES catalog_organizations(seq),
    private BIGINT NOT NULL,
    state TEXT NOT NULL,
    title_sort TEXT NOT NULL,
    metadata_created BIGINT NOT NULL,
    metadata_modified BIGINT NOT NULL
);
CREATE INDEX catalog_datasets_listing ON catalog_datasets (state, private, metadata_modified);
CREATE INDEX catalog_datasets_org ON catalog_datasets (owner_org, state);

CREATE TABLE catalog_dataset_bodies (
    dataset BIGINT PRIMARY KEY REFERENCES catalog_datasets(seq),
    body TEXT NOT NULL
);

-- Words of active datasets (dothi_catalog::Dataset::search_words), for free-text search:
-- a word is found by equality, a prefix (`word*`) by a range.
CREATE TABLE catalog_words (
    word TEXT NOT NULL,
    dataset BIGINT NOT NULL REFERENCES catalog_datasets(seq),
    in_title BIGINT NOT NULL,
    in_notes BIGINT NOT NULL,
    PRIMARY KEY (word, dataset)
) WITHOUT ROWID;
CREATE INDEX catalog_words_dataset ON catalog_words (dataset);

-- Facet terms of active datasets only (organization, groups, tags, res_format, license_id),
-- with the dataset's visibility copied so that facet counts read this table alone.
CREATE TABLE catalog_terms (
    dataset BIGINT NOT NULL REFERENCES catalog_datasets(seq),
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    private BIGINT NOT NULL,
    owner_org BIGINT NOT NULL,
    PRIMARY KEY (dataset, field, value)
) WITHOUT ROWID;
CREATE INDEX catalog_terms_lookup ON catalog_terms (field, value, dataset);
CREATE INDEX catalog_terms_facets ON catalog_terms (field, private, value, owner_org);

-- Where each resource of an active dataset lives, for resource_show and downloads.
CREATE TABLE catalog_resources (
    id TEXT PRIMARY KEY,
    dataset BIGINT NOT NULL REFERENCES catalog_datasets(seq)
);
CREATE INDEX catalog_resources_dataset ON catalog_resources (dataset);
