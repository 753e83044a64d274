//! Persistence of the NGSI-LD context broker: entities with a query index, attribute history
//! (the temporal API), a change log for durable subscriptions, and the delivery outbox of
//! subscriptions (stored themselves in [`crate::ngsild_subscriptions`]). SQL only: the broker
//! computes every body (opaque JSON text here), the index entries and the history instances;
//! this module stores them and answers the prefilters over them.
//!
//! # Entities
//!
//! Each entity is a narrow row of `ngsild_entities` (id, types, times, bounding box) and its
//! body in `ngsild_entity_bodies`: filters, counts and paging read narrow rows, and bodies are
//! read for the page returned only. `ngsild_entity_types` and `ngsild_attr_index` exist for the
//! queries. An attribute index row carries the entity's type, so that a prefilter under a type
//! selection reads the matches of those types only (not of every entity having the
//! attribute); a type-only query counts and pages on the type index alone. Entities are
//! returned in creation order (`pk`), so that paging is stable.
//!
//! Index rows name the attribute and the type by their numbers in `ngsild_terms` (numbered on
//! first write, never renumbered nor deleted): a row takes ~25 bytes instead of ~120 with the
//! IRIs, which matters because an update moves its values' entries to random places of the
//! value indexes, a page each. For the same reason a write leaves the rows whose value did
//! not change untouched (an upsert whose `DO UPDATE` only applies to a different row).
//!
//! An entity with an expiry ([`EntityRecord::expires_at`], the NGSI-LD `expiresAt`) has one
//! more index row, under the name [`EXPIRY_ROW`] that no attribute can have (attribute names
//! are IRIs), holding the instant as its number. Queries and discovery leave out the entities
//! whose expiry has passed with one uncorrelated subquery over that index range, so the cost
//! follows the number of entities that have an expiry (usually none).
//!
//! All writes go through [`Store::ngsild_modify`]: one transaction loads the current rows, lets
//! the broker decide what each item becomes, and applies the outcome with a handful of
//! multi-row statements whatever the batch size (the ingestion path: batch upserts of
//! thousands of attributes). On SQLite those statements use anonymous `?` placeholders: SQLite
//! looks each `$n` up among the names seen before, which is quadratic (seconds for a batch).
//!
//! Concurrency: SQLite writers are serialised by [`crate::Db::begin_write`]. On PostgreSQL a
//! transaction first takes advisory locks on the entities it touches (hashed into
//! [`ENTITY_LOCK_BUCKETS`] buckets, taken in ascending order, so lock counts stay bounded and
//! writers cannot deadlock), which also covers ids that do not exist yet: two creations of the
//! same id are serialised instead of one of them failing on the unique constraint.
//!
//! # History
//!
//! An attribute instance (entity, attribute, datasetId) is a *series* with a number; history
//! rows carry that number, and the index `(sid, observed_at, num)` covers every read. On
//! SQLite an aggregation walks the bucket numbers of `ngsild_numbers` and aggregates each
//! bucket's index range as it reads it, packing all buckets into one result row (a `GROUP BY`
//! on the computed bucket would sort every instance first, and sqlx costs microseconds per row
//! returned); the series, or the halves of a single series, are shared between two
//! connections. About 0.1 s for a million instances, where a `GROUP BY` took a second.
//!
//! Deletions of attribute instances (the temporal API's `deletedAt` instances) are rare and
//! live in `ngsild_deletions`, apart from the history: reads on `observed_at` and aggregation
//! never meet them, and the history's index stays as narrow as it is.
//!
//! # Change log
//!
//! Every modification appends its notes to `ngsild_changes`; a subscription processor follows
//! the log by sequence number and keeps its position in `ngsild_cursors`. On PostgreSQL,
//! appending takes a transaction-level advisory lock so that sequence numbers become visible
//! in the order they were allocated: a reader can never skip a row committed late.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use dothi_domain::DomainError;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{bind_all, Backend, Val, WriteTx};
use crate::error::{Result, StoreError};
use crate::reports::row_placeholders;
use crate::time::now_ms;
use crate::Store;

/// Bound values per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 30_000;
/// Rows of `ngsild_numbers` (SQLite): the most buckets one ordered aggregation reads.
const NUMBERS: i64 = 65_536;
/// Namespace of this module's PostgreSQL advisory locks ("NGLD").
const LOCK_NAMESPACE: i32 = 0x4E47_4C44;
/// Entities are locked by bucket: a transaction holds at most this many advisory locks, well
/// inside PostgreSQL's shared lock table whatever the batch size.
pub const ENTITY_LOCK_BUCKETS: u32 = 256;
/// The change log's lock key, after every entity bucket (locks are taken in ascending order).
const CHANGE_LOG_LOCK: u32 = ENTITY_LOCK_BUCKETS;
/// The attribute index name of an entity's expiry: a JSON-LD keyword, never an attribute IRI.
pub const EXPIRY_ROW: &str = "@expiresAt";

/// An entity as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntity {
    /// Creation order; `after_pk` in [`EntityFilter`] pages on it. 0 for an entity created
    /// earlier in the same [`Store::ngsild_modify`] call (it has no row yet).
    pub pk: i64,
    pub id: String,
    pub types: Vec<String>,
    /// JSON computed by the broker.
    pub body: String,
    pub created_at: i64,
    pub modified_at: i64,
}

/// What the broker writes for an entity: the body and what the queries need to know of it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityRecord {
    pub id: String,
    /// Type IRIs, in the order given (kept as given; the type index ignores duplicates).
    pub types: Vec<String>,
    pub body: String,
    pub created_at: i64,
    pub modified_at: i64,
    /// At least one entry per top-level attribute: discovery and `attrs_any` read the index.
    pub index: Vec<IndexEntry>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the `location` GeoProperty.
    pub bbox: Option<[f64; 4]>,
    /// When the entity expires (epoch ms): from then on queries and discovery leave it out.
    pub expires_at: Option<i64>,
}

/// One value of an attribute instance, for the prefilters. An attribute whose value is neither
/// a number nor a string (a GeoProperty, an object) has an entry with both `None`: it still
/// exists for [`Prefilter::Exists`], discovery and `attrs_any`.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    pub attr: String,
    pub num: Option<f64>,
    pub text: Option<String>,
}

impl IndexEntry {
    pub fn num(attr: &str, value: f64) -> Self {
        IndexEntry {
            attr: attr.into(),
            num: Some(value),
            text: None,
        }
    }

    pub fn text(attr: &str, value: &str) -> Self {
        IndexEntry {
            attr: attr.into(),
            num: None,
            text: Some(value.into()),
        }
    }

    pub fn exists(attr: &str) -> Self {
        IndexEntry {
            attr: attr.into(),
            num: None,
            text: None,
        }
    }
}

/// One attribute instance at one time, appended to the history. A deletion (see
/// [`Change::Put`]) is one too: `observed_at` is then the time of the deletion, and `num` is
/// not stored.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub entity_id: String,
    pub attr: String,
    /// None: the default instance.
    pub dataset_id: Option<String>,
    pub observed_at: i64,
    /// The numeric value, for aggregation; None when the value is not a number.
    pub num: Option<f64>,
    /// JSON of the instance, returned as stored.
    pub instance: String,
}

/// A history instance as read back; `seq` identifies it (insertion order). Read from
/// [`Store::ngsild_deletions`], `seq` numbers the deletions (a sequence of their own) and
/// `observed_at` is the time of the deletion.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    pub seq: i64,
    pub entity_id: String,
    pub attr: String,
    pub dataset_id: Option<String>,
    pub observed_at: i64,
    pub num: Option<f64>,
    pub instance: String,
}

/// What a subscription processor learns of a change.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeNote {
    pub entity_id: String,
    /// "create", "update" or "delete" (free text to the store).
    pub op: String,
    /// The attributes the change touched.
    pub attrs: Vec<String>,
    /// The body after the change; None for a deletion.
    pub snapshot: Option<String>,
    /// What the change replaced: for an update, the previous instances of the changed
    /// attributes (JSON object, attribute IRI → instances); for a deletion, the entity body.
    pub previous: Option<String>,
}

/// A row of the change log.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub seq: i64,
    pub entity_id: String,
    pub op: String,
    pub attrs: Vec<String>,
    pub snapshot: Option<String>,
    /// See [`ChangeNote::previous`].
    pub previous: Option<String>,
    pub at: i64,
}

/// The broker's decision for one item of [`Store::ngsild_modify`].
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Create or replace the entity; append the history entries, the deletions (see
    /// [`Store::ngsild_deletions`]) and the note.
    Put {
        record: EntityRecord,
        history: Vec<HistoryEntry>,
        deletions: Vec<HistoryEntry>,
        note: ChangeNote,
    },
    /// Delete the entity (its history stays: see [`Store::ngsild_delete_history`]); append
    /// the deletions and the note.
    Delete {
        deletions: Vec<HistoryEntry>,
        note: ChangeNote,
    },
    /// Write nothing.
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A condition on the attribute index. A leaf holds when *some* index entry of the attribute
/// satisfies it; entries without a number never satisfy a `Num*` leaf, entries without a
/// string never a `Text*` leaf (so `Ne` means "has a number other than"). Strings compare
/// byte-wise on both backends.
#[derive(Clone, Debug, PartialEq)]
pub enum Prefilter {
    True,
    And(Vec<Prefilter>),
    /// An empty `Or` holds for no entity.
    Or(Vec<Prefilter>),
    Exists {
        attr: String,
    },
    Num {
        attr: String,
        op: Cmp,
        value: f64,
    },
    Text {
        attr: String,
        op: Cmp,
        value: String,
    },
    NumIn {
        attr: String,
        values: Vec<f64>,
    },
    TextIn {
        attr: String,
        values: Vec<String>,
    },
}

/// Which entities [`Store::ngsild_query`] returns; every field narrows the result.
#[derive(Clone, Debug)]
pub struct EntityFilter {
    /// Empty: any id.
    pub ids: Vec<String>,
    /// An OR of ANDs of type IRIs; empty: any type.
    pub types: Vec<Vec<String>>,
    /// The entity has at least one of these attributes; empty: no constraint.
    pub attrs_any: Vec<String>,
    pub prefilter: Prefilter,
    /// `[min_lon, min_lat, max_lon, max_lat]` that must intersect the entity's bounding box
    /// (entities without one never match).
    pub bbox: Option<[f64; 4]>,
    pub limit: Option<u32>,
    pub offset: u32,
    /// Also count every match, whatever the limit and offset.
    pub count: bool,
    /// Only entities created after this one (keyset paging).
    pub after_pk: Option<i64>,
}

impl Default for EntityFilter {
    fn default() -> Self {
        EntityFilter {
            ids: Vec::new(),
            types: Vec::new(),
            attrs_any: Vec::new(),
            prefilter: Prefilter::True,
            bbox: None,
            limit: None,
            offset: 0,
            count: false,
            after_pk: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryPage {
    /// In creation order.
    pub entities: Vec<StoredEntity>,
    /// Set when the filter asked for a count.
    pub total: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeInfo {
    pub type_iri: String,
    pub entity_count: u64,
    /// Attribute IRIs present on entities of this type, sorted; empty unless asked for.
    pub attrs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttributeInfo {
    pub attr: String,
    pub entity_count: u64,
    /// Type IRIs of the entities having it, sorted; empty unless asked for.
    pub types: Vec<String>,
}

/// Which history [`Store::ngsild_history`] reads.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Empty: every entity.
    pub entity_ids: Vec<String>,
    /// Empty: every attribute.
    pub attrs: Vec<String>,
    /// `[from, to)` on `observed_at`.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only the last N instances of each series (entity, attribute, datasetId) in the range.
    pub last_n: Option<u32>,
    /// Only the first N instances of each series in the range (ignored with `last_n`).
    pub first_n: Option<u32>,
}

/// The optional aggregates of a bucket (the counts are always computed). Asking only for what
/// is needed matters: each aggregate costs about a tenth of the time of a million-row read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub sum: bool,
    pub min: bool,
    pub max: bool,
    /// Sum of squares, for variance and standard deviation.
    pub sumsq: bool,
}

impl Aggregates {
    pub const ALL: Aggregates = Aggregates {
        sum: true,
        min: true,
        max: true,
        sumsq: true,
    };
}

/// An aggregation for [`Store::ngsild_aggregate`]: buckets of `period_ms` from `origin`, per
/// series. Instances observed before `origin` are not aggregated.
#[derive(Clone, Debug)]
pub struct AggregateFilter {
    pub entity_ids: Vec<String>,
    pub attrs: Vec<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub origin: i64,
    pub period_ms: i64,
    pub want: Aggregates,
}

/// One non-empty bucket of one series. `sum`, `min`, `max` and `sumsq` are over the numeric
/// instances, None when not asked for or when the bucket has no number.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateBucket {
    pub entity_id: String,
    pub attr: String,
    pub dataset_id: Option<String>,
    /// `origin + n × period`.
    pub start: i64,
    /// Instances in the bucket.
    pub count: u64,
    /// Of which numeric.
    pub num_count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub sumsq: Option<f64>,
}

impl AggregateBucket {
    pub fn avg(&self) -> Option<f64> {
        let sum = self.sum?;
        (self.num_count > 0).then(|| sum / self.num_count as f64)
    }

    /// Population variance.
    pub fn variance(&self) -> Option<f64> {
        let avg = self.avg()?;
        let sumsq = self.sumsq?;
        Some((sumsq / self.num_count as f64 - avg * avg).max(0.0))
    }
}

/// A notification waiting in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub seq: i64,
    pub subscription_id: String,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// One entity of a modification, from load to write.
struct Slot {
    /// The row, if the entity existed when loaded.
    pk: Option<i64>,
    loaded_types: Option<Vec<String>>,
    current: Option<StoredEntity>,
    pending: Option<Pending>,
}

enum Pending {
    Put {
        index: Vec<IndexEntry>,
        bbox: Option<[f64; 4]>,
    },
    Delete,
}

/// An entity to write, with its row if it has one.
struct Put<'a> {
    pk: Option<i64>,
    entity: &'a StoredEntity,
    index: &'a [IndexEntry],
    bbox: Option<[f64; 4]>,
    types_changed: bool,
}

/// Bind values with their placeholders. Each placeholder must appear in the SQL exactly once,
/// in push order: SQLite gets anonymous `?`, because it looks every `$n` up among the names
/// seen before in the statement (quadratic: seconds for the batch statements of this module).
struct Binds {
    backend: Backend,
    vals: Vec<Val>,
}

impl Binds {
    fn new(backend: Backend) -> Self {
        Binds {
            backend,
            vals: Vec::new(),
        }
    }

    fn push(&mut self, v: Val) -> String {
        self.vals.push(v);
        match self.backend {
            Backend::Sqlite => "?".into(),
            Backend::Postgres => format!("${}", self.vals.len()),
        }
    }

    fn list(&mut self, vals: impl IntoIterator<Item = Val>) -> String {
        let items: Vec<String> = vals.into_iter().map(|v| self.push(v)).collect();
        format!("({})", items.join(", "))
    }
}

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(Box::new(e)))
}

fn to_json(strings: &[String]) -> String {
    // Serialising a list of strings cannot fail.
    serde_json::to_string(strings).expect("a list of strings serialises")
}

fn from_json(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(decode_err)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// FNV-1a: a stable hash, so that every instance maps an id to the same lock bucket.
fn lock_bucket(id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % ENTITY_LOCK_BUCKETS
}

/// Take PostgreSQL advisory locks on `keys` (ascending) for the rest of the transaction.
async fn advisory_locks(conn: &mut AnyConnection, keys: &[u32]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    // Literals, not binds: the keys are numbers computed here. A VALUES list is scanned in
    // order, so the locks are taken in the order given.
    let values: Vec<String> = keys.iter().map(|k| format!("({k})")).collect();
    let sql = format!(
        "SELECT COUNT(pg_advisory_xact_lock({LOCK_NAMESPACE}, b)) FROM (VALUES {}) AS t(b)",
        values.join(", ")
    );
    sqlx::query(&sql).persistent(false).execute(conn).await?;
    Ok(())
}

/// Run `INSERT … VALUES` for `vals` (rows of `width` values) in as few statements as the bind
/// limits allow.
async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    width: usize,
    vals: &[Val],
) -> Result<()> {
    for chunk in vals.chunks(MAX_BINDS / width * width) {
        let sql = format!(
            "{head} VALUES {}",
            row_placeholders(backend, chunk.len() / width, width)
        );
        // Not cached: sizes vary, and a NULL float would fix its type as float4 on PostgreSQL.
        bind_all(sqlx::query(&sql).persistent(false), chunk)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `DELETE FROM table WHERE column IN (keys)`, chunked; returns the rows deleted.
async fn delete_in(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    column: &str,
    keys: &[i64],
) -> Result<u64> {
    let mut deleted = 0;
    for chunk in keys.chunks(MAX_BINDS) {
        let mut b = Binds::new(backend);
        let list = b.list(chunk.iter().map(|k| Val::I(*k)));
        let sql = format!("DELETE FROM {table} WHERE {column} IN {list}");
        deleted += bind_all(sqlx::query(&sql).persistent(false), &b.vals)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

/// Entities with their bodies; append a WHERE on `e`.
const SELECT_ENTITIES: &str = "SELECT e.pk, e.id, e.types, b.body, e.created_at, e.modified_at \
    FROM ngsild_entities e JOIN ngsild_entity_bodies b ON b.pk = e.pk";

fn entity_from_row(r: &AnyRow) -> Result<StoredEntity> {
    Ok(StoredEntity {
        pk: r.get(0),
        id: r.get(1),
        types: from_json(&r.get::<String, _>(2))?,
        body: r.get(3),
        created_at: r.get(4),
        modified_at: r.get(5),
    })
}

/// A series: one attribute instance of one entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    entity_id: String,
    attr: String,
    /// '' for the default instance.
    dataset_id: String,
    sid: i64,
}

impl Series {
    fn dataset(&self) -> Option<String> {
        (!self.dataset_id.is_empty()).then(|| self.dataset_id.clone())
    }
}

type SeriesKey = (String, String, String);

fn series_from_row(r: &AnyRow) -> Series {
    Series {
        sid: r.get(0),
        entity_id: r.get(1),
        attr: r.get(2),
        dataset_id: r.get(3),
    }
}

/// The series of `entity_ids` (empty: all) with one of `attrs` (empty: any), sorted by entity,
/// attribute and dataset.
async fn find_series(
    conn: &mut AnyConnection,
    backend: Backend,
    entity_ids: &[String],
    attrs: &[String],
) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    let all = [None];
    let id_chunks: Vec<Option<&[String]>> = if entity_ids.is_empty() {
        all.to_vec()
    } else {
        entity_ids
            .chunks(MAX_BINDS.saturating_sub(attrs.len()).max(1))
            .map(Some)
            .collect()
    };
    for ids in id_chunks {
        let mut b = Binds::new(backend);
        let mut sql =
            String::from("SELECT sid, entity_id, attr, dataset_id FROM ngsild_series WHERE 1 = 1");
        if let Some(ids) = ids {
            let list = b.list(ids.iter().map(|s| Val::S(s.clone())));
            sql.push_str(&format!(" AND entity_id IN {list}"));
        }
        if !attrs.is_empty() {
            let list = b.list(attrs.iter().map(|s| Val::S(s.clone())));
            sql.push_str(&format!(" AND attr IN {list}"));
        }
        let rows = bind_all(sqlx::query(&sql).persistent(false), &b.vals)
            .fetch_all(&mut *conn)
            .await?;
        out.extend(rows.iter().map(series_from_row));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// First and last `observed_at` of series `sid` in `[lower, upper)`.
async fn series_span(
    conn: &mut AnyConnection,
    sid: i64,
    lower: i64,
    upper: i64,
) -> Result<Option<(i64, i64)>> {
    // Literals: integers computed here. Two subqueries, so that each is one index probe. Open
    // ends are left out: PostgreSQL reads -9223372036854775808 as a numeric, and comparing
    // the column as numeric cannot use the index.
    let mut range = format!("sid = {sid}");
    if lower > i64::MIN {
        range.push_str(&format!(" AND observed_at >= {lower}"));
    }
    if upper < i64::MAX {
        range.push_str(&format!(" AND observed_at < {upper}"));
    }
    let bounds = sqlx::query(&format!(
        "SELECT (SELECT MIN(observed_at) FROM ngsild_history WHERE {range}), \
         (SELECT MAX(observed_at) FROM ngsild_history WHERE {range})"
    ))
    .persistent(false)
    .fetch_one(conn)
    .await?;
    let (first, last): (Option<i64>, Option<i64>) = (bounds.get(0), bounds.get(1));
    Ok(first.zip(last))
}

/// Connections one aggregation reads on at once (the target host has two cores).
const AGGREGATE_WORKERS: usize = 2;

/// The buckets `buckets` (numbers from the origin) of one series, over `[first, end)`.
#[derive(Clone, Debug)]
struct AggregateJob {
    /// Position of the series in the sorted list.
    index: usize,
    sid: i64,
    buckets: std::ops::Range<i64>,
    first: i64,
    end: i64,
    /// Through `ngsild_numbers` (SQLite, few enough buckets), else GROUP BY.
    ordered: bool,
}

/// A bucket as SQL computed it.
#[derive(Clone, Debug)]
struct RawBucket {
    n: i64,
    count: i64,
    num_count: i64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    sumsq: Option<f64>,
}

impl RawBucket {
    /// One packed bucket, `n,count,num_count,sum,min,max,sumsq`; None for an empty bucket.
    fn parse(item: &str) -> Result<Option<RawBucket>> {
        let bad = || decode_err(std::io::Error::other(format!("bad aggregate {item:?}")));
        let fields: Vec<&str> = item.split(',').collect();
        let [n, c, nc, sum, min, max, sumsq] = fields.as_slice() else {
            return if item.is_empty() {
                Ok(None)
            } else {
                Err(bad())
            };
        };
        let int = |s: &str| s.parse::<i64>().map_err(|_| bad());
        let float = |s: &str| s.parse::<f64>().map(Some).map_err(|_| bad());
        let count = int(c)?;
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(RawBucket {
            n: int(n)?,
            count,
            num_count: int(nc)?,
            sum: float(sum)?,
            min: float(min)?,
            max: float(max)?,
            sumsq: float(sumsq)?,
        }))
    }
}

/// Numbers of the series of `entries`, created as needed.
async fn series_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    entries: &[HistoryEntry],
) -> Result<HashMap<SeriesKey, i64>> {
    let wanted: BTreeSet<SeriesKey> = entries
        .iter()
        .map(|e| {
            let dataset = e.dataset_id.clone().unwrap_or_default();
            (e.entity_id.clone(), e.attr.clone(), dataset)
        })
        .collect();
    let entity_ids: Vec<String> = wanted
        .iter()
        .map(|k| k.0.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found = HashMap::with_capacity(wanted.len());
    let collect = |series: Vec<Series>, found: &mut HashMap<SeriesKey, i64>| {
        for s in series {
            let key = (s.entity_id, s.attr, s.dataset_id);
            if wanted.contains(&key) {
                found.insert(key, s.sid);
            }
        }
    };
    collect(
        find_series(conn, backend, &entity_ids, &[]).await?,
        &mut found,
    );
    let missing: Vec<&SeriesKey> = wanted.iter().filter(|k| !found.contains_key(*k)).collect();
    if missing.is_empty() {
        return Ok(found);
    }
    for chunk in missing.chunks(MAX_BINDS / 3) {
        let vals: Vec<Val> = chunk
            .iter()
            .flat_map(|(e, a, d)| [Val::S(e.clone()), Val::S(a.clone()), Val::S(d.clone())])
            .collect();
        // DO NOTHING: a concurrent writer may have created the series since; read it below.
        let sql = format!(
            "INSERT INTO ngsild_series (entity_id, attr, dataset_id) VALUES {} \
             ON CONFLICT (entity_id, attr, dataset_id) DO NOTHING \
             RETURNING sid, entity_id, attr, dataset_id",
            row_placeholders(backend, chunk.len(), 3)
        );
        let rows = bind_all(sqlx::query(&sql).persistent(false), &vals)
            .fetch_all(&mut *conn)
            .await?;
        collect(rows.iter().map(series_from_row).collect(), &mut found);
    }
    if found.len() < wanted.len() {
        collect(
            find_series(conn, backend, &entity_ids, &[]).await?,
            &mut found,
        );
    }
    if found.len() < wanted.len() {
        return Err(StoreError::Database(sqlx::Error::RowNotFound));
    }
    Ok(found)
}

async fn append_history(
    conn: &mut AnyConnection,
    backend: Backend,
    entries: &[HistoryEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let sids = series_ids(conn, backend, entries).await?;
    let mut vals = Vec::with_capacity(entries.len() * 4);
    for e in entries {
        let key = (
            e.entity_id.clone(),
            e.attr.clone(),
            e.dataset_id.clone().unwrap_or_default(),
        );
        let sid = *sids
            .get(&key)
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
        vals.extend([
            Val::I(sid),
            Val::I(e.observed_at),
            Val::OptF(e.num),
            Val::S(e.instance.clone()),
        ]);
    }
    insert_rows(
        conn,
        backend,
        "INSERT INTO ngsild_history (sid, observed_at, num, instance)",
        4,
        &vals,
    )
    .await
}

/// Deletions go to their own table (see [`Store::ngsild_deletions`]); most changes have none.
async fn append_deletions(
    conn: &mut AnyConnection,
    backend: Backend,
    entries: &[HistoryEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut vals = Vec::with_capacity(entries.len() * 5);
    for e in entries {
        vals.extend([
            Val::S(e.entity_id.clone()),
            Val::S(e.attr.clone()),
            Val::S(e.dataset_id.clone().unwrap_or_default()),
            Val::I(e.observed_at),
            Val::S(e.instance.clone()),
        ]);
    }
    insert_rows(
        conn,
        backend,
        "INSERT INTO ngsild_deletions (entity_id, attr, dataset_id, deleted_at, instance)",
        5,
        &vals,
    )
    .await
}

async fn append_changes(
    conn: &mut AnyConnection,
    backend: Backend,
    notes: &[ChangeNote],
) -> Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    if backend == Backend::Postgres {
        advisory_locks(conn, &[CHANGE_LOG_LOCK]).await?;
    }
    let at = now_ms();
    let mut vals = Vec::with_capacity(notes.len() * 6);
    for n in notes {
        vals.extend([
            Val::S(n.entity_id.clone()),
            Val::S(n.op.clone()),
            Val::S(to_json(&n.attrs)),
            Val::OptS(n.snapshot.clone()),
            Val::OptS(n.previous.clone()),
            Val::I(at),
        ]);
    }
    insert_rows(
        conn,
        backend,
        "INSERT INTO ngsild_changes (entity_id, op, attrs, snapshot, previous, at)",
        6,
        &vals,
    )
    .await
}

/// Load the rows of `ids` into slots (absent ids get an empty slot).
async fn load_slots<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[&'a str],
) -> Result<HashMap<&'a str, Slot>> {
    let mut slots: HashMap<&str, Slot> = ids
        .iter()
        .map(|id| {
            let slot = Slot {
                pk: None,
                loaded_types: None,
                current: None,
                pending: None,
            };
            (*id, slot)
        })
        .collect();
    for chunk in ids.chunks(MAX_BINDS) {
        let mut b = Binds::new(backend);
        let list = b.list(chunk.iter().map(|s| Val::S(s.to_string())));
        let sql = format!("{SELECT_ENTITIES} WHERE e.id IN {list}");
        let rows = bind_all(sqlx::query(&sql).persistent(chunk.len() == 1), &b.vals)
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            let entity = entity_from_row(r)?;
            if let Some(slot) = slots.get_mut(entity.id.as_str()) {
                slot.pk = Some(entity.pk);
                slot.loaded_types = Some(entity.types.clone());
                slot.current = Some(entity);
            }
        }
    }
    Ok(slots)
}

/// Apply the final state of each touched entity.
async fn write_entities(
    tx: &mut WriteTx,
    backend: Backend,
    deletes: &[i64],
    puts: &[Put<'_>],
) -> Result<()> {
    let conn = tx.conn();
    if !deletes.is_empty() {
        delete_in(conn, backend, "ngsild_attr_index", "entity_pk", deletes).await?;
        delete_in(conn, backend, "ngsild_entity_types", "entity_pk", deletes).await?;
        delete_in(conn, backend, "ngsild_entity_bodies", "pk", deletes).await?;
        delete_in(conn, backend, "ngsild_entities", "pk", deletes).await?;
    }
    if puts.is_empty() {
        return Ok(());
    }
    let mut pks: HashMap<String, i64> = HashMap::with_capacity(puts.len());
    let width = 8;
    for chunk in puts.chunks(MAX_BINDS / width) {
        let mut vals = Vec::with_capacity(chunk.len() * width);
        for p in chunk {
            let e = p.entity;
            let [a, b, c, d] = match p.bbox {
                Some(bb) => bb.map(Some),
                None => [None; 4],
            };
            vals.extend([
                Val::S(e.id.clone()),
                Val::S(to_json(&e.types)),
                Val::I(e.created_at),
                Val::I(e.modified_at),
                Val::OptF(a),
                Val::OptF(b),
                Val::OptF(c),
                Val::OptF(d),
            ]);
        }
        let sql = format!(
            "INSERT INTO ngsild_entities (id, types, created_at, modified_at, \
             min_lon, min_lat, max_lon, max_lat) VALUES {} \
             ON CONFLICT (id) DO UPDATE SET types = excluded.types, \
             created_at = excluded.created_at, modified_at = excluded.modified_at, \
             min_lon = excluded.min_lon, min_lat = excluded.min_lat, \
             max_lon = excluded.max_lon, max_lat = excluded.max_lat \
             RETURNING pk, id",
            row_placeholders(backend, chunk.len(), width)
        );
        let rows = bind_all(sqlx::query(&sql).persistent(false), &vals)
            .fetch_all(&mut *conn)
            .await?;
        pks.extend(
            rows.iter()
                .map(|r| (r.get::<String, _>(1), r.get::<i64, _>(0))),
        );
    }
    let pk_of = |p: &Put| -> Result<i64> {
        pks.get(&p.entity.id)
            .copied()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    };
    let mut body_vals = Vec::with_capacity(puts.len() * 2);
    for p in puts {
        body_vals.extend([Val::I(pk_of(p)?), Val::S(p.entity.body.clone())]);
    }
    for chunk in body_vals.chunks(MAX_BINDS / 2 * 2) {
        let sql = format!(
            "INSERT INTO ngsild_entity_bodies (pk, body) VALUES {} \
             ON CONFLICT (pk) DO UPDATE SET body = excluded.body",
            row_placeholders(backend, chunk.len() / 2, 2)
        );
        bind_all(sqlx::query(&sql).persistent(false), chunk)
            .execute(&mut *conn)
            .await?;
    }

    let stale_types: Vec<i64> = puts
        .iter()
        .filter(|p| p.types_changed)
        .filter_map(|p| p.pk)
        .collect();
    delete_in(
        conn,
        backend,
        "ngsild_entity_types",
        "entity_pk",
        &stale_types,
    )
    .await?;
    let mut type_vals = Vec::new();
    for p in puts.iter().filter(|p| p.types_changed) {
        let pk = pk_of(p)?;
        let distinct: BTreeSet<&String> = p.entity.types.iter().collect();
        for t in distinct {
            type_vals.extend([Val::I(pk), Val::S(t.clone())]);
        }
    }
    insert_rows(
        conn,
        backend,
        "INSERT INTO ngsild_entity_types (entity_pk, type)",
        2,
        &type_vals,
    )
    .await?;

    // One row per value and type of the entity (see the migrations), at ords 0..n, naming
    // attribute and type by their numbers in ngsild_terms. Only the rows that changed are
    // written: each row rewritten moves entries of the value indexes, a page each.
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for p in puts {
        names.extend(p.index.iter().map(|e| e.attr.as_str()));
        names.extend(p.entity.types.iter().map(String::as_str));
    }
    let terms = term_ids(conn, backend, &names).await?;
    let term = |name: &str| {
        terms
            .get(name)
            .copied()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    };
    let mut rows = Vec::new();
    // Entities that had rows, by their number of rows now: rows from there on go.
    let mut shrunk: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for p in puts {
        let pk = pk_of(p)?;
        let types: BTreeSet<&String> = p.entity.types.iter().collect();
        let mut ord = 0;
        for entry in p.index {
            for t in &types {
                rows.extend([
                    Val::I(pk),
                    Val::I(ord),
                    Val::I(term(&entry.attr)?),
                    Val::I(term(t)?),
                    Val::OptF(entry.num),
                    Val::OptS(entry.text.clone()),
                ]);
                ord += 1;
            }
        }
        if p.pk.is_some() {
            shrunk.entry(ord).or_default().push(pk);
        }
    }
    for (n, pks) in shrunk {
        for chunk in pks.chunks(MAX_BINDS - 1) {
            let mut b = Binds::new(backend);
            let from = b.push(Val::I(n));
            let list = b.list(chunk.iter().map(|k| Val::I(*k)));
            let sql = format!(
                "DELETE FROM ngsild_attr_index WHERE ord >= {from} AND entity_pk IN {list}"
            );
            bind_all(sqlx::query(&sql).persistent(false), &b.vals)
                .execute(&mut *conn)
                .await?;
        }
    }
    // A row as it was is not written at all (the WHERE of DO UPDATE).
    let differs = match backend {
        Backend::Sqlite => "IS NOT",
        Backend::Postgres => "IS DISTINCT FROM",
    };
    for chunk in rows.chunks(MAX_BINDS / 6 * 6) {
        let sql = format!(
            "INSERT INTO ngsild_attr_index AS i (entity_pk, ord, attr_id, type_id, num, text) \
             VALUES {} ON CONFLICT (entity_pk, ord) DO UPDATE SET attr_id = excluded.attr_id, \
             type_id = excluded.type_id, num = excluded.num, text = excluded.text \
             WHERE i.attr_id <> excluded.attr_id OR i.type_id <> excluded.type_id \
             OR i.num {differs} excluded.num OR i.text {differs} excluded.text",
            row_placeholders(backend, chunk.len() / 6, 6)
        );
        bind_all(sqlx::query(&sql).persistent(false), chunk)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The numbers of `names` in `ngsild_terms`, numbering the names it lacks.
async fn term_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    names: &BTreeSet<&str>,
) -> Result<HashMap<String, i64>> {
    let mut found = HashMap::with_capacity(names.len());
    let names: Vec<&str> = names.iter().copied().collect();
    async fn select(
        conn: &mut AnyConnection,
        backend: Backend,
        names: &[&str],
        found: &mut HashMap<String, i64>,
    ) -> Result<()> {
        for chunk in names.chunks(MAX_BINDS) {
            let mut b = Binds::new(backend);
            let list = b.list(chunk.iter().map(|n| Val::S(n.to_string())));
            let sql = format!("SELECT id, iri FROM ngsild_terms WHERE iri IN {list}");
            let rows = bind_all(sqlx::query(&sql).persistent(false), &b.vals)
                .fetch_all(&mut *conn)
                .await?;
            found.extend(
                rows.iter()
                    .map(|r| (r.get::<String, _>(1), r.get::<i64, _>(0))),
            );
        }
        Ok(())
    }
    select(conn, backend, &names, &mut found).await?;
    let missing: Vec<&str> = names
        .into_iter()
        .filter(|n| !found.contains_key(*n))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    // In name order, so that concurrent writers (PostgreSQL) wait on each other in one order.
    // DO NOTHING: another writer may have numbered a name since; it is read below.
    for chunk in missing.chunks(MAX_BINDS) {
        let vals: Vec<Val> = chunk.iter().map(|n| Val::S(n.to_string())).collect();
        let sql = format!(
            "INSERT INTO ngsild_terms (iri) VALUES {} ON CONFLICT (iri) DO NOTHING",
            row_placeholders(backend, chunk.len(), 1)
        );
        bind_all(sqlx::query(&sql).persistent(false), &vals)
            .execute(&mut *conn)
            .await?;
    }
    select(conn, backend, &missing, &mut found).await?;
    if missing.iter().any(|n| !found.contains_key(*n)) {
        return Err(StoreError::Database(sqlx::Error::RowNotFound));
    }
    Ok(found)
}

/// `e.pk IN (entities with an index row of attr, of one of the types of scope (empty: any),
/// satisfying tail)`; `tail` pushes its values after those of attr and scope.
fn attr_leaf(
    b: &mut Binds,
    attrs: &[String],
    scope: &[String],
    tail: impl FnOnce(&mut Binds) -> String,
) -> String {
    let mut sql = format!(
        "e.pk IN (SELECT entity_pk FROM ngsild_attr_index WHERE attr_id {}",
        terms_sql(b, attrs)
    );
    if !scope.is_empty() {
        sql.push_str(&format!(" AND type_id {}", terms_sql(b, scope)));
    }
    sql.push_str(&tail(b));
    sql.push(')');
    sql
}

/// `= (the number of the term)`, or `IN (the numbers of the terms)`, for a column of
/// `ngsild_attr_index`: a name never written has no number, and matches nothing.
fn terms_sql(b: &mut Binds, names: &[String]) -> String {
    match names {
        [one] => format!(
            "= (SELECT id FROM ngsild_terms WHERE iri = {})",
            b.push(Val::S(one.clone()))
        ),
        many => format!(
            "IN (SELECT id FROM ngsild_terms WHERE iri IN {})",
            b.list(many.iter().map(|n| Val::S(n.clone())))
        ),
    }
}

/// SQL condition for a prefilter over `e.pk`, None when it always holds. Leaves only look at
/// index rows of the types in `scope` (empty: any).
fn prefilter_sql(p: &Prefilter, scope: &[String], b: &mut Binds) -> Option<String> {
    use std::slice::from_ref as one;
    match p {
        Prefilter::True => None,
        Prefilter::And(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| prefilter_sql(i, scope, b))
                .collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Prefilter::Or(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for i in items {
                parts.push(prefilter_sql(i, scope, b)?);
            }
            if parts.is_empty() {
                Some("1 = 0".into())
            } else {
                Some(format!("({})", parts.join(" OR ")))
            }
        }
        Prefilter::Exists { attr } => Some(attr_leaf(b, one(attr), scope, |_| String::new())),
        Prefilter::Num { attr, op, value } => Some(attr_leaf(b, one(attr), scope, |b| {
            format!(" AND num {} {}", op.sql(), b.push(Val::F(*value)))
        })),
        Prefilter::Text { attr, op, value } => Some(attr_leaf(b, one(attr), scope, |b| {
            format!(" AND text {} {}", op.sql(), b.push(Val::S(value.clone())))
        })),
        Prefilter::NumIn { values, .. } if values.is_empty() => Some("1 = 0".into()),
        Prefilter::NumIn { attr, values } => Some(attr_leaf(b, one(attr), scope, |b| {
            format!(" AND num IN {}", b.list(values.iter().map(|v| Val::F(*v))))
        })),
        Prefilter::TextIn { values, .. } if values.is_empty() => Some("1 = 0".into()),
        Prefilter::TextIn { attr, values } => Some(attr_leaf(b, one(attr), scope, |b| {
            format!(
                " AND text IN {}",
                b.list(values.iter().map(|v| Val::S(v.clone())))
            )
        })),
    }
}

/// Whether every entity the prefilter admits has an index row of one of the scope types (its
/// leaves being confined to them): then the type condition is implied.
fn implies_scope(p: &Prefilter) -> bool {
    match p {
        Prefilter::True => false,
        Prefilter::And(items) => items.iter().any(implies_scope),
        Prefilter::Or(items) => !items.is_empty() && items.iter().all(implies_scope),
        _ => true,
    }
}

/// The FROM and WHERE clauses of an entity query, over rows `e` that have at least `e.pk`.
fn entity_conditions(f: &EntityFilter, b: &mut Binds) -> (String, String) {
    let mut conds: Vec<String> = Vec::new();
    // The types any match must have one of: index rows outside them are not looked at.
    let any_type = f.types.is_empty() || f.types.iter().any(Vec::is_empty);
    let scope: Vec<String> = if any_type {
        Vec::new()
    } else {
        let all: BTreeSet<&String> = f.types.iter().flatten().collect();
        all.into_iter().cloned().collect()
    };
    let singles = f.types.iter().all(|and| and.len() == 1);
    let implied = implies_scope(&f.prefilter) || !f.attrs_any.is_empty();
    let mut source = String::from("ngsild_entities e");
    if !any_type && singles && !implied && f.ids.is_empty() && f.bbox.is_none() {
        // No condition reads an entity column: the candidates come from the type index alone,
        // in pk order for one type, so counting and skipping never touch the entity rows.
        let list = b.list(scope.iter().map(|t| Val::S(t.clone())));
        source = format!(
            "(SELECT DISTINCT entity_pk AS pk FROM ngsild_entity_types WHERE type IN {list}) e"
        );
    }
    if !f.ids.is_empty() {
        let list = b.list(f.ids.iter().map(|s| Val::S(s.clone())));
        conds.push(format!("e.id IN {list}"));
    }
    if !any_type && !source.starts_with('(') {
        let in_type = |b: &mut Binds, types: &[String]| {
            let list = b.list(types.iter().map(|s| Val::S(s.clone())));
            format!("e.pk IN (SELECT entity_pk FROM ngsild_entity_types WHERE type IN {list})")
        };
        if singles {
            // `type=A,B`: a match of an attribute condition confined to A and B has one of
            // them already; otherwise one index range per type, one subquery.
            if !implied {
                conds.push(in_type(b, &scope));
            }
        } else {
            let ors: Vec<String> = f
                .types
                .iter()
                .map(|and| {
                    let parts: Vec<String> = and
                        .iter()
                        .map(|t| in_type(b, std::slice::from_ref(t)))
                        .collect();
                    format!("({})", parts.join(" AND "))
                })
                .collect();
            conds.push(format!("({})", ors.join(" OR ")));
        }
    }
    if !f.attrs_any.is_empty() {
        conds.push(attr_leaf(b, &f.attrs_any, &scope, |_| String::new()));
    }
    if let Some(c) = prefilter_sql(&f.prefilter, &scope, b) {
        conds.push(c);
    }
    if let Some([min_lon, min_lat, max_lon, max_lat]) = f.bbox {
        let (a, c) = (b.push(Val::F(min_lon)), b.push(Val::F(max_lon)));
        let (d, e) = (b.push(Val::F(min_lat)), b.push(Val::F(max_lat)));
        conds.push(format!(
            "e.max_lon >= {a} AND e.min_lon <= {c} AND e.max_lat >= {d} AND e.min_lat <= {e}"
        ));
    }
    if let Some(after) = f.after_pk {
        let p = b.push(Val::I(after));
        conds.push(format!("e.pk > {p}"));
    }
    conds.push(format!(
        "e.pk NOT IN {}",
        expired(b.push(Val::F(now_ms() as f64)))
    ));
    (source, conds.join(" AND "))
}

/// What [`Store::ngsild_discover`] lists.
#[derive(Clone, Copy)]
enum Discover {
    Types,
    Attributes,
}

/// The subquery of the entities expired at the bound instant `now` (a placeholder).
fn expired(now: String) -> String {
    format!(
        "(SELECT entity_pk FROM ngsild_attr_index WHERE attr_id = \
         (SELECT id FROM ngsild_terms WHERE iri = '{EXPIRY_ROW}') AND num <= {now})"
    )
}

const DELIVERY_COLUMNS: &str =
    "seq, subscription_id, payload, attempts, next_attempt_at, created_at";

fn delivery_from_row(r: &AnyRow) -> Delivery {
    Delivery {
        seq: r.get(0),
        subscription_id: r.get(1),
        payload: r.get(2),
        attempts: r.get(3),
        next_attempt_at: r.get(4),
        created_at: r.get(5),
    }
}

impl Store {
    /// Modify entities in ONE write transaction: load the current rows of `ids`, call
    /// `decide(id, current)` for each id in order and apply the changes it returns, then
    /// commit. An id given twice is decided twice, the second time on the outcome of the first.
    ///
    /// `decide` returns the change and a value handed back in the result; an error is the
    /// item's own (a batch answers 207) and leaves that entity as it was. A database error
    /// aborts everything.
    pub async fn ngsild_modify<T, E, F>(
        &self,
        ids: &[String],
        mut decide: F,
    ) -> Result<Vec<std::result::Result<T, E>>>
    where
        F: FnMut(&str, Option<&StoredEntity>) -> std::result::Result<(Change, T), E>,
    {
        let mut seen = HashSet::with_capacity(ids.len());
        let unique: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| seen.insert(*id))
            .collect();
        let mut tx = self.db.begin_write().await?;
        if self.db.backend == Backend::Postgres {
            let mut buckets: Vec<u32> = unique.iter().map(|id| lock_bucket(id)).collect();
            buckets.sort_unstable();
            buckets.dedup();
            advisory_locks(tx.conn(), &buckets).await?;
        }
        let mut slots = load_slots(tx.conn(), self.db.backend, &unique).await?;

        let mut results = Vec::with_capacity(ids.len());
        let mut history = Vec::new();
        let mut deleted = Vec::new();
        let mut notes = Vec::new();
        for id in ids {
            let slot = slots.entry(id.as_str()).or_insert_with(|| Slot {
                pk: None,
                loaded_types: None,
                current: None,
                pending: None,
            });
            match decide(id, slot.current.as_ref()) {
                Err(e) => results.push(Err(e)),
                Ok((change, value)) => {
                    match change {
                        Change::Keep => {}
                        Change::Put {
                            record,
                            history: h,
                            deletions,
                            note,
                        } => {
                            debug_assert_eq!(record.id, *id, "a Put keeps the entity id");
                            slot.current = Some(StoredEntity {
                                pk: slot.pk.unwrap_or(0),
                                id: id.clone(),
                                types: record.types,
                                body: record.body,
                                created_at: record.created_at,
                                modified_at: record.modified_at,
                            });
                            let mut index = record.index;
                            if let Some(at) = record.expires_at {
                                index.push(IndexEntry {
                                    attr: EXPIRY_ROW.to_string(),
                                    num: Some(at as f64),
                                    text: None,
                                });
                            }
                            slot.pending = Some(Pending::Put {
                                index,
                                bbox: record.bbox,
                            });
                            history.extend(h);
                            deleted.extend(deletions);
                            notes.push(note);
                        }
                        Change::Delete { deletions, note } => {
                            slot.current = None;
                            slot.pending = Some(Pending::Delete);
                            deleted.extend(deletions);
                            notes.push(note);
                        }
                    }
                    results.push(Ok(value));
                }
            }
        }

        let mut deletes = Vec::new();
        let mut puts = Vec::new();
        for id in &unique {
            let Some(slot) = slots.get(id) else { continue };
            match (&slot.pending, &slot.current) {
                (Some(Pending::Put { index, bbox }), Some(entity)) => puts.push(Put {
                    pk: slot.pk,
                    entity,
                    index,
                    bbox: *bbox,
                    types_changed: slot.loaded_types.as_ref() != Some(&entity.types),
                }),
                (Some(Pending::Delete), _) => deletes.extend(slot.pk),
                _ => {}
            }
        }
        write_entities(&mut tx, self.db.backend, &deletes, &puts).await?;
        append_history(tx.conn(), self.db.backend, &history).await?;
        append_deletions(tx.conn(), self.db.backend, &deleted).await?;
        append_changes(tx.conn(), self.db.backend, &notes).await?;
        tx.commit().await?;
        Ok(results)
    }

    pub async fn ngsild_get(&self, id: &str) -> Result<Option<StoredEntity>> {
        let row = sqlx::query(&format!("{SELECT_ENTITIES} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(entity_from_row).transpose()
    }

    /// Entities matching `filter`, in creation order.
    pub async fn ngsild_query(&self, filter: &EntityFilter) -> Result<QueryPage> {
        let backend = self.db.backend;
        let mut b = Binds::new(backend);
        let (source, cond) = entity_conditions(filter, &mut b);
        // Float binds are never NULL here, so statements can be cached.
        let total = if filter.count {
            let sql = format!("SELECT COUNT(*) FROM {source} WHERE {cond}");
            let n: i64 = bind_all(sqlx::query(&sql), &b.vals)
                .fetch_one(&self.db.pool)
                .await?
                .get(0);
            Some(count(n))
        } else {
            None
        };
        if filter.limit == Some(0) {
            return Ok(QueryPage {
                entities: Vec::new(),
                total,
            });
        }
        let limit = b.push(Val::I(filter.limit.map_or(i64::MAX, i64::from)));
        let offset = b.push(Val::I(i64::from(filter.offset)));
        // The page's pks first, from narrow rows; then the entities of that page only.
        let sql = format!(
            "SELECT e.pk, e.id, e.types, b.body, e.created_at, e.modified_at \
             FROM (SELECT e.pk FROM {source} WHERE {cond} \
             ORDER BY e.pk LIMIT {limit} OFFSET {offset}) p \
             JOIN ngsild_entities e ON e.pk = p.pk JOIN ngsild_entity_bodies b ON b.pk = p.pk \
             ORDER BY p.pk"
        );
        let rows = bind_all(sqlx::query(&sql), &b.vals)
            .fetch_all(&self.db.pool)
            .await?;
        let entities = rows.iter().map(entity_from_row).collect::<Result<_>>()?;
        Ok(QueryPage { entities, total })
    }

    /// Refresh the planner's statistics of the NGSI-LD tables after a bulk load (PostgreSQL;
    /// without them it may probe an index range once per candidate, seconds instead of
    /// milliseconds, until autovacuum gets there). SQLite's plans here are made for no
    /// statistics: nothing to do.
    pub async fn ngsild_analyze(&self) -> Result<()> {
        if self.db.backend == Backend::Postgres {
            sqlx::query(
                "ANALYZE ngsild_entities, ngsild_entity_bodies, ngsild_entity_types, \
                 ngsild_attr_index, ngsild_series, ngsild_history",
            )
            .execute(&self.db.pool)
            .await?;
        }
        Ok(())
    }

    /// Every entity type with its number of entities (and, if asked, the attributes present
    /// on its entities), sorted by type IRI. Expired entities are left out.
    pub async fn ngsild_types(&self, with_attrs: bool) -> Result<Vec<TypeInfo>> {
        let found = self.ngsild_discover(Discover::Types, with_attrs).await?;
        Ok(found
            .into_iter()
            .map(|(type_iri, entity_count, attrs)| TypeInfo {
                type_iri,
                entity_count,
                attrs,
            })
            .collect())
    }

    /// Every attribute with the number of entities having it (and, if asked, their types),
    /// sorted by attribute IRI. Expired entities are left out.
    pub async fn ngsild_attributes(&self, with_types: bool) -> Result<Vec<AttributeInfo>> {
        let found = self
            .ngsild_discover(Discover::Attributes, with_types)
            .await?;
        Ok(found
            .into_iter()
            .map(|(attr, entity_count, types)| AttributeInfo {
                attr,
                entity_count,
                types,
            })
            .collect())
    }

    /// Discovery of the entities not expired: each type (or attribute) with its number of
    /// entities and, if `related`, the attributes (or types) found with it, sorted by name.
    async fn ngsild_discover(
        &self,
        what: Discover,
        related: bool,
    ) -> Result<Vec<(String, u64, Vec<String>)>> {
        let now = now_ms() as f64;
        let live = format!("entity_pk NOT IN {}", expired("$1".into()));
        let attrs = format!(
            "ngsild_attr_index WHERE attr_id NOT IN \
             (SELECT id FROM ngsild_terms WHERE iri = '{EXPIRY_ROW}') AND {live}"
        );
        // Pairs of numbers first, then their names: few rows to join.
        let (first, second) = match what {
            Discover::Types => ("type_id", "attr_id"),
            Discover::Attributes => ("attr_id", "type_id"),
        };
        let pairs = format!(
            "SELECT f.iri, s.iri FROM (SELECT DISTINCT {first}, {second} FROM {attrs}) p \
             JOIN ngsild_terms f ON f.id = p.{first} JOIN ngsild_terms s ON s.id = p.{second}"
        );
        let counts = match what {
            Discover::Types => format!(
                "SELECT type, CAST(COUNT(*) AS BIGINT) FROM ngsild_entity_types \
                 WHERE {live} GROUP BY type"
            ),
            Discover::Attributes => format!(
                "SELECT t.iri, c.n FROM (SELECT attr_id, CAST(COUNT(DISTINCT entity_pk) AS BIGINT) \
                 AS n FROM {attrs} GROUP BY attr_id) c JOIN ngsild_terms t ON t.id = c.attr_id"
            ),
        };
        let rows = sqlx::query(&counts)
            .bind(now)
            .fetch_all(&self.db.pool)
            .await?;
        let mut found: Vec<(String, u64, Vec<String>)> = rows
            .iter()
            .map(|r| (r.get(0), count(r.get(1)), Vec::new()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if related {
            let rows = sqlx::query(&pairs)
                .bind(now)
                .fetch_all(&self.db.pool)
                .await?;
            let mut names: HashMap<String, Vec<String>> = HashMap::new();
            for r in &rows {
                names.entry(r.get(0)).or_default().push(r.get(1));
            }
            for (name, _, list) in &mut found {
                *list = names.remove(name.as_str()).unwrap_or_default();
                list.sort();
            }
        }
        Ok(found)
    }

    /// Append history without touching entities (temporal API writes).
    pub async fn ngsild_append_history(&self, entries: &[HistoryEntry]) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        append_history(tx.conn(), self.db.backend, entries).await?;
        tx.commit().await
    }

    /// History instances, ordered by entity, attribute, datasetId (default first), then
    /// `observed_at` and insertion order.
    pub async fn ngsild_history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryRow>> {
        let backend = self.db.backend;
        let mut conn = self.db.pool.acquire().await?;
        let series = find_series(&mut conn, backend, &filter.entity_ids, &filter.attrs).await?;
        let mut out = Vec::new();
        let row = |s: &Series, r: &AnyRow, first: usize| HistoryRow {
            seq: r.get(first),
            entity_id: s.entity_id.clone(),
            attr: s.attr.clone(),
            dataset_id: s.dataset(),
            observed_at: r.get(first + 1),
            num: r.get(first + 2),
            instance: r.get(first + 3),
        };
        let range = |b: &mut Binds| {
            let mut sql = String::new();
            if let Some(from) = filter.from {
                sql.push_str(&format!(" AND observed_at >= {}", b.push(Val::I(from))));
            }
            if let Some(to) = filter.to {
                sql.push_str(&format!(" AND observed_at < {}", b.push(Val::I(to))));
            }
            sql
        };
        let bounded = match (filter.last_n, filter.first_n) {
            (Some(n), _) => Some((n, "DESC")),
            (None, Some(n)) => Some((n, "ASC")),
            (None, None) => None,
        };
        if let Some((n, order)) = bounded {
            // One index range per series, read from its end (last N) or its start (first N).
            for s in &series {
                let mut b = Binds::new(backend);
                let sid = b.push(Val::I(s.sid));
                let range = range(&mut b);
                let limit = b.push(Val::I(i64::from(n)));
                let sql = format!(
                    "SELECT seq, observed_at, num, instance FROM ngsild_history \
                     WHERE sid = {sid}{range} ORDER BY observed_at {order}, seq {order} \
                     LIMIT {limit}"
                );
                let rows = bind_all(sqlx::query(&sql), &b.vals)
                    .fetch_all(&mut *conn)
                    .await?;
                if order == "DESC" {
                    out.extend(rows.iter().rev().map(|r| row(s, r, 0)));
                } else {
                    out.extend(rows.iter().map(|r| row(s, r, 0)));
                }
            }
            return Ok(out);
        }
        let by_sid: HashMap<i64, &Series> = series.iter().map(|s| (s.sid, s)).collect();
        let mut rows_of: HashMap<i64, Vec<HistoryRow>> = HashMap::new();
        for chunk in series.chunks(MAX_BINDS - 2) {
            let mut b = Binds::new(backend);
            let list = b.list(chunk.iter().map(|s| Val::I(s.sid)));
            let range = range(&mut b);
            let sql = format!(
                "SELECT sid, seq, observed_at, num, instance FROM ngsild_history \
                 WHERE sid IN {list}{range} ORDER BY sid, observed_at, seq"
            );
            let rows = bind_all(sqlx::query(&sql).persistent(false), &b.vals)
                .fetch_all(&mut *conn)
                .await?;
            for r in &rows {
                let sid: i64 = r.get(0);
                if let Some(s) = by_sid.get(&sid) {
                    rows_of.entry(sid).or_default().push(row(s, r, 1));
                }
            }
        }
        for s in &series {
            out.extend(rows_of.remove(&s.sid).unwrap_or_default());
        }
        Ok(out)
    }

    /// The deletions recorded by [`Change::Put`] and [`Change::Delete`] (the temporal API's
    /// `timeproperty=deletedAt`), read like [`Store::ngsild_history`]: `[from, to)` is on the
    /// time of the deletion, and the rows are ordered by entity, attribute, datasetId (default
    /// first), time and sequence. Deletions are few: `last_n`/`first_n` are applied here.
    pub async fn ngsild_deletions(&self, filter: &HistoryFilter) -> Result<Vec<HistoryRow>> {
        let backend = self.db.backend;
        let mut conn = self.db.pool.acquire().await?;
        let all = [None];
        let id_chunks: Vec<Option<&[String]>> = if filter.entity_ids.is_empty() {
            all.to_vec()
        } else {
            filter
                .entity_ids
                .chunks(MAX_BINDS.saturating_sub(filter.attrs.len() + 2).max(1))
                .map(Some)
                .collect()
        };
        let mut rows = Vec::new();
        for ids in id_chunks {
            let mut b = Binds::new(backend);
            let mut sql = String::from(
                "SELECT seq, entity_id, attr, dataset_id, deleted_at, instance \
                 FROM ngsild_deletions WHERE 1 = 1",
            );
            if let Some(ids) = ids {
                let list = b.list(ids.iter().map(|s| Val::S(s.clone())));
                sql.push_str(&format!(" AND entity_id IN {list}"));
            }
            if !filter.attrs.is_empty() {
                let list = b.list(filter.attrs.iter().map(|s| Val::S(s.clone())));
                sql.push_str(&format!(" AND attr IN {list}"));
            }
            if let Some(from) = filter.from {
                sql.push_str(&format!(" AND deleted_at >= {}", b.push(Val::I(from))));
            }
            if let Some(to) = filter.to {
                sql.push_str(&format!(" AND deleted_at < {}", b.push(Val::I(to))));
            }
            let found = bind_all(sqlx::query(&sql).persistent(false), &b.vals)
                .fetch_all(&mut *conn)
                .await?;
            rows.extend(found.iter().map(|r| {
                let dataset: String = r.get(3);
                HistoryRow {
                    seq: r.get(0),
                    entity_id: r.get(1),
                    attr: r.get(2),
                    dataset_id: (!dataset.is_empty()).then_some(dataset),
                    observed_at: r.get(4),
                    num: None,
                    instance: r.get(5),
                }
            }));
        }
        // Sorted here rather than in SQL: the chunks' rows interleave.
        rows.sort_by(|a, b| {
            (&a.entity_id, &a.attr, &a.dataset_id, a.observed_at, a.seq).cmp(&(
                &b.entity_id,
                &b.attr,
                &b.dataset_id,
                b.observed_at,
                b.seq,
            ))
        });
        let bounded = match (filter.last_n, filter.first_n) {
            (Some(n), _) => Some((n, true)),
            (None, Some(n)) => Some((n, false)),
            (None, None) => None,
        };
        let Some((n, last)) = bounded else {
            return Ok(rows);
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut start = 0;
        while start < rows.len() {
            let key = |r: &HistoryRow| (r.entity_id.clone(), r.attr.clone(), r.dataset_id.clone());
            let first = key(&rows[start]);
            let end = start + rows[start..].iter().take_while(|r| key(r) == first).count();
            let series = &rows[start..end];
            let keep = (n as usize).min(series.len());
            if last {
                out.extend_from_slice(&series[series.len() - keep..]);
            } else {
                out.extend_from_slice(&series[..keep]);
            }
            start = end;
        }
        Ok(out)
    }

    /// Aggregates per series and bucket, over the numeric values of the history; empty
    /// buckets are left out. Ordered like [`Store::ngsild_history`], then by bucket.
    pub async fn ngsild_aggregate(&self, filter: &AggregateFilter) -> Result<Vec<AggregateBucket>> {
        if filter.period_ms <= 0 {
            return Err(DomainError::invalid("period", "must be positive").into());
        }
        let backend = self.db.backend;
        let (origin, period) = (filter.origin, filter.period_ms);
        let lower = filter.from.map_or(origin, |f| f.max(origin));
        let upper = filter.to.unwrap_or(i64::MAX);
        let mut jobs = Vec::new();
        let series = {
            let mut conn = self.db.pool.acquire().await?;
            let series = find_series(&mut conn, backend, &filter.entity_ids, &filter.attrs).await?;
            for (index, s) in series.iter().enumerate() {
                // The instances actually there bound the buckets.
                let Some((first, last)) = series_span(&mut conn, s.sid, lower, upper).await? else {
                    continue;
                };
                // first >= origin: integer division floors.
                let (n_first, n_end) = ((first - origin) / period, (last - origin) / period + 1);
                let ordered = backend == Backend::Sqlite && n_end - n_first <= NUMBERS;
                jobs.push(AggregateJob {
                    index,
                    sid: s.sid,
                    buckets: n_first..n_end,
                    first,
                    end: last + 1,
                    ordered,
                });
            }
            series
        };
        // A single series is read in halves, so that both workers have a share.
        if let [job] = jobs.as_slice() {
            if job.ordered && job.buckets.end - job.buckets.start >= 2 {
                let mid = job.buckets.start + (job.buckets.end - job.buckets.start) / 2;
                let mut second = job.clone();
                jobs[0].buckets.end = mid;
                second.buckets.start = mid;
                jobs.push(second);
            }
        }
        let mut shares: [Vec<AggregateJob>; AGGREGATE_WORKERS] = Default::default();
        for (i, job) in jobs.into_iter().enumerate() {
            shares[i % AGGREGATE_WORKERS].push(job);
        }
        let [a, b] = shares;
        let spec = (origin, period, filter.want);
        let (mut raw, more) =
            tokio::try_join!(self.aggregate_share(a, spec), self.aggregate_share(b, spec))?;
        raw.extend(more);
        raw.sort_by_key(|(index, r)| (*index, r.n));
        Ok(raw
            .into_iter()
            .map(|(index, r)| {
                let s = &series[index];
                // Numeric aggregates exist only over numbers (SQLite prints NULL as 0.0).
                let numeric = |asked: bool, v: Option<f64>| v.filter(|_| asked && r.num_count > 0);
                AggregateBucket {
                    entity_id: s.entity_id.clone(),
                    attr: s.attr.clone(),
                    dataset_id: s.dataset(),
                    start: origin + r.n * period,
                    count: count(r.count),
                    num_count: count(r.num_count),
                    sum: numeric(filter.want.sum, r.sum),
                    min: numeric(filter.want.min, r.min),
                    max: numeric(filter.want.max, r.max),
                    sumsq: numeric(filter.want.sumsq, r.sumsq),
                }
            })
            .collect())
    }

    /// One worker's share of an aggregation, on its own connection: (series index, bucket).
    async fn aggregate_share(
        &self,
        jobs: Vec<AggregateJob>,
        (origin, period, want): (i64, i64, Aggregates),
    ) -> Result<Vec<(usize, RawBucket)>> {
        let mut out = Vec::new();
        if jobs.is_empty() {
            return Ok(out);
        }
        let mut conn = self.db.pool.acquire().await?;
        let aggregates = |h: &str| {
            let mut columns = format!("COUNT(*), COUNT({h}num)");
            for (asked, expr) in [
                (want.sum, format!("SUM({h}num)")),
                (want.min, format!("MIN({h}num)")),
                (want.max, format!("MAX({h}num)")),
                (want.sumsq, format!("SUM({h}num * {h}num)")),
            ] {
                columns.push_str(", ");
                columns.push_str(if asked { &expr } else { "NULL" });
            }
            columns
        };
        // Every number in these statements is an integer computed here: written as literals.
        for job in jobs {
            let AggregateJob {
                index,
                sid,
                buckets,
                first,
                end,
                ordered,
            } = job;
            if ordered {
                // Bucket by bucket in order, each a plain aggregate over one index range (no
                // GROUP BY), packed into one row: sqlx costs microseconds per row returned.
                // %!.17g round-trips every double.
                let (base, n) = (buckets.start, buckets.end - buckets.start);
                let sql = format!(
                    "SELECT group_concat(r, ';') FROM (SELECT ({base} + k.n) || ',' || \
                     (SELECT printf('%d,%d,%!.17g,%!.17g,%!.17g,%!.17g', {}) \
                     FROM ngsild_history h WHERE h.sid = {sid} \
                     AND h.observed_at >= max({origin} + ({base} + k.n) * {period}, {first}) \
                     AND h.observed_at < min({origin} + ({base} + k.n + 1) * {period}, {end})) \
                     AS r FROM ngsild_numbers k WHERE k.n < {n})",
                    aggregates("h.")
                );
                let packed: Option<String> = sqlx::query(&sql)
                    .persistent(false)
                    .fetch_one(&mut *conn)
                    .await?
                    .get(0);
                for item in packed.as_deref().unwrap_or("").split(';') {
                    if let Some(r) = RawBucket::parse(item)? {
                        out.push((index, r));
                    }
                }
            } else {
                // PostgreSQL aggregates by hashing; so does SQLite past its bucket numbers.
                let sql = format!(
                    "SELECT (observed_at - {origin}) / {period} AS n, {} FROM ngsild_history \
                     WHERE sid = {sid} AND observed_at >= {first} AND observed_at < {end} \
                     GROUP BY n ORDER BY n",
                    aggregates("")
                );
                let rows = sqlx::query(&sql)
                    .persistent(false)
                    .fetch_all(&mut *conn)
                    .await?;
                out.extend(rows.iter().map(|r| {
                    let raw = RawBucket {
                        n: r.get(0),
                        count: r.get(1),
                        num_count: r.get(2),
                        sum: r.get(3),
                        min: r.get(4),
                        max: r.get(5),
                        sumsq: r.get(6),
                    };
                    (index, raw)
                }));
            }
        }
        Ok(out)
    }

    /// The first and last `observed_at` in `[from, to)` over the series of `entity_ids` (empty:
    /// all) and `attrs` (empty: any); None without instances there. Two index probes per
    /// series (the temporal API's whole-range aggregation period).
    pub async fn ngsild_history_span(
        &self,
        entity_ids: &[String],
        attrs: &[String],
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<(i64, i64)>> {
        let backend = self.db.backend;
        let mut conn = self.db.pool.acquire().await?;
        let series = find_series(&mut conn, backend, entity_ids, attrs).await?;
        let (lower, upper) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
        let mut span: Option<(i64, i64)> = None;
        for s in &series {
            if let Some((first, last)) = series_span(&mut conn, s.sid, lower, upper).await? {
                span = Some(span.map_or((first, last), |(a, z)| (a.min(first), z.max(last))));
            }
        }
        Ok(span)
    }

    /// Retention: delete history observed before `older_than_ms`, and deletions recorded
    /// before it; returns the instances deleted.
    pub async fn ngsild_purge_history(&self, older_than_ms: i64) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        // Through the series, so that each series is one range of the index.
        let n = sqlx::query(
            "DELETE FROM ngsild_history WHERE sid IN (SELECT sid FROM ngsild_series) \
             AND observed_at < $1",
        )
        .bind(older_than_ms)
        .execute(tx.conn())
        .await?
        .rows_affected();
        let d = sqlx::query("DELETE FROM ngsild_deletions WHERE deleted_at < $1")
            .bind(older_than_ms)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n + d)
    }

    /// Delete the history instance `seq` of the attribute `attr` of an entity; false when the
    /// attribute has no such instance.
    pub async fn ngsild_delete_history_instance(
        &self,
        entity_id: &str,
        attr: &str,
        seq: i64,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let backend = self.db.backend;
        let series = find_series(
            tx.conn(),
            backend,
            &[entity_id.to_string()],
            &[attr.to_string()],
        )
        .await?;
        let mut deleted = 0;
        for s in &series {
            deleted += sqlx::query("DELETE FROM ngsild_history WHERE sid = $1 AND seq = $2")
                .bind(s.sid)
                .bind(seq)
                .execute(tx.conn())
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Delete the history of an entity (or of one of its attributes, every datasetId), its
    /// deletions included; returns the instances deleted.
    pub async fn ngsild_delete_history(&self, entity_id: &str, attr: Option<&str>) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let attrs: Vec<String> = attr.map(str::to_string).into_iter().collect();
        let backend = self.db.backend;
        let series = find_series(tx.conn(), backend, &[entity_id.to_string()], &attrs).await?;
        let sids: Vec<i64> = series.iter().map(|s| s.sid).collect();
        let n = delete_in(tx.conn(), backend, "ngsild_history", "sid", &sids).await?;
        delete_in(tx.conn(), backend, "ngsild_series", "sid", &sids).await?;
        let d = match attr {
            Some(attr) => {
                sqlx::query("DELETE FROM ngsild_deletions WHERE entity_id = $1 AND attr = $2")
                    .bind(entity_id)
                    .bind(attr)
                    .execute(tx.conn())
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM ngsild_deletions WHERE entity_id = $1")
                    .bind(entity_id)
                    .execute(tx.conn())
                    .await?
            }
        }
        .rows_affected();
        tx.commit().await?;
        Ok(n + d)
    }

    /// Delete the deletion `seq` (see [`Store::ngsild_deletions`]) of the attribute `attr` of
    /// an entity; false when there is no such deletion.
    pub async fn ngsild_delete_deletion(
        &self,
        entity_id: &str,
        attr: &str,
        seq: i64,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query(
            "DELETE FROM ngsild_deletions WHERE entity_id = $1 AND attr = $2 AND seq = $3",
        )
        .bind(entity_id)
        .bind(attr)
        .bind(seq)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Change log rows after `seq`, in order.
    pub async fn ngsild_changes_after(&self, seq: i64, limit: u32) -> Result<Vec<ChangeRow>> {
        let rows = sqlx::query(
            "SELECT seq, entity_id, op, attrs, snapshot, previous, at FROM ngsild_changes \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChangeRow {
                    seq: r.get(0),
                    entity_id: r.get(1),
                    op: r.get(2),
                    attrs: from_json(&r.get::<String, _>(3))?,
                    snapshot: r.get(4),
                    previous: r.get(5),
                    at: r.get(6),
                })
            })
            .collect()
    }

    /// The last sequence number in the change log, 0 when it is empty.
    pub async fn ngsild_last_change_seq(&self) -> Result<i64> {
        let n: Option<i64> = sqlx::query("SELECT MAX(seq) FROM ngsild_changes")
            .fetch_one(&self.db.pool)
            .await?
            .get(0);
        Ok(n.unwrap_or(0))
    }

    /// Forget the change log up to `seq` included; returns the rows deleted.
    pub async fn ngsild_purge_changes(&self, up_to_seq: i64) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query("DELETE FROM ngsild_changes WHERE seq <= $1")
            .bind(up_to_seq)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    // --- Delivery outbox ---

    /// Queue notifications `(subscription id, payload)`, due at `at`; returns their sequence
    /// numbers in the order given.
    pub async fn ngsild_deliveries_enqueue(
        &self,
        items: &[(String, String)],
        at: i64,
    ) -> Result<Vec<i64>> {
        let mut seqs = Vec::with_capacity(items.len());
        if items.is_empty() {
            return Ok(seqs);
        }
        let mut tx = self.db.begin_write().await?;
        for chunk in items.chunks(MAX_BINDS / 4) {
            let vals: Vec<Val> = chunk
                .iter()
                .flat_map(|(sub, payload)| {
                    [
                        Val::S(sub.clone()),
                        Val::S(payload.clone()),
                        Val::I(at),
                        Val::I(at),
                    ]
                })
                .collect();
            let sql = format!(
                "INSERT INTO ngsild_deliveries (subscription_id, payload, next_attempt_at, \
                 created_at) VALUES {} RETURNING seq",
                row_placeholders(self.db.backend, chunk.len(), 4)
            );
            let rows = bind_all(sqlx::query(&sql).persistent(chunk.len() == 1), &vals)
                .fetch_all(tx.conn())
                .await?;
            // One statement numbers its rows in VALUES order on both backends; RETURNING
            // does not promise that order, sorting restores it.
            let mut chunk_seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            chunk_seqs.sort_unstable();
            seqs.extend(chunk_seqs);
        }
        tx.commit().await?;
        Ok(seqs)
    }

    /// Claim up to `limit` deliveries due at `now` (oldest first): they are pushed back by
    /// `lease_ms`, so that another worker does not take them meanwhile and a crashed worker's
    /// claims come back. Finish each with [`Store::ngsild_delivery_done`] or
    /// [`Store::ngsild_delivery_reschedule`].
    pub async fn ngsild_deliveries_due(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<Delivery>> {
        let backend = self.db.backend;
        let skip_locked = match backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.db.begin_write().await?;
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM ngsild_deliveries WHERE next_attempt_at <= $1 \
             ORDER BY next_attempt_at, seq LIMIT $2{skip_locked}"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
        .await?;
        let due: Vec<Delivery> = rows.iter().map(delivery_from_row).collect();
        let seqs: Vec<i64> = due.iter().map(|d| d.seq).collect();
        for chunk in seqs.chunks(MAX_BINDS - 1) {
            let mut b = Binds::new(backend);
            let until = b.push(Val::I(now.saturating_add(lease_ms)));
            let list = b.list(chunk.iter().map(|s| Val::I(*s)));
            let sql = format!(
                "UPDATE ngsild_deliveries SET next_attempt_at = {until} WHERE seq IN {list}"
            );
            bind_all(sqlx::query(&sql).persistent(false), &b.vals)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        Ok(due)
    }

    /// Try a delivery again at `next_at`, having made `attempts` so far; false when it is gone.
    pub async fn ngsild_delivery_reschedule(
        &self,
        seq: i64,
        next_at: i64,
        attempts: i64,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query(
            "UPDATE ngsild_deliveries SET next_attempt_at = $2, attempts = $3 WHERE seq = $1",
        )
        .bind(seq)
        .bind(next_at)
        .bind(attempts)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// A delivery made (or given up): remove it; false when it was already gone.
    pub async fn ngsild_delivery_done(&self, seq: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = sqlx::query("DELETE FROM ngsild_deliveries WHERE seq = $1")
            .bind(seq)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The oldest delivery still waiting for a subscription (whether due or not): a worker
    /// holds back later ones so that a subscription's notifications arrive in order.
    pub async fn ngsild_delivery_first(&self, subscription_id: &str) -> Result<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM ngsild_deliveries WHERE subscription_id = $1 \
             ORDER BY seq LIMIT 1"
        ))
        .bind(subscription_id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.as_ref().map(delivery_from_row))
    }

    /// Deliveries waiting, for metrics.
    pub async fn ngsild_deliveries_pending(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM ngsild_deliveries")
            .fetch_one(&self.db.pool)
            .await?
            .get(0);
        Ok(count(n))
    }

    // --- Cursors ---

    pub async fn ngsild_cursor_get(&self, name: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT seq FROM ngsild_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn ngsild_cursor_set(&self, name: &str, seq: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO ngsild_cursors (name, seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        )
        .bind(name)
        .bind(seq)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }
}
