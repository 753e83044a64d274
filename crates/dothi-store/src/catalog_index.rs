//! The process's copy of the catalogue's search index (`dothi_catalog::index`, which answers a
//! `package_search` in memory, as Solr does) and of the directory of organizations and groups:
//! loading it and keeping it current. A search then asks the database only for the
//! catalogue's generation and for the bodies of the page it shows.
//!
//! It is a cache of `catalog_datasets`, `catalog_words`, `catalog_terms`,
//! `catalog_organizations` and `catalog_groups`, and never answers from a state older than the
//! database's when the search began: every transaction that writes a catalogue table raises
//! the catalogue's generation (migration 0018, [`raise_generation`]) and stamps the datasets
//! it wrote with it; a search reads the generation in the statement that reads its page's
//! bodies, and if the index is behind, it reloads, from one snapshot, the datasets stamped
//! since (rows, words, terms) and the directory, and the search runs again.
//! Generations are handed out in commit order (the counter's row stays locked until the
//! writer commits), so "stamped above what I have" misses nothing. Each process (and each
//! [`crate::Store::open`]) keeps its own index; several instances on one database agree.

use std::sync::Arc;

use dothi_catalog::index::{Entry, SearchIndex};
use dothi_catalog::search::TermField;
use sqlx::Row;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::catalog::{read_directory, Directory};
use crate::db::{Backend, Db, WriteTx};
use crate::error::StoreError;

/// The process's index, shared by the clones of a [`crate::Store`].
pub(crate) type Cache = Arc<RwLock<Cached>>;

/// The index and the directory, as of `generation`.
pub(crate) struct Cached {
    /// -1 before the first load (every dataset row is stamped 0 or above).
    pub generation: i64,
    pub directory: Arc<Directory>,
    pub index: SearchIndex,
}

impl Cached {
    pub fn empty() -> Cached {
        Cached {
            generation: -1,
            directory: Arc::new(Directory::default()),
            index: SearchIndex::new(),
        }
    }
}

/// Raises the catalogue's generation; every transaction that writes a catalogue table calls
/// it once it has written (the counter's row stays locked until the commit, so call it last),
/// and stamps the dataset rows it wrote with the number returned.
pub(crate) async fn raise_generation(tx: &mut WriteTx) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "UPDATE catalog_generation SET generation = generation + 1 RETURNING generation",
    )
    .fetch_one(tx.conn())
    .await?
    .get(0))
}

/// The generation the database is at now.
pub(crate) async fn generation(db: &Db) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT generation FROM catalog_generation")
        .fetch_one(&db.pool)
        .await?
        .get(0))
}

/// The index at generation `at_least` or a later one, reloading what changed first if it is
/// behind.
pub(crate) async fn at_least<'a>(
    cache: &'a Cache,
    db: &Db,
    at_least: i64,
) -> Result<RwLockReadGuard<'a, Cached>, StoreError> {
    {
        let index = cache.read().await;
        if index.generation >= at_least {
            return Ok(index);
        }
    }
    let mut cached = cache.write().await;
    // Another search may have reloaded it while this one waited.
    if cached.generation < at_least {
        refresh(&mut cached, db).await?;
    }
    Ok(RwLockWriteGuard::downgrade(cached))
}

/// Reads, in one snapshot, the generation, the datasets stamped after the index's with their
/// words and terms, and the directory; then applies them.
async fn refresh(cached: &mut Cached, db: &Db) -> Result<(), StoreError> {
    let after = cached.generation;
    let mut tx = db.pool.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let generation: i64 = sqlx::query("SELECT generation FROM catalog_generation")
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    let datasets = sqlx::query(
        "SELECT seq, id, name, state, private, owner_org, title_sort, metadata_created, \
         metadata_modified FROM catalog_datasets WHERE generation > $1",
    )
    .bind(after)
    .fetch_all(&mut *tx)
    .await?;
    // Terms and words grouped: one row per term with its datasets as "seq seq …", one row per
    // word with its datasets as "seq/flags seq/flags …" (flags: 1 in the title, 2 in the
    // notes). A tenth of the rows or less (10,000 datasets hold some 80,000 terms and 600,000
    // words), which keeps loading fast and its memory small; on SQLite, in the indexes' order.
    let concat = match db.backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    let changed = |table: &str, alias: &str| {
        if after < 0 {
            format!("{table} {alias}")
        } else {
            format!(
                "{table} {alias} JOIN catalog_datasets d ON d.seq = {alias}.dataset \
                 WHERE d.generation > $1"
            )
        }
    };
    let terms_sql = format!(
        "SELECT t.field, t.value, {concat}(CAST(t.dataset AS TEXT), ' ') FROM {} \
         GROUP BY t.field, t.value",
        changed("catalog_terms", "t")
    );
    let mut terms = sqlx::query(&terms_sql);
    if after >= 0 {
        terms = terms.bind(after);
    }
    let terms = terms.fetch_all(&mut *tx).await?;
    let postings = format!(
        "{concat}(CAST(w.dataset AS TEXT) || '/' || CAST(w.in_title + 2 * w.in_notes AS TEXT), ' ')"
    );
    let words_sql = format!(
        "SELECT w.word, {postings} FROM {} GROUP BY w.word",
        changed("catalog_words", "w")
    );
    let mut words = sqlx::query(&words_sql);
    if after >= 0 {
        words = words.bind(after);
    }
    let words = words.fetch_all(&mut *tx).await?;
    let directory = read_directory(&mut tx).await?;
    tx.rollback().await?;

    let index = &mut cached.index;
    for r in &datasets {
        index.put(Entry {
            key: r.get(0),
            id: r.get(1),
            name: r.get(2),
            active: r.get::<String, _>(3) == "active",
            private: r.get::<i64, _>(4) != 0,
            owner: r.get(5),
            title_sort: r.get(6),
            metadata_created: r.get(7),
            metadata_modified: r.get(8),
        });
    }
    for r in &terms {
        let Some(field) = TermField::parse(&r.get::<String, _>(0)) else {
            continue;
        };
        let value: String = r.get(1);
        let datasets: String = r.get(2);
        for seq in datasets.split(' ').filter_map(|s| s.parse::<i64>().ok()) {
            index.add_term(seq, field, &value);
        }
    }
    for r in &words {
        let word = index.word_id(&r.get::<String, _>(0));
        let list: String = r.get(1);
        for posting in list.split(' ') {
            let Some((seq, flags)) = posting.split_once('/') else {
                continue;
            };
            if let (Ok(seq), Ok(flags)) = (seq.parse::<i64>(), flags.parse::<u8>()) {
                index.add_word(seq, word, flags & 1 != 0, flags & 2 != 0);
            }
        }
    }
    index.words_added();
    cached.directory = Arc::new(directory);
    cached.generation = generation;
    Ok(())
}
