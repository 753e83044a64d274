//! The catalogue's search index, held in memory by each server process as Solr holds its own:
//! for every dataset its visibility, sort keys, words (`Dataset::search_words`) and facet terms
//! (`Dataset::facet_terms`), words and terms as small numbers; and the evaluation of a
//! [`SearchQuery`] over them: which datasets match, how many, the facet counts, and the order
//! of the page asked for. Filling it and keeping it current is the store's business
//! (`dothi_store::catalog_index`); the store then reads only the page's bodies.
//!
//! The query means here what `search` documents: all clauses must hold; a word matches a
//! whole folded word of the field (`word*` any word starting so); a term is an exact value;
//! only active datasets are found, and only those the caller's `admits` lets through.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use crate::search::{Clause, Condition, SearchQuery, SortKey, TermField, TextField};

/// One dataset's row as the index keeps it; `key` is the store's (its `seq`), `owner` the
/// store's key of the owning organization.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: i64,
    pub id: String,
    pub name: String,
    pub active: bool,
    pub private: bool,
    pub owner: i64,
    /// The folded Vietnamese title (`title_string` sorts by it).
    pub title_sort: String,
    pub metadata_created: i64,
    pub metadata_modified: i64,
}

struct Listing {
    entry: Entry,
    /// Word ids shifted left by two, with [`IN_TITLE`] and [`IN_NOTES`] in the low bits;
    /// sorted by [`SearchIndex::words_added`].
    words: Vec<u32>,
    /// Words were added since they were sorted.
    words_pending: bool,
    /// Term ids.
    terms: Vec<u32>,
}

const IN_TITLE: u32 = 1;
const IN_NOTES: u32 = 2;

/// What a search found: the number of matches, the facets asked for (per field, its values
/// with their counts, most frequent first) and the keys of the page's datasets, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    pub count: i64,
    pub facets: Vec<(String, Vec<(String, i64)>)>,
    pub page: Vec<i64>,
}

#[derive(Default)]
pub struct SearchIndex {
    listings: Vec<Listing>,
    /// Position in `listings` of each key.
    by_key: HashMap<i64, u32>,
    /// Per facet field (in [`TermField::ALL`]'s order): value → term id.
    term_ids: [HashMap<String, u32>; 5],
    /// Field (its position) of each term id.
    term_fields: Vec<u8>,
    /// Every word seen → its id; ordered, for prefixes. Words and terms are never forgotten
    /// (one that no dataset holds any more matches nothing and counts 0).
    word_ids: BTreeMap<String, u32>,
    /// Positions of the listings with words pending.
    unsorted: Vec<u32>,
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

/// A clause with its words and values turned into ids.
enum Test {
    Constant(bool),
    /// One word, with the flags the field asks for (0 for any field).
    Word(u32, u32),
    /// One of several words (a prefix): a mask over word ids.
    Words(Vec<bool>, u32),
    NameContains(String),
    /// One of these term ids.
    Terms(Vec<u32>),
    HasTerm(u8),
    Id(String),
    Private(bool),
}

impl Test {
    /// Rough cost of one evaluation, to order the tests.
    fn cost(&self) -> u8 {
        match self {
            Test::Constant(_) | Test::Private(_) => 0,
            Test::Terms(_) | Test::HasTerm(_) | Test::Id(_) => 1,
            Test::NameContains(_) | Test::Word(..) => 2,
            Test::Words(..) => 3,
        }
    }
}

/// Order of two datasets under `sort`, as the SQL `ORDER BY` of the same keys orders them
/// (strings compare bytewise, as SQLite's BINARY and PostgreSQL's "C" collations do).
fn compare(a: &Entry, b: &Entry, sort: &[(SortKey, bool)]) -> Ordering {
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
    pub fn new() -> SearchIndex {
        SearchIndex::default()
    }

    /// Number of datasets held (deleted ones included).
    pub fn len(&self) -> usize {
        self.listings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// Adds or replaces a dataset, without words or terms until they are added again.
    pub fn put(&mut self, entry: Entry) {
        let listing = Listing {
            entry,
            words: vec![],
            words_pending: false,
            terms: vec![],
        };
        match self.by_key.get(&listing.entry.key) {
            Some(&at) => self.listings[at as usize] = listing,
            None => {
                self.by_key
                    .insert(listing.entry.key, self.listings.len() as u32);
                self.listings.push(listing);
            }
        }
    }

    /// A facet term of the dataset `key` (ignored if the dataset is not held).
    pub fn add_term(&mut self, key: i64, field: TermField, value: &str) {
        let Some(&at) = self.by_key.get(&key) else {
            return;
        };
        let ids = &mut self.term_ids[field_position(field)];
        let term = match ids.get(value) {
            Some(&t) => t,
            None => {
                let t = self.term_fields.len() as u32;
                ids.insert(value.to_string(), t);
                self.term_fields.push(field_position(field) as u8);
                t
            }
        };
        let terms = &mut self.listings[at as usize].terms;
        if !terms.contains(&term) {
            terms.push(term);
        }
    }

    /// The id of `word`, new if it was never seen.
    pub fn word_id(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.word_ids.get(word) {
            return id;
        }
        let id = self.word_ids.len() as u32;
        self.word_ids.insert(word.to_string(), id);
        id
    }

    /// A word of the dataset `key` (ignored if the dataset is not held); `word` from
    /// [`SearchIndex::word_id`]. Call [`SearchIndex::words_added`] once done.
    pub fn add_word(&mut self, key: i64, word: u32, in_title: bool, in_notes: bool) {
        let Some(&at) = self.by_key.get(&key) else {
            return;
        };
        let flags = if in_title { IN_TITLE } else { 0 } | if in_notes { IN_NOTES } else { 0 };
        let listing = &mut self.listings[at as usize];
        if !listing.words_pending {
            listing.words_pending = true;
            self.unsorted.push(at);
        }
        listing.words.push(word << 2 | flags);
    }

    /// Readies the words added for searching.
    pub fn words_added(&mut self) {
        for at in std::mem::take(&mut self.unsorted) {
            let listing = &mut self.listings[at as usize];
            listing.words.sort_unstable();
            listing.words.dedup();
            listing.words_pending = false;
        }
    }

    fn test(&self, condition: &Condition) -> Test {
        let flags = |field: &TextField| match field {
            TextField::Any => 0,
            TextField::Title => IN_TITLE,
            TextField::Notes => IN_NOTES,
        };
        match condition {
            Condition::All => Test::Constant(true),
            Condition::Nothing => Test::Constant(false),
            Condition::Word {
                field,
                word,
                prefix: false,
            } => match self.word_ids.get(word) {
                Some(&id) => Test::Word(id, flags(field)),
                None => Test::Constant(false),
            },
            Condition::Word {
                field,
                word,
                prefix: true,
            } => {
                // The words from `word` up to `word` followed by the last code point: those
                // starting with it.
                let end = format!("{word}\u{10FFFF}");
                let mut mask = vec![false; self.word_ids.len()];
                let mut any = false;
                for (_, &id) in self.word_ids.range::<str, _>((
                    std::ops::Bound::Included(word.as_str()),
                    std::ops::Bound::Excluded(end.as_str()),
                )) {
                    mask[id as usize] = true;
                    any = true;
                }
                if any {
                    Test::Words(mask, flags(field))
                } else {
                    Test::Constant(false)
                }
            }
            Condition::NameContains(text) => Test::NameContains(text.clone()),
            Condition::Term(field, values) => {
                let ids = &self.term_ids[field_position(*field)];
                Test::Terms(values.iter().filter_map(|v| ids.get(v).copied()).collect())
            }
            Condition::HasTerm(field) => Test::HasTerm(field_position(*field) as u8),
            Condition::Id(id) => Test::Id(id.clone()),
            Condition::Private(p) => Test::Private(*p),
        }
    }

    fn holds(&self, listing: &Listing, test: &Test) -> bool {
        match test {
            Test::Constant(b) => *b,
            Test::Word(id, flags) => {
                let from = listing.words.partition_point(|w| *w < id << 2);
                listing.words[from..]
                    .iter()
                    .take_while(|w| *w >> 2 == *id)
                    .any(|w| w & flags == *flags)
            }
            Test::Words(mask, flags) => listing
                .words
                .iter()
                .any(|w| mask[(w >> 2) as usize] && w & flags == *flags),
            Test::NameContains(text) => listing.entry.name.contains(text.as_str()),
            Test::Terms(ids) => listing.terms.iter().any(|t| ids.contains(t)),
            Test::HasTerm(field) => listing
                .terms
                .iter()
                .any(|t| self.term_fields[*t as usize] == *field),
            Test::Id(id) => listing.entry.id == *id,
            Test::Private(p) => listing.entry.private == *p,
        }
    }

    /// Runs `query` over the active datasets `admits` lets the searcher see (given a
    /// dataset's `private` and `owner`).
    pub fn search(&self, query: &SearchQuery, admits: impl Fn(bool, i64) -> bool) -> Found {
        let mut tests: Vec<(bool, Test)> = query
            .clauses
            .iter()
            .map(|Clause { negated, condition }| (*negated, self.test(condition)))
            .collect();
        // All must hold: the cheap tests first, so that fewer datasets reach the word tests.
        tests.sort_by_key(|(_, test)| test.cost());
        let mut found: Vec<u32> = (0..self.listings.len() as u32)
            .filter(|&at| {
                let l = &self.listings[at as usize];
                l.entry.active
                    && admits(l.entry.private, l.entry.owner)
                    && tests
                        .iter()
                        .all(|(negated, test)| self.holds(l, test) != *negated)
            })
            .collect();
        let facets = self.facets(
            &found,
            &query.facet_fields,
            query.facet_mincount,
            query.facet_limit,
        );
        let page = self.page(&mut found, &query.sort, query.start, query.rows);
        Found {
            count: found.len() as i64,
            facets,
            page,
        }
    }

    /// Facet counts over `found`: per field asked (`None`: a field without terms, always
    /// empty), its values held by at least `mincount` (and at least one) of them, most
    /// frequent first, then by value; at most `limit` of them.
    fn facets(
        &self,
        found: &[u32],
        fields: &[(String, Option<TermField>)],
        mincount: i64,
        limit: Option<i64>,
    ) -> Vec<(String, Vec<(String, i64)>)> {
        let mut counts = vec![0u32; self.term_fields.len()];
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
                        .map(|(value, &term)| (value.as_str(), i64::from(counts[term as usize])))
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

    /// The keys of `found`'s datasets `start..start + rows` under `sort` (which ends with a
    /// unique key, so the order is total). Reorders `found`.
    fn page(&self, found: &mut [u32], sort: &[(SortKey, bool)], start: i64, rows: i64) -> Vec<i64> {
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
                &self.listings[*a as usize].entry,
                &self.listings[*b as usize].entry,
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
            .map(|&at| self.listings[at as usize].entry.key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(key: i64, name: &str, private: bool, modified: i64) -> Entry {
        Entry {
            key,
            id: format!("id-{key}"),
            name: name.into(),
            active: true,
            private,
            owner: key % 2,
            title_sort: name.chars().rev().collect(),
            metadata_created: key,
            metadata_modified: modified,
        }
    }

    fn index() -> SearchIndex {
        let mut index = SearchIndex::new();
        for (key, name, private, modified) in [
            (1, "nuoc-sach", false, 30),
            (2, "rac-thai", false, 20),
            (3, "den-duong", true, 20),
            (4, "cu-xoa", false, 50),
        ] {
            index.put(entry(key, name, private, modified));
        }
        let mut deleted = entry(4, "cu-xoa", false, 50);
        deleted.active = false;
        index.put(deleted);
        for (key, words) in [
            (1, vec![("nuoc", true, false), ("sach", true, true)]),
            (2, vec![("rac", true, false), ("nuoc", false, true)]),
            (3, vec![("duong", true, false), ("nuong", false, false)]),
        ] {
            for (w, title, notes) in words {
                let id = index.word_id(w);
                index.add_word(key, id, title, notes);
            }
        }
        index.words_added();
        for (key, field, value) in [
            (1, TermField::Tags, "nước"),
            (1, TermField::Tags, "môi trường"),
            (1, TermField::ResFormat, "CSV"),
            (2, TermField::Tags, "môi trường"),
            (2, TermField::ResFormat, "CSV"),
            (3, TermField::Tags, "chiếu sáng"),
            (3, TermField::ResFormat, "XLSX"),
        ] {
            index.add_term(key, field, value);
        }
        index
    }

    fn run(params: serde_json::Value, admits: impl Fn(bool, i64) -> bool) -> Found {
        let query = crate::search::parse(params.as_object().unwrap()).unwrap();
        index().search(&query, admits)
    }

    fn public(private: bool, _: i64) -> bool {
        !private
    }

    #[test]
    fn words_match_whole_words_of_their_field_and_prefixes() {
        let keys = |q: &str| run(json!({"q": q, "sort": "name asc"}), |_, _| true).page;
        assert_eq!(keys("nuoc"), [1, 2]);
        assert_eq!(keys("title:nuoc"), [1]);
        assert_eq!(keys("notes:nuoc"), [2]);
        assert_eq!(keys("nuo*"), [3, 1, 2]);
        assert_eq!(keys("title:nuo*"), [1]);
        assert_eq!(keys("nu"), Vec::<i64>::new());
        assert_eq!(keys("nuoc -rac"), [1]);
        assert_eq!(
            keys("xoa"),
            Vec::<i64>::new(),
            "deleted datasets are never found"
        );
        assert_eq!(keys("name:duong"), [3]);
        assert_eq!(keys("id:id-2"), [2]);
        assert_eq!(keys("capacity:private"), [3]);
        assert_eq!(keys("tags:* -res_format:CSV"), [3]);
        assert_eq!(keys("tags:(nước OR \"chiếu sáng\")"), [3, 1]);
    }

    #[test]
    fn facets_count_what_the_searcher_finds_most_frequent_first() {
        let found = run(
            json!({"facet.field": ["tags", "res_format", "colour"], "rows": 1}),
            public,
        );
        assert_eq!(
            found,
            Found {
                count: 2,
                facets: vec![
                    (
                        "tags".into(),
                        vec![("môi trường".into(), 2), ("nước".into(), 1)]
                    ),
                    ("res_format".into(), vec![("CSV".into(), 2)]),
                    ("colour".into(), vec![]),
                ],
                // metadata_modified desc
                page: vec![1],
            }
        );
        let found = run(
            json!({"facet.field": ["tags"], "facet.mincount": 2, "rows": 0}),
            |_, _| true,
        );
        assert_eq!(
            found.facets,
            [("tags".into(), vec![("môi trường".into(), 2)])]
        );
        let found = run(
            json!({"facet.field": ["tags"], "facet.limit": 1}),
            |_, _| true,
        );
        assert_eq!(
            found.facets,
            [("tags".into(), vec![("môi trường".into(), 2)])]
        );
    }

    #[test]
    fn pages_follow_the_sort_with_the_name_breaking_ties() {
        let keys = |sort: &str, start: i64, rows: i64| {
            run(
                json!({"sort": sort, "start": start, "rows": rows}),
                |_, _| true,
            )
            .page
        };
        assert_eq!(keys("metadata_modified desc", 0, 10), [1, 3, 2]);
        assert_eq!(keys("metadata_modified asc", 0, 10), [3, 2, 1]);
        assert_eq!(keys("metadata_modified asc", 1, 1), [2]);
        assert_eq!(keys("name desc", 2, 5), [3]);
        assert_eq!(keys("name desc", 3, 5), Vec::<i64>::new());
        // Reversed names: "hcas-couN", "iaht-car", "gnoud-ned".
        assert_eq!(keys("title_string asc", 0, 2), [3, 1]);
    }

    #[test]
    fn a_replaced_dataset_loses_its_old_words_and_terms() {
        let mut index = index();
        index.put(entry(1, "nuoc-sach", false, 40));
        let word = index.word_id("giengkhoan");
        index.add_word(1, word, true, false);
        index.words_added();
        index.add_term(1, TermField::Tags, "giếng");
        let query = crate::search::parse(
            json!({"q": "nuoc", "facet.field": ["tags"]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let found = index.search(&query, |_, _| true);
        assert_eq!(found.page, [2]);
        let all =
            crate::search::parse(json!({"facet.field": ["tags"]}).as_object().unwrap()).unwrap();
        assert_eq!(
            index.search(&all, |_, _| true).facets,
            [(
                "tags".into(),
                vec![
                    ("chiếu sáng".into(), 1),
                    ("giếng".into(), 1),
                    ("môi trường".into(), 1)
                ]
            )]
        );
    }
}
