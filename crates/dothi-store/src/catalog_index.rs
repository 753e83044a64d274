//! The catalogue's search index in memory, kept the way Solr keeps its own: for every dataset
//! what visibility, sorting and facet counting read (state, private, owner, sort keys, and its
//! facet terms as small numbers), plus the directory of organizations and groups. A search
//! asks the database only which datasets match its words and terms (one statement, none
//! without clauses) and for the bodies of the page it shows; the count, the facets and the
//! order are worked out here, a few tens of thousands of increments and comparisons for
//! 10,000 datasets instead of GROUP BYs and a second evaluation of the filter.
//!
//! It is a cache of `catalog_datasets`, `catalog_terms`, `catalog_organizations` and
//! `catalog_groups`, and never answers from an older state than the database's: every
//! transaction that writes a catalogue table raises the catalogue's generation (migration
//! 0018, [`raise_generation`]) and stamps the datasets it wrote with it; a search reads the
//! generation in the same statement that finds its matches, and an index behind that number
//! first reloads, from one snapshot, the datasets stamped since and the directory. Generations
//! are handed out in commit order (the counter row stays locked until the writer commits), so
//! "stamped above what I have" misses nothing. Each process (and each [`crate::Store::open`])
//! keeps its own index; several instances on one database agree.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use dothi_catalog::search::{SortKey, TermField};
use sqlx::Row;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::catalog::{read_directory, Directory};
use crate::db::{Backend, Db, WriteTx};
use crate::error::StoreError;

/// The process's index, shared by the clones of a [`crate::Store`].
pub(crate) type Cache = Arc<RwLock<SearchIndex>>;

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
) -> Result<RwLockReadGuard<'a, SearchIndex>, StoreError> {
    {
        let index = cache.read().await;
        if index.generation >= at_least {
            return Ok(index);
        }
    }
    let mut index = cache.write().await;
    // Another search may have reloaded it while this one waited.
    if index.generation < at_least {
        refresh(&mut index, db).await?;
    }
    Ok(RwLockWriteGuard::downgrade(index))
}

/// Reads, in one snapshot, the generation, the datasets stamped after the index's and their
/// terms, and the directory; then applies them.
async fn refresh(index: &mut SearchIndex, db: &Db) -> Result<(), StoreError> {
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
        "SELECT seq, state, private, owner_org, name, title_sort, metadata_created, \
         metadata_modified FROM catalog_datasets WHERE generation > $1",
    )
    .bind(index.generation)
    .fetch_all(&mut *tx)
    .await?;
    let terms = sqlx::query(
        "SELECT t.dataset, t.field, t.value FROM catalog_terms t \
         JOIN catalog_datasets d ON d.seq = t.dataset WHERE d.generation > $1",
    )
    .bind(index.generation)
    .fetch_all(&mut *tx)
    .await?;
    let directory = read_directory(&mut tx).await?;
    tx.rollback().await?;

    for r in &datasets {
        index.put(Listing {
            seq: r.get(0),
            active: r.get::<String, _>(1) == "active",
            private: r.get::<i64, _>(2) != 0,
            owner_org: r.get(3),
            name: r.get(4),
            title_sort: r.get(5),
            metadata_created: r.get(6),
            metadata_modified: r.get(7),
            terms: vec![],
        });
    }
    for r in &terms {
        let Some(field) = TermField::parse(&r.get::<String, _>(1)) else {
            continue;
        };
        let term = index.term(field, r.get(2));
        if let Some(&at) = index.by_seq.get(&r.get::<i64, _>(0)) {
            index.listings[at as usize].terms.push(term);
        }
    }
    index.directory = Arc::new(directory);
    index.generation = generation;
    Ok(())
}

/// One dataset as the index knows it (its row of `catalog_datasets` and its terms).
struct Listing {
    seq: i64,
    active: bool,
    private: bool,
    owner_org: i64,
    name: String,
    title_sort: String,
    metadata_created: i64,
    metadata_modified: i64,
    /// Its facet terms, as positions in [`SearchIndex::terms`].
    terms: Vec<u32>,
}

pub(crate) struct SearchIndex {
    /// The catalogue generation this index reflects; -1 before the first load (every row is
    /// stamped 0 or above).
    pub generation: i64,
    pub directory: Arc<Directory>,
    listings: Vec<Listing>,
    /// Position in `listings` of each dataset seq.
    by_seq: HashMap<i64, u32>,
    /// Per facet field (in [`TermField::ALL`]'s order): value → term.
    term_ids: [HashMap<String, u32>; 5],
    /// Number of terms known (terms are never forgotten; one no dataset holds counts 0).
    term_count: u32,
}

fn field_position(field: TermField) -> usize {
    match field {
        TermField::Organization => 0,
        TermField::Groups => 1,
        TermField::Tags => 2,
        TermField::ResFormat => 3,
        TermField::LicenseId => 4,
    }
}

/// Order of two datasets under `sort` (as the SQL `ORDER BY` of the same keys would give:
/// strings compare bytewise, as SQLite's BINARY and PostgreSQL's "C" collations do).
fn compare(a: &Listing, b: &Listing, sort: &[(SortKey, bool)]) -> Ordering {
    for (key, descending) in sort {
        let order = match key {
            SortKey::Score => Ordering::Equal,
            SortKey::MetadataModified => a.metadata_modified.cmp(&b.metadata_modified),
            SortKey::MetadataCreated => a.metadata_created.cmp(&b.metadata_created),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Title => a.title_sort.cmp(&b.title_sort),
        };
        let order = if *descending { order.reverse() } else { order };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

impl SearchIndex {
    pub fn empty() -> SearchIndex {
        SearchIndex {
            generation: -1,
            directory: Arc::new(Directory::default()),
            listings: vec![],
            by_seq: HashMap::new(),
            term_ids: Default::default(),
            term_count: 0,
        }
    }

    fn put(&mut self, listing: Listing) {
        match self.by_seq.get(&listing.seq) {
            Some(&at) => self.listings[at as usize] = listing,
            None => {
                self.by_seq.insert(listing.seq, self.listings.len() as u32);
                self.listings.push(listing);
            }
        }
    }

    fn term(&mut self, field: TermField, value: String) -> u32 {
        let next = self.term_count;
        let id = *self.term_ids[field_position(field)]
            .entry(value)
            .or_insert(next);
        if id == next {
            self.term_count += 1;
        }
        id
    }

    /// The active datasets `admits` lets the searcher see: all of them, or those of
    /// `matched` (seqs).
    pub fn visible(&self, matched: Option<&[i64]>, admits: impl Fn(bool, i64) -> bool) -> Vec<u32> {
        let shown = |at: u32| {
            let l = &self.listings[at as usize];
            l.active && admits(l.private, l.owner_org)
        };
        match matched {
            None => (0..self.listings.len() as u32)
                .filter(|&at| shown(at))
                .collect(),
            Some(seqs) => seqs
                .iter()
                .filter_map(|seq| self.by_seq.get(seq).copied())
                .filter(|&at| shown(at))
                .collect(),
        }
    }

    /// Facet counts over `found`: per field asked (`None`: a field without terms, always
    /// empty), its values with at least `mincount` (and at least one) datasets, most frequent
    /// first, then by value; at most `limit` of them.
    pub fn facets(
        &self,
        found: &[u32],
        fields: &[(String, Option<TermField>)],
        mincount: i64,
        limit: Option<i64>,
    ) -> Vec<(String, Vec<(String, i64)>)> {
        let mut counts = vec![0u32; self.term_count as usize];
        if fields.iter().any(|(_, f)| f.is_some()) {
            for &at in found {
                for &term in &self.listings[at as usize].terms {
                    counts[term as usize] += 1;
                }
            }
        }
        fields
            .iter()
            .map(|(name, field)| {
                let mut values: Vec<(&str, i64)> = match field {
                    None => vec![],
                    Some(f) => self.term_ids[field_position(*f)]
                        .iter()
                        .map(|(value, &term)| (value.as_str(), counts[term as usize] as i64))
                        .filter(|&(_, n)| n > 0 && n >= mincount)
                        .collect(),
                };
                values.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                if let Some(limit) = limit {
                    values.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                }
                let values = values
                    .into_iter()
                    .map(|(v, n)| (v.to_string(), n))
                    .collect();
                (name.clone(), values)
            })
            .collect()
    }

    /// The seqs of `found`'s datasets `start..start + rows` under `sort` (which ends with a
    /// unique key, so the order is total). Reorders `found`.
    pub fn page(
        &self,
        found: &mut [u32],
        sort: &[(SortKey, bool)],
        start: i64,
        rows: i64,
    ) -> Vec<i64> {
        let len = found.len();
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(len);
        let end = start
            .saturating_add(usize::try_from(rows).unwrap_or(0))
            .min(len);
        if start >= end {
            return vec![];
        }
        let order = |a: &u32, b: &u32| {
            compare(
                &self.listings[*a as usize],
                &self.listings[*b as usize],
                sort,
            )
        };
        if end < len {
            // The first `end` in any order, then only those sorted.
            found.select_nth_unstable_by(end - 1, order);
        }
        found[..end].sort_unstable_by(order);
        found[start..end]
            .iter()
            .map(|&at| self.listings[at as usize].seq)
            .collect()
    }
}
