//! The NGSI-LD store on both backends: entity writes in one transaction with per-item outcomes,
//! the query prefilters, discovery, attribute history and its aggregation, the change log,
//! subscriptions with their delivery outbox, and cursors.

use std::collections::BTreeMap;

use dothi_store::ngsild::{
    AggregateBucket, AggregateFilter, Aggregates, AttributeInfo, Change, ChangeNote, ChangeRow,
    Cmp, EntityFilter, EntityRecord, HistoryEntry, HistoryFilter, HistoryRow, IndexEntry,
    Prefilter, StoredEntity, TypeInfo,
};
use dothi_store::ngsild_subscriptions::SubscriptionKind;
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::{Backend, Store, StoreError};
use sqlx::Row;

fn iri(term: &str) -> String {
    format!("https://uri.etsi.org/ngsi-ld/default-context/{term}")
}

fn record(
    id: &str,
    types: &[&str],
    index: Vec<IndexEntry>,
    bbox: Option<[f64; 4]>,
    at: i64,
) -> EntityRecord {
    EntityRecord {
        id: id.into(),
        types: types.iter().map(|t| iri(t)).collect(),
        body: format!(r#"{{"id":"{id}","at":{at}}}"#),
        created_at: at,
        modified_at: at,
        index,
        bbox,
        expires_at: None,
    }
}

fn num(attr: &str, v: f64) -> IndexEntry {
    IndexEntry::num(&iri(attr), v)
}

fn text(attr: &str, v: &str) -> IndexEntry {
    IndexEntry::text(&iri(attr), v)
}

fn note(id: &str, op: &str, attrs: &[&str], snapshot: Option<&str>) -> ChangeNote {
    ChangeNote {
        entity_id: id.into(),
        op: op.into(),
        attrs: attrs.iter().map(|a| iri(a)).collect(),
        snapshot: snapshot.map(str::to_string),
        previous: None,
    }
}

fn put(record: EntityRecord, history: Vec<HistoryEntry>, op: &str) -> Change {
    let mut attrs: Vec<String> = record.index.iter().map(|i| i.attr.clone()).collect();
    attrs.dedup();
    Change::Put {
        note: ChangeNote {
            entity_id: record.id.clone(),
            op: op.into(),
            attrs,
            snapshot: Some(record.body.clone()),
            previous: None,
        },
        history,
        deletions: Vec::new(),
        record,
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Create entities that must not exist yet (the NGSI-LD create): an existing one is that
/// item's error.
async fn create(store: &Store, records: Vec<EntityRecord>) -> Vec<Result<(), String>> {
    let keys: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let mut by_id: BTreeMap<String, EntityRecord> =
        records.into_iter().map(|r| (r.id.clone(), r)).collect();
    store
        .ngsild_modify(&keys, |id, current| match current {
            Some(_) => Err(format!("{id} already exists")),
            None => {
                let r = by_id.remove(id).ok_or("given once")?;
                Ok((put(r, Vec::new(), "create"), ()))
            }
        })
        .await
        .unwrap()
}

async fn query_ids(store: &Store, filter: EntityFilter) -> Vec<String> {
    store
        .ngsild_query(&filter)
        .await
        .unwrap()
        .entities
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn count_rows(store: &Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&store.db.pool)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn create_then_get_returns_the_stored_entity_and_a_second_create_is_that_items_error() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let a = record("urn:a", &["Sensor"], vec![num("temp", 1.0)], None, 1_000);
        let b = record("urn:b", &["Device"], vec![], None, 2_000);
        assert_eq!(
            create(&store, vec![a.clone(), b]).await,
            [Ok(()), Ok(())],
            "{backend:?}"
        );

        let got = store.ngsild_get("urn:a").await.unwrap().unwrap();
        assert!(got.pk > 0, "{backend:?}");
        assert_eq!(
            got,
            StoredEntity {
                pk: got.pk,
                id: "urn:a".into(),
                types: vec![iri("Sensor")],
                body: r#"{"id":"urn:a","at":1000}"#.into(),
                created_at: 1_000,
                modified_at: 1_000,
            }
        );
        assert_eq!(store.ngsild_get("urn:missing").await.unwrap(), None);

        // urn:a exists: its error does not stop urn:c, and urn:a is unchanged.
        let a2 = record("urn:a", &["Other"], vec![], None, 9_000);
        let c = record("urn:c", &["Sensor"], vec![], None, 3_000);
        assert_eq!(
            create(&store, vec![a2, c]).await,
            [Err("urn:a already exists".to_string()), Ok(())],
            "{backend:?}"
        );
        assert_eq!(store.ngsild_get("urn:a").await.unwrap().unwrap(), got);
        let c = store.ngsild_get("urn:c").await.unwrap().unwrap();
        assert_eq!(c.created_at, 3_000);
        assert!(c.pk > got.pk, "{backend:?}: pk follows creation order");
    }
}

#[tokio::test]
async fn an_id_given_twice_is_decided_on_the_outcome_of_its_first_occurrence() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let mut seen = Vec::new();
        let results = store
            .ngsild_modify(&ids(&["urn:x", "urn:x", "urn:x"]), |id, current| {
                seen.push(current.map(|c| (c.pk, c.body.clone())));
                let n = seen.len() as i64;
                match n {
                    3 => Err("third refused"),
                    _ => Ok((
                        put(
                            record(id, &["Sensor"], vec![num("temp", n as f64)], None, n),
                            Vec::new(),
                            if current.is_some() {
                                "update"
                            } else {
                                "create"
                            },
                        ),
                        n,
                    )),
                }
            })
            .await
            .unwrap();
        assert_eq!(results, [Ok(1), Ok(2), Err("third refused")], "{backend:?}");
        // The second call saw the first outcome, not yet written (pk 0); the third the second.
        assert_eq!(
            seen,
            [
                None,
                Some((0, r#"{"id":"urn:x","at":1}"#.to_string())),
                Some((0, r#"{"id":"urn:x","at":2}"#.to_string())),
            ]
        );
        let stored = store.ngsild_get("urn:x").await.unwrap().unwrap();
        assert_eq!(stored.body, r#"{"id":"urn:x","at":2}"#);
        let temp = Prefilter::Num {
            attr: iri("temp"),
            op: Cmp::Eq,
            value: 2.0,
        };
        let found = query_ids(
            &store,
            EntityFilter {
                prefilter: temp,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(found, ["urn:x"], "{backend:?}");
        let ops: Vec<String> = store
            .ngsild_changes_after(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.op)
            .collect();
        assert_eq!(ops, ["create", "update"], "{backend:?}");
    }
}

#[tokio::test]
async fn deleting_an_entity_removes_its_type_and_index_rows() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let keep = record("urn:keep", &["Sensor"], vec![num("temp", 5.0)], None, 1);
        let gone = record(
            "urn:gone",
            &["Sensor", "Device"],
            vec![num("temp", 7.0), text("name", "x")],
            Some([107.0, 16.0, 107.0, 16.0]),
            2,
        );
        create(&store, vec![keep, gone]).await;
        let gone_pk = store.ngsild_get("urn:gone").await.unwrap().unwrap().pk;

        let results = store
            .ngsild_modify(
                &ids(&["urn:gone", "urn:nothing"]),
                |id, current| match current {
                    Some(_) => Ok((
                        Change::Delete {
                            deletions: Vec::new(),
                            note: note(id, "delete", &[], None),
                        },
                        (),
                    )),
                    None => Err(format!("{id} not found")),
                },
            )
            .await
            .unwrap();
        assert_eq!(results, [Ok(()), Err("urn:nothing not found".to_string())]);
        assert_eq!(store.ngsild_get("urn:gone").await.unwrap(), None);
        for table in ["ngsild_entity_types", "ngsild_attr_index"] {
            let n = count_rows(
                &store,
                &format!("SELECT COUNT(*) FROM {table} WHERE entity_pk = {gone_pk}"),
            )
            .await;
            assert_eq!(n, 0, "{backend:?}: {table}");
        }
        let sensors = query_ids(
            &store,
            EntityFilter {
                types: vec![vec![iri("Sensor")]],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(sensors, ["urn:keep"], "{backend:?}");
        assert_eq!(
            store.ngsild_types(true).await.unwrap(),
            [TypeInfo {
                type_iri: iri("Sensor"),
                entity_count: 1,
                attrs: vec![iri("temp")],
            }]
        );
        let last = store
            .ngsild_changes_after(0, 10)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            (last.entity_id.as_str(), last.op.as_str(), last.snapshot),
            ("urn:gone", "delete", None)
        );
    }
}

#[tokio::test]
async fn an_update_replaces_the_types_index_and_bounding_box() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let first = record(
            "urn:e",
            &["Sensor"],
            vec![num("temp", 5.0), text("name", "old")],
            Some([1.0, 1.0, 2.0, 2.0]),
            1,
        );
        create(&store, vec![first]).await;
        let pk = store.ngsild_get("urn:e").await.unwrap().unwrap().pk;
        store
            .ngsild_modify(&ids(&["urn:e"]), |id, current| {
                let current = current.ok_or("exists")?;
                let mut r = record(
                    id,
                    &["Device", "Sensor"],
                    vec![num("temp", 9.0), text("name", "new")],
                    Some([10.0, 10.0, 11.0, 11.0]),
                    50,
                );
                r.created_at = current.created_at;
                Ok::<_, &str>((put(r, Vec::new(), "update"), ()))
            })
            .await
            .unwrap();
        let got = store.ngsild_get("urn:e").await.unwrap().unwrap();
        assert_eq!(
            (got.pk, got.types.clone(), got.created_at, got.modified_at),
            (pk, vec![iri("Device"), iri("Sensor")], 1, 50),
            "{backend:?}"
        );
        let q = |prefilter: Prefilter, bbox: Option<[f64; 4]>, types: Vec<Vec<String>>| {
            query_ids(
                &store,
                EntityFilter {
                    prefilter,
                    bbox,
                    types,
                    ..Default::default()
                },
            )
        };
        let temp = |v: f64| Prefilter::Num {
            attr: iri("temp"),
            op: Cmp::Eq,
            value: v,
        };
        assert!(q(temp(5.0), None, vec![]).await.is_empty(), "{backend:?}");
        assert_eq!(q(temp(9.0), None, vec![]).await, ["urn:e"]);
        let name = |v: &str| Prefilter::Text {
            attr: iri("name"),
            op: Cmp::Eq,
            value: v.into(),
        };
        assert!(q(name("old"), None, vec![]).await.is_empty());
        assert_eq!(q(name("new"), None, vec![]).await, ["urn:e"]);
        assert!(q(Prefilter::True, Some([0.0, 0.0, 3.0, 3.0]), vec![])
            .await
            .is_empty());
        assert_eq!(
            q(Prefilter::True, Some([10.5, 10.5, 20.0, 20.0]), vec![]).await,
            ["urn:e"]
        );
        assert_eq!(
            q(Prefilter::True, None, vec![vec![iri("Device")]]).await,
            ["urn:e"]
        );
    }
}

/// The index rows of entity `pk` in ord order: attribute, type (their IRIs), number, text.
async fn index_rows(
    store: &Store,
    pk: i64,
) -> Vec<(i64, String, String, Option<f64>, Option<String>)> {
    sqlx::query(
        "SELECT i.ord, a.iri, t.iri, i.num, i.text FROM ngsild_attr_index i \
         JOIN ngsild_terms a ON a.id = i.attr_id JOIN ngsild_terms t ON t.id = i.type_id \
         WHERE i.entity_pk = $1 ORDER BY i.ord",
    )
    .bind(pk)
    .fetch_all(&store.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

#[tokio::test]
async fn updates_leave_exactly_the_index_rows_of_the_new_values() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let exists = |a: &str| IndexEntry::exists(&iri(a));
        create(
            &store,
            vec![record(
                "urn:e",
                &["Sensor"],
                vec![
                    num("temp", 5.0),
                    num("temp", 6.0),
                    text("name", "a"),
                    exists("loc"),
                ],
                None,
                1,
            )],
        )
        .await;
        let pk = store.ngsild_get("urn:e").await.unwrap().unwrap().pk;
        let update = |types: &'static [&'static str], index: Vec<IndexEntry>| {
            let store = &store;
            async move {
                store
                    .ngsild_modify(&ids(&["urn:e"]), |id, _| {
                        let r = record(id, types, index.clone(), None, 2);
                        Ok::<_, ()>((put(r, Vec::new(), "update"), ()))
                    })
                    .await
                    .unwrap();
            }
        };
        let row = |ord: i64, attr: &str, ty: &str, n: Option<f64>, t: Option<&str>| {
            (ord, iri(attr), iri(ty), n, t.map(str::to_string))
        };
        let loc = |ord: i64, ty: &str| row(ord, "loc", ty, None, None);

        // One value changes: the other rows stay as they were.
        update(
            &["Sensor"],
            vec![
                num("temp", 5.0),
                num("temp", 7.0),
                text("name", "a"),
                exists("loc"),
            ],
        )
        .await;
        assert_eq!(
            index_rows(&store, pk).await,
            [
                row(0, "temp", "Sensor", Some(5.0), None),
                row(1, "temp", "Sensor", Some(7.0), None),
                row(2, "name", "Sensor", None, Some("a")),
                loc(3, "Sensor"),
            ],
            "{backend:?}"
        );
        // An attribute goes: the rows shift and the last one is deleted.
        update(
            &["Sensor"],
            vec![num("temp", 5.0), text("name", "b"), exists("loc")],
        )
        .await;
        assert_eq!(
            index_rows(&store, pk).await,
            [
                row(0, "temp", "Sensor", Some(5.0), None),
                row(1, "name", "Sensor", None, Some("b")),
                loc(2, "Sensor"),
            ],
            "{backend:?}"
        );
        // A second type: a row per value and type.
        update(&["Sensor", "Device"], vec![num("temp", 5.0), exists("loc")]).await;
        assert_eq!(
            index_rows(&store, pk).await,
            [
                row(0, "temp", "Device", Some(5.0), None),
                row(1, "temp", "Sensor", Some(5.0), None),
                loc(2, "Device"),
                loc(3, "Sensor"),
            ],
            "{backend:?}"
        );
        let q = |prefilter: Prefilter, ty: &str| {
            query_ids(
                &store,
                EntityFilter {
                    prefilter,
                    types: vec![vec![iri(ty)]],
                    ..Default::default()
                },
            )
        };
        let temp = |value: f64| Prefilter::Num {
            attr: iri("temp"),
            op: Cmp::Eq,
            value,
        };
        let name = Prefilter::Exists { attr: iri("name") };
        assert_eq!(q(temp(5.0), "Device").await, ["urn:e"], "{backend:?}");
        assert!(q(temp(7.0), "Sensor").await.is_empty(), "{backend:?}");
        assert!(q(name.clone(), "Sensor").await.is_empty(), "{backend:?}");
        // Back to one type and one attribute, of a name never seen before.
        update(&["Device"], vec![text("label", "x")]).await;
        assert_eq!(
            index_rows(&store, pk).await,
            [row(0, "label", "Device", None, Some("x"))],
            "{backend:?}"
        );
        assert!(q(temp(5.0), "Device").await.is_empty(), "{backend:?}");
        // Each name is numbered once.
        let terms = count_rows(&store, "SELECT COUNT(*) FROM ngsild_terms").await;
        assert_eq!(
            terms, 6,
            "{backend:?}: temp, name, loc, label, Sensor, Device"
        );
    }
}

/// Migration 0014 numbers the names of an index written with IRIs in its rows (0005): the
/// rows, queries and discovery come out as the current write path makes them.
#[tokio::test]
async fn the_terms_migration_keeps_the_index_of_existing_entities() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        let pks: Vec<i64> = sqlx::query("SELECT pk FROM ngsild_entities ORDER BY pk")
            .fetch_all(&store.db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut before = Vec::new();
        for pk in &pks {
            before.push(index_rows(&store, *pk).await);
        }
        let types_before = store.ngsild_types(true).await.unwrap();
        let attrs_before = store.ngsild_attributes(true).await.unwrap();
        assert!(before.iter().all(|rows| !rows.is_empty()), "{backend:?}");

        // Back to the layout of 0005, then 0014 as it runs on a database of that time.
        let (int, text, migration) = match backend {
            Backend::Sqlite => (
                "INTEGER",
                "TEXT",
                include_str!("../migrations/sqlite/0014_ngsild_terms.sql"),
            ),
            Backend::Postgres => (
                "BIGINT",
                "TEXT COLLATE \"C\"",
                include_str!("../migrations/postgres/0014_ngsild_terms.sql"),
            ),
        };
        let old = format!(
            "CREATE TABLE old_index AS SELECT i.entity_pk, i.ord, a.iri AS attr, t.iri AS type, \
             i.num, i.text FROM ngsild_attr_index i JOIN ngsild_terms a ON a.id = i.attr_id \
             JOIN ngsild_terms t ON t.id = i.type_id; \
             DROP TABLE ngsild_attr_index; DROP TABLE ngsild_terms; \
             CREATE TABLE ngsild_attr_index (entity_pk {int} NOT NULL, ord {int} NOT NULL, \
             attr TEXT NOT NULL, type TEXT NOT NULL, num DOUBLE PRECISION, text {text}, \
             PRIMARY KEY (entity_pk, ord)); \
             INSERT INTO ngsild_attr_index SELECT * FROM old_index; DROP TABLE old_index; \
             CREATE INDEX ngsild_attr_index_num ON ngsild_attr_index (attr, type, num, entity_pk); \
             CREATE INDEX ngsild_attr_index_text ON ngsild_attr_index (attr, type, text, entity_pk) \
             WHERE text IS NOT NULL;"
        );
        for sql in [old.as_str(), migration] {
            sqlx::raw_sql(sql).execute(&store.db.pool).await.unwrap();
        }

        for (pk, rows) in pks.iter().zip(&before) {
            assert_eq!(&index_rows(&store, *pk).await, rows, "{backend:?}");
        }
        assert_eq!(store.ngsild_types(true).await.unwrap(), types_before);
        assert_eq!(store.ngsild_attributes(true).await.unwrap(), attrs_before);
        let hot = EntityFilter {
            prefilter: Prefilter::Num {
                attr: iri("temp"),
                op: Cmp::Gt,
                value: 20.0,
            },
            ..Default::default()
        };
        assert_eq!(
            query_ids(&store, hot).await,
            ["urn:3", "urn:6"],
            "{backend:?}"
        );
    }
}

/// Six entities covering types, numbers, strings, several instances and locations.
async fn query_fixture(store: &Store) {
    let point = |lon: f64, lat: f64| Some([lon, lat, lon, lat]);
    let results = create(
        store,
        vec![
            record(
                "urn:1",
                &["Sensor"],
                vec![num("temp", 10.0), text("name", "alpha")],
                point(107.58, 16.46),
                1,
            ),
            record(
                "urn:2",
                &["Sensor", "Device"],
                vec![num("temp", 20.0), text("name", "beta")],
                point(107.60, 16.47),
                2,
            ),
            record(
                "urn:3",
                &["Device"],
                vec![
                    num("temp", 30.0),
                    text("name", "gamma"),
                    IndexEntry::exists(&iri("status")),
                ],
                Some([107.0, 16.0, 108.0, 17.0]),
                3,
            ),
            record("urn:4", &["Sensor"], vec![text("temp", "high")], None, 4),
            record("urn:5", &["Other"], vec![num("humidity", 50.0)], None, 5),
            record(
                "urn:6",
                &["Sensor", "Device"],
                vec![num("temp", 20.0), num("temp", 25.0)],
                point(105.0, 21.0),
                6,
            ),
        ],
    )
    .await;
    assert!(results.iter().all(Result::is_ok));
}

#[tokio::test]
async fn queries_filter_by_ids_types_and_attributes() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        // Statistics (PostgreSQL) must not change any answer.
        store.ngsild_analyze().await.unwrap();
        let types = |t: &[&[&str]]| EntityFilter {
            types: t
                .iter()
                .map(|and| and.iter().map(|x| iri(x)).collect())
                .collect(),
            ..Default::default()
        };
        let cases: Vec<(EntityFilter, Vec<&str>)> = vec![
            (
                EntityFilter::default(),
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:5", "urn:6"],
            ),
            (
                EntityFilter {
                    ids: ids(&["urn:5", "urn:2", "urn:nope"]),
                    ..Default::default()
                },
                vec!["urn:2", "urn:5"],
            ),
            (
                types(&[&["Sensor"]]),
                vec!["urn:1", "urn:2", "urn:4", "urn:6"],
            ),
            (
                types(&[&["Sensor"], &["Other"]]),
                vec!["urn:1", "urn:2", "urn:4", "urn:5", "urn:6"],
            ),
            (types(&[&["Sensor", "Device"]]), vec!["urn:2", "urn:6"]),
            (
                types(&[&["Sensor", "Device"], &["Other"]]),
                vec!["urn:2", "urn:5", "urn:6"],
            ),
            (
                types(&[&["Device"], &["Sensor", "Other"]]),
                vec!["urn:2", "urn:3", "urn:6"],
            ),
            (types(&[&["Nothing"]]), vec![]),
            // urn:2 and urn:6 have both types: listed once.
            (
                types(&[&["Sensor"], &["Device"]]),
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:6"],
            ),
            (
                EntityFilter {
                    attrs_any: vec![iri("humidity"), iri("status")],
                    ..Default::default()
                },
                vec!["urn:3", "urn:5"],
            ),
            (
                EntityFilter {
                    ids: ids(&["urn:1", "urn:2", "urn:3"]),
                    attrs_any: vec![iri("name")],
                    ..types(&[&["Sensor"]])
                },
                vec!["urn:1", "urn:2"],
            ),
        ];
        for (filter, expected) in cases {
            let filter = EntityFilter {
                count: true,
                ..filter
            };
            let page = store.ngsild_query(&filter).await.unwrap();
            let found: Vec<&str> = page.entities.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(
                (found, page.total),
                (expected.clone(), Some(expected.len() as u64)),
                "{backend:?}: {filter:?}"
            );
        }
    }
}

#[tokio::test]
async fn each_prefilter_holds_when_some_index_entry_of_the_attribute_satisfies_it() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        let temp = |op: Cmp, value: f64| Prefilter::Num {
            attr: iri("temp"),
            op,
            value,
        };
        let name = |op: Cmp, value: &str| Prefilter::Text {
            attr: iri("name"),
            op,
            value: value.into(),
        };
        let exists = |a: &str| Prefilter::Exists { attr: iri(a) };
        let cases: Vec<(Prefilter, Vec<&str>)> = vec![
            (
                Prefilter::True,
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:5", "urn:6"],
            ),
            (
                exists("temp"),
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:6"],
            ),
            (exists("status"), vec!["urn:3"]),
            (temp(Cmp::Eq, 20.0), vec!["urn:2", "urn:6"]),
            // urn:6 also has 25; urn:4's temperature is not a number.
            (temp(Cmp::Ne, 20.0), vec!["urn:1", "urn:3", "urn:6"]),
            (temp(Cmp::Lt, 20.0), vec!["urn:1"]),
            (temp(Cmp::Le, 20.0), vec!["urn:1", "urn:2", "urn:6"]),
            (temp(Cmp::Gt, 20.0), vec!["urn:3", "urn:6"]),
            (temp(Cmp::Ge, 25.0), vec!["urn:3", "urn:6"]),
            (
                Prefilter::Text {
                    attr: iri("temp"),
                    op: Cmp::Eq,
                    value: "high".into(),
                },
                vec!["urn:4"],
            ),
            (name(Cmp::Eq, "beta"), vec!["urn:2"]),
            (name(Cmp::Ne, "alpha"), vec!["urn:2", "urn:3"]),
            (name(Cmp::Lt, "beta"), vec!["urn:1"]),
            (name(Cmp::Le, "beta"), vec!["urn:1", "urn:2"]),
            (name(Cmp::Gt, "beta"), vec!["urn:3"]),
            (name(Cmp::Ge, "beta"), vec!["urn:2", "urn:3"]),
            // Byte-wise: upper case sorts before lower case on both backends.
            (name(Cmp::Lt, "Zeta"), vec![]),
            (
                Prefilter::NumIn {
                    attr: iri("temp"),
                    values: vec![10.0, 30.0, 99.0],
                },
                vec!["urn:1", "urn:3"],
            ),
            (
                Prefilter::NumIn {
                    attr: iri("temp"),
                    values: vec![],
                },
                vec![],
            ),
            (
                Prefilter::TextIn {
                    attr: iri("name"),
                    values: vec!["alpha".into(), "gamma".into()],
                },
                vec!["urn:1", "urn:3"],
            ),
            (
                Prefilter::And(vec![temp(Cmp::Ge, 20.0), name(Cmp::Eq, "beta")]),
                vec!["urn:2"],
            ),
            (
                Prefilter::Or(vec![temp(Cmp::Lt, 15.0), exists("humidity")]),
                vec!["urn:1", "urn:5"],
            ),
            (
                Prefilter::And(vec![
                    Prefilter::Or(vec![name(Cmp::Eq, "alpha"), name(Cmp::Eq, "gamma")]),
                    temp(Cmp::Gt, 15.0),
                ]),
                vec!["urn:3"],
            ),
            (Prefilter::Or(vec![]), vec![]),
            (
                Prefilter::And(vec![]),
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:5", "urn:6"],
            ),
            (
                Prefilter::Or(vec![Prefilter::True, exists("status")]),
                vec!["urn:1", "urn:2", "urn:3", "urn:4", "urn:5", "urn:6"],
            ),
        ];
        for (prefilter, expected) in cases {
            let filter = EntityFilter {
                prefilter: prefilter.clone(),
                ..Default::default()
            };
            assert_eq!(
                query_ids(&store, filter).await,
                expected,
                "{backend:?}: {prefilter:?}"
            );
        }
    }
}

#[tokio::test]
async fn prefilters_are_confined_to_the_queried_types() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        let types = |t: &[&[&str]]| -> Vec<Vec<String>> {
            t.iter()
                .map(|and| and.iter().map(|x| iri(x)).collect())
                .collect()
        };
        let temp = |op: Cmp, value: f64| Prefilter::Num {
            attr: iri("temp"),
            op,
            value,
        };
        let exists = |a: &str| Prefilter::Exists { attr: iri(a) };
        /// Type selection, prefilter, attrs_any, expected ids.
        type Case<'a> = (Vec<Vec<String>>, Prefilter, Vec<String>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (
                types(&[&["Device"]]),
                temp(Cmp::Ge, 20.0),
                vec![],
                vec!["urn:2", "urn:3", "urn:6"],
            ),
            (
                types(&[&["Sensor"]]),
                temp(Cmp::Ge, 20.0),
                vec![],
                vec!["urn:2", "urn:6"],
            ),
            (
                types(&[&["Other"], &["Device"]]),
                exists("temp"),
                vec![],
                vec!["urn:2", "urn:3", "urn:6"],
            ),
            // Both types: an AND group is checked on the entity's types, not implied.
            (
                types(&[&["Sensor", "Device"]]),
                temp(Cmp::Lt, 25.0),
                vec![],
                vec!["urn:2", "urn:6"],
            ),
            (
                types(&[&["Device"]]),
                Prefilter::Or(vec![temp(Cmp::Lt, 15.0), exists("humidity")]),
                vec![],
                vec![],
            ),
            // An OR with an always-true branch admits entities without an index row: the type
            // condition still applies.
            (
                types(&[&["Sensor"]]),
                Prefilter::Or(vec![Prefilter::True, temp(Cmp::Gt, 100.0)]),
                vec![],
                vec!["urn:1", "urn:2", "urn:4", "urn:6"],
            ),
            (
                types(&[&["Device"]]),
                Prefilter::True,
                vec![iri("name")],
                vec!["urn:2", "urn:3"],
            ),
            (
                types(&[&["Other"]]),
                Prefilter::True,
                vec![iri("temp")],
                vec![],
            ),
            (
                types(&[&["Sensor"]]),
                Prefilter::And(vec![
                    temp(Cmp::Ge, 20.0),
                    Prefilter::Or(vec![
                        Prefilter::Text {
                            attr: iri("name"),
                            op: Cmp::Eq,
                            value: "beta".into(),
                        },
                        exists("status"),
                    ]),
                ]),
                vec![],
                vec!["urn:2"],
            ),
            // An empty AND group admits any type.
            (
                types(&[&["Device"], &[]]),
                temp(Cmp::Ge, 25.0),
                vec![],
                vec!["urn:3", "urn:6"],
            ),
        ];
        for (types, prefilter, attrs_any, expected) in cases {
            let filter = EntityFilter {
                types,
                prefilter,
                attrs_any,
                count: true,
                ..Default::default()
            };
            let page = store.ngsild_query(&filter).await.unwrap();
            let found: Vec<&str> = page.entities.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(
                (found, page.total),
                (expected.clone(), Some(expected.len() as u64)),
                "{backend:?}: {filter:?}"
            );
        }

        // Retyped, its index rows follow: urn:5 becomes a Device.
        store
            .ngsild_modify(&ids(&["urn:5"]), |id, _| {
                let r = record(id, &["Device"], vec![num("humidity", 50.0)], None, 7);
                Ok::<_, ()>((put(r, Vec::new(), "update"), ()))
            })
            .await
            .unwrap();
        let device_humidity = EntityFilter {
            types: types(&[&["Device"]]),
            prefilter: exists("humidity"),
            ..Default::default()
        };
        assert_eq!(
            query_ids(&store, device_humidity).await,
            ["urn:5"],
            "{backend:?}"
        );
        let other = EntityFilter {
            types: types(&[&["Other"]]),
            prefilter: exists("humidity"),
            ..Default::default()
        };
        assert!(query_ids(&store, other).await.is_empty(), "{backend:?}");
    }
}

#[tokio::test]
async fn bbox_limit_offset_count_and_after_pk_page_in_creation_order() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        // Around Huế: the two points and the box of urn:3; not Hà Nội (urn:6) nor unlocated.
        let hue = EntityFilter {
            bbox: Some([107.5, 16.4, 107.7, 16.5]),
            ..Default::default()
        };
        assert_eq!(query_ids(&store, hue).await, ["urn:1", "urn:2", "urn:3"]);
        // A box touching urn:3's corner only.
        let corner = EntityFilter {
            bbox: Some([108.0, 17.0, 109.0, 18.0]),
            ..Default::default()
        };
        assert_eq!(query_ids(&store, corner).await, ["urn:3"], "{backend:?}");

        let page = store
            .ngsild_query(&EntityFilter {
                limit: Some(2),
                offset: 1,
                count: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let page_ids: Vec<&str> = page.entities.iter().map(|e| e.id.as_str()).collect();
        assert_eq!((page_ids, page.total), (vec!["urn:2", "urn:3"], Some(6)));

        let counted = store
            .ngsild_query(&EntityFilter {
                limit: Some(0),
                count: true,
                types: vec![vec![iri("Sensor")]],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((counted.entities.len(), counted.total), (0, Some(4)));

        let tail = store
            .ngsild_query(&EntityFilter {
                offset: 4,
                ..Default::default()
            })
            .await
            .unwrap();
        let tail_ids: Vec<&str> = tail.entities.iter().map(|e| e.id.as_str()).collect();
        assert_eq!((tail_ids, tail.total), (vec!["urn:5", "urn:6"], None));

        let pk2 = store.ngsild_get("urn:2").await.unwrap().unwrap().pk;
        let after = EntityFilter {
            after_pk: Some(pk2),
            limit: Some(2),
            types: vec![vec![iri("Sensor")]],
            ..Default::default()
        };
        assert_eq!(
            query_ids(&store, after).await,
            ["urn:4", "urn:6"],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn discovery_lists_types_and_attributes_with_counts() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        query_fixture(&store).await;
        let strings = |v: &[&str]| v.iter().map(|s| iri(s)).collect::<Vec<_>>();
        assert_eq!(
            store.ngsild_types(true).await.unwrap(),
            [
                TypeInfo {
                    type_iri: iri("Device"),
                    entity_count: 3,
                    attrs: strings(&["name", "status", "temp"]),
                },
                TypeInfo {
                    type_iri: iri("Other"),
                    entity_count: 1,
                    attrs: strings(&["humidity"]),
                },
                TypeInfo {
                    type_iri: iri("Sensor"),
                    entity_count: 4,
                    attrs: strings(&["name", "temp"]),
                },
            ],
            "{backend:?}"
        );
        let plain: Vec<(String, u64, usize)> = store
            .ngsild_types(false)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.type_iri, t.entity_count, t.attrs.len()))
            .collect();
        assert_eq!(
            plain,
            [
                (iri("Device"), 3, 0),
                (iri("Other"), 1, 0),
                (iri("Sensor"), 4, 0)
            ]
        );
        assert_eq!(
            store.ngsild_attributes(true).await.unwrap(),
            [
                AttributeInfo {
                    attr: iri("humidity"),
                    entity_count: 1,
                    types: strings(&["Other"]),
                },
                AttributeInfo {
                    attr: iri("name"),
                    entity_count: 3,
                    types: strings(&["Device", "Sensor"]),
                },
                AttributeInfo {
                    attr: iri("status"),
                    entity_count: 1,
                    types: strings(&["Device"]),
                },
                // urn:6's two instances count once.
                AttributeInfo {
                    attr: iri("temp"),
                    entity_count: 5,
                    types: strings(&["Device", "Sensor"]),
                },
            ],
            "{backend:?}"
        );
        let names: Vec<String> = store
            .ngsild_attributes(false)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.attr)
            .collect();
        assert_eq!(names, strings(&["humidity", "name", "status", "temp"]));
    }
}

#[tokio::test]
async fn expired_entities_are_left_out_of_queries_and_discovery() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let now = chrono::Utc::now().timestamp_millis();
        let expiring = |id: &str, ty: &str, attr: &str, expires_at: Option<i64>| EntityRecord {
            expires_at,
            ..record(id, &[ty], vec![num(attr, 1.0)], None, 1)
        };
        let created = create(
            &store,
            vec![
                expiring("urn:past", "Gauge", "level", Some(now - 1_000)),
                expiring("urn:future", "Gauge", "level", Some(now + 3_600_000)),
                expiring("urn:durable", "Gauge", "level", None),
                // A type and an attribute only an expired entity has.
                expiring("urn:gone", "Beacon", "battery", Some(now - 1)),
            ],
        )
        .await;
        assert!(created.iter().all(Result::is_ok), "{created:?}");

        let gauges = EntityFilter {
            types: vec![vec![iri("Gauge")]],
            count: true,
            ..Default::default()
        };
        let page = store.ngsild_query(&gauges).await.unwrap();
        let found: Vec<&str> = page.entities.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(found, ["urn:future", "urn:durable"], "{backend:?}");
        assert_eq!(page.total, Some(2), "{backend:?}");
        // The same through the attribute index, by id, and with no condition at all.
        let by_attr = EntityFilter {
            prefilter: Prefilter::Num {
                attr: iri("level"),
                op: Cmp::Ge,
                value: 1.0,
            },
            ..Default::default()
        };
        assert_eq!(
            query_ids(&store, by_attr).await,
            ["urn:future", "urn:durable"]
        );
        let by_id = EntityFilter {
            ids: ids(&["urn:past", "urn:gone", "urn:durable"]),
            ..Default::default()
        };
        assert_eq!(query_ids(&store, by_id).await, ["urn:durable"]);
        assert_eq!(
            query_ids(&store, EntityFilter::default()).await,
            ["urn:future", "urn:durable"]
        );
        // Paging counts the live entities only.
        let second = EntityFilter {
            limit: Some(1),
            offset: 1,
            ..gauges
        };
        let page = store.ngsild_query(&second).await.unwrap();
        let found: Vec<&str> = page.entities.iter().map(|e| e.id.as_str()).collect();
        assert_eq!((found, page.total), (vec!["urn:durable"], Some(2)));

        // Discovery: counts without the expired entities, and no trace of the expiry row.
        assert_eq!(
            store.ngsild_types(true).await.unwrap(),
            [TypeInfo {
                type_iri: iri("Gauge"),
                entity_count: 2,
                attrs: vec![iri("level")],
            }],
            "{backend:?}"
        );
        assert_eq!(
            store.ngsild_attributes(true).await.unwrap(),
            [AttributeInfo {
                attr: iri("level"),
                entity_count: 2,
                types: vec![iri("Gauge")],
            }],
            "{backend:?}"
        );
        // Reads by id still find the row: the broker decides what an expired entity is.
        assert!(store.ngsild_get("urn:past").await.unwrap().is_some());
    }
}

fn reading(id: &str, attr: &str, dataset: Option<&str>, at: i64, v: Option<f64>) -> HistoryEntry {
    HistoryEntry {
        entity_id: id.into(),
        attr: iri(attr),
        dataset_id: dataset.map(str::to_string),
        observed_at: at,
        num: v,
        instance: match v {
            Some(v) => format!(r#"{{"value":{v},"observedAt":{at}}}"#),
            None => format!(r#"{{"value":"n/a","observedAt":{at}}}"#),
        },
    }
}

fn row(seq: i64, e: &HistoryEntry) -> HistoryRow {
    HistoryRow {
        seq,
        entity_id: e.entity_id.clone(),
        attr: e.attr.clone(),
        dataset_id: e.dataset_id.clone(),
        observed_at: e.observed_at,
        num: e.num,
        instance: e.instance.clone(),
    }
}

#[tokio::test]
async fn history_reads_a_range_and_the_last_n_of_each_series() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        // Written through an entity update (as ingestion does) and directly (temporal API).
        let through_entity = vec![
            reading("urn:g", "level", None, 300, Some(3.0)),
            reading("urn:g", "level", None, 100, Some(1.0)),
            reading("urn:g", "level", Some("urn:ds:b"), 150, Some(15.0)),
        ];
        let h = through_entity.clone();
        store
            .ngsild_modify(&ids(&["urn:g"]), |id, _| {
                let r = record(id, &["Gauge"], vec![num("level", 3.0)], None, 300);
                Ok::<_, ()>((put(r, h.clone(), "create"), ()))
            })
            .await
            .unwrap();
        let direct = vec![
            reading("urn:g", "level", None, 200, None),
            reading("urn:g", "alarm", None, 250, Some(2.0)),
            reading("urn:h", "level", None, 120, Some(9.0)),
        ];
        store.ngsild_append_history(&direct).await.unwrap();
        store.ngsild_append_history(&[]).await.unwrap();

        let all = store
            .ngsild_history(&HistoryFilter::default())
            .await
            .unwrap();
        let seqs: Vec<i64> = all.iter().map(|r| r.seq).collect();
        let seq_of = |at: i64, id: &str| {
            all.iter()
                .find(|r| r.observed_at == at && r.entity_id == id)
                .unwrap()
                .seq
        };
        // Entity, attribute (alarm < level), default instance first, then time.
        assert_eq!(
            all,
            [
                row(seq_of(250, "urn:g"), &direct[1]),
                row(seq_of(100, "urn:g"), &through_entity[1]),
                row(seq_of(200, "urn:g"), &direct[0]),
                row(seq_of(300, "urn:g"), &through_entity[0]),
                row(seq_of(150, "urn:g"), &through_entity[2]),
                row(seq_of(120, "urn:h"), &direct[2]),
            ],
            "{backend:?}"
        );
        let mut sorted = seqs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "{backend:?}: distinct instance numbers");

        let level_of_g = |from, to, last_n| HistoryFilter {
            entity_ids: ids(&["urn:g"]),
            attrs: vec![iri("level")],
            from,
            to,
            last_n,
            first_n: None,
        };
        let times = |rows: Vec<HistoryRow>| -> Vec<(Option<String>, i64)> {
            rows.into_iter()
                .map(|r| (r.dataset_id, r.observed_at))
                .collect()
        };
        let ds = Some("urn:ds:b".to_string());
        assert_eq!(
            times(
                store
                    .ngsild_history(&level_of_g(Some(150), Some(300), None))
                    .await
                    .unwrap()
            ),
            [(None, 200), (ds.clone(), 150)],
            "{backend:?}: [from, to)"
        );
        assert_eq!(
            times(
                store
                    .ngsild_history(&level_of_g(None, None, Some(2)))
                    .await
                    .unwrap()
            ),
            [(None, 200), (None, 300), (ds.clone(), 150)],
            "{backend:?}: last 2 of each series, in time order"
        );
        assert_eq!(
            times(
                store
                    .ngsild_history(&level_of_g(None, Some(250), Some(1)))
                    .await
                    .unwrap()
            ),
            [(None, 200), (ds, 150)],
            "{backend:?}: last 1 before 250"
        );
        // The first and last instant, over series, with open and closed ends.
        let span = |ids_: &[&str], attrs: &[&str], from, to| {
            let store = store.clone();
            let (ids_, attrs) = (ids(ids_), attrs.iter().map(|a| iri(a)).collect::<Vec<_>>());
            async move {
                store
                    .ngsild_history_span(&ids_, &attrs, from, to)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            span(&["urn:g"], &[], None, None).await,
            Some((100, 300)),
            "{backend:?}"
        );
        assert_eq!(
            span(&["urn:g"], &["alarm"], None, None).await,
            Some((250, 250))
        );
        assert_eq!(span(&[], &[], Some(110), Some(300)).await, Some((120, 250)));
        assert_eq!(span(&["urn:none"], &[], None, None).await, None);
        assert_eq!(span(&["urn:g"], &[], Some(301), None).await, None);

        let h_only = HistoryFilter {
            entity_ids: ids(&["urn:h", "urn:none"]),
            ..Default::default()
        };
        assert_eq!(
            times(store.ngsild_history(&h_only).await.unwrap()),
            [(None, 120)]
        );
    }
}

fn bucket(start: i64, count: u64, nums: &[f64], want: Aggregates) -> AggregateBucket {
    let has = !nums.is_empty();
    let pick = |asked: bool, v: f64| (asked && has).then_some(v);
    AggregateBucket {
        entity_id: "urn:w".into(),
        attr: iri("level"),
        dataset_id: None,
        start,
        count,
        num_count: nums.len() as u64,
        sum: pick(want.sum, nums.iter().sum()),
        min: pick(want.min, nums.iter().cloned().fold(f64::INFINITY, f64::min)),
        max: pick(
            want.max,
            nums.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        ),
        sumsq: pick(want.sumsq, nums.iter().map(|v| v * v).sum()),
    }
}

#[tokio::test]
async fn deletions_are_kept_apart_from_the_history_and_deleted_with_it() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let gone = |id: &str, attr: &str, dataset: Option<&str>, at: i64| HistoryEntry {
            num: None,
            instance: format!(r#"{{"value":"urn:ngsi-ld:null","deletedAt":{at}}}"#),
            ..reading(id, attr, dataset, at, None)
        };
        let kept = reading("urn:g", "level", None, 100, Some(1.0));
        let (k, d1) = (kept.clone(), gone("urn:g", "level", Some("urn:ds:b"), 200));
        store
            .ngsild_modify(&ids(&["urn:g"]), |id, _| {
                let r = record(id, &["Gauge"], vec![num("level", 1.0)], None, 200);
                let Change::Put { record, note, .. } = put(r, Vec::new(), "update") else {
                    unreachable!()
                };
                let change = Change::Put {
                    record,
                    history: vec![k.clone()],
                    deletions: vec![d1.clone()],
                    note,
                };
                Ok::<_, ()>((change, ()))
            })
            .await
            .unwrap();
        let (d2, d3) = (
            gone("urn:g", "level", None, 300),
            gone("urn:g", "alarm", None, 300),
        );
        store
            .ngsild_modify(&ids(&["urn:g"]), |id, _| {
                let change = Change::Delete {
                    deletions: vec![d2.clone(), d3.clone()],
                    note: note(id, "delete", &[], None),
                };
                Ok::<_, ()>((change, ()))
            })
            .await
            .unwrap();
        // The history holds only the instance; aggregation counts only it.
        let history = store
            .ngsild_history(&HistoryFilter::default())
            .await
            .unwrap();
        assert_eq!(history.len(), 1, "{backend:?}");
        assert_eq!(history[0].instance, kept.instance);

        let all = store
            .ngsild_deletions(&HistoryFilter::default())
            .await
            .unwrap();
        let seq_of = |e: &HistoryEntry| {
            all.iter()
                .find(|r| r.attr == e.attr && r.dataset_id == e.dataset_id)
                .unwrap()
                .seq
        };
        // Entity, attribute (alarm < level), default instance first, then time.
        let expected = [
            row(seq_of(&d3), &d3),
            row(seq_of(&d2), &d2),
            row(seq_of(&d1), &d1),
        ];
        assert_eq!(all, expected, "{backend:?}");
        let level_of_g = |from, to, last_n, first_n| HistoryFilter {
            entity_ids: ids(&["urn:g"]),
            attrs: vec![iri("level")],
            from,
            to,
            last_n,
            first_n,
        };
        for (filter, rows) in [
            (level_of_g(None, None, None, None), &expected[1..]),
            (level_of_g(Some(250), None, None, None), &expected[1..2]),
            (level_of_g(None, Some(250), None, None), &expected[2..]),
            (level_of_g(None, None, Some(1), None), &expected[1..]),
            (level_of_g(None, None, None, Some(1)), &expected[1..]),
        ] {
            assert_eq!(
                store.ngsild_deletions(&filter).await.unwrap(),
                rows,
                "{backend:?}: {filter:?}"
            );
        }

        // One deletion by its number, then every deletion of an attribute with its history.
        assert!(!store
            .ngsild_delete_deletion("urn:g", &iri("alarm"), seq_of(&d1))
            .await
            .unwrap());
        assert!(store
            .ngsild_delete_deletion("urn:g", &iri("alarm"), seq_of(&d3))
            .await
            .unwrap());
        assert_eq!(
            store
                .ngsild_delete_history("urn:g", Some(&iri("level")))
                .await
                .unwrap(),
            3,
            "{backend:?}: one instance and two deletions"
        );
        assert_eq!(
            store
                .ngsild_deletions(&HistoryFilter::default())
                .await
                .unwrap(),
            []
        );

        // Retention purges deletions recorded before the cut-off.
        let (old, new) = (
            gone("urn:h", "level", None, 1_000),
            gone("urn:h", "level", None, 5_000),
        );
        let both = vec![old.clone(), new.clone()];
        store
            .ngsild_modify(&ids(&["urn:h"]), |id, _| {
                let change = Change::Delete {
                    deletions: both.clone(),
                    note: note(id, "delete", &[], None),
                };
                Ok::<_, ()>((change, ()))
            })
            .await
            .unwrap();
        assert_eq!(store.ngsild_purge_history(2_000).await.unwrap(), 1);
        let left = store
            .ngsild_deletions(&HistoryFilter::default())
            .await
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].observed_at, 5_000);
        assert_eq!(store.ngsild_delete_history("urn:h", None).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn aggregation_buckets_hold_exact_counts_sums_and_extremes() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        // Origin 1,000, period 100: buckets [1000,1100), [1100,1200), [1200,1300) ...
        let entries = vec![
            reading("urn:w", "level", None, 950, Some(100.0)), // before the origin
            reading("urn:w", "level", None, 1_000, Some(1.0)),
            reading("urn:w", "level", None, 1_050, Some(2.5)),
            reading("urn:w", "level", None, 1_099, None), // not a number: counted only
            reading("urn:w", "level", None, 1_250, Some(-4.0)),
            reading("urn:w", "level", None, 1_299, Some(6.0)),
            reading("urn:w", "level", None, 1_300, Some(10.0)),
            reading("urn:w", "level", None, 1_450, None),
            reading("urn:w", "other", None, 1_000, Some(7.0)),
            reading("urn:v", "level", None, 1_000, Some(7.0)),
        ];
        store.ngsild_append_history(&entries).await.unwrap();
        let filter = |from, to, want| AggregateFilter {
            entity_ids: ids(&["urn:w"]),
            attrs: vec![iri("level")],
            from,
            to,
            origin: 1_000,
            period_ms: 100,
            want,
        };
        let all = Aggregates::ALL;
        assert_eq!(
            store
                .ngsild_aggregate(&filter(None, None, all))
                .await
                .unwrap(),
            [
                bucket(1_000, 3, &[1.0, 2.5], all),
                bucket(1_200, 2, &[-4.0, 6.0], all),
                bucket(1_300, 1, &[10.0], all),
                bucket(1_400, 1, &[], all),
            ],
            "{backend:?}"
        );
        let b = &store
            .ngsild_aggregate(&filter(None, None, all))
            .await
            .unwrap()[1];
        assert_eq!((b.avg(), b.variance()), (Some(1.0), Some(25.0)));

        let some = Aggregates {
            sum: true,
            max: true,
            ..Default::default()
        };
        assert_eq!(
            store
                .ngsild_aggregate(&filter(Some(1_050), Some(1_300), some))
                .await
                .unwrap(),
            [
                bucket(1_000, 2, &[2.5], some),
                bucket(1_200, 2, &[-4.0, 6.0], some)
            ],
            "{backend:?}: from/to cut the first bucket, not its start"
        );
        assert!(store
            .ngsild_aggregate(&filter(Some(5_000), None, all))
            .await
            .unwrap()
            .is_empty());
        let bad = AggregateFilter {
            period_ms: 0,
            ..filter(None, None, all)
        };
        assert!(matches!(
            store.ngsild_aggregate(&bad).await,
            Err(StoreError::Domain(_))
        ));
    }
}

#[tokio::test]
async fn aggregation_over_more_buckets_than_the_numbers_table_agrees_with_the_ordered_path() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let mut entries = Vec::new();
        for i in 0..50i64 {
            entries.push(reading("urn:w", "level", None, i * 3_000, Some(i as f64)));
            entries.push(reading("urn:w", "level", None, i * 3_000 + 1, Some(1.0)));
        }
        store.ngsild_append_history(&entries).await.unwrap();
        let agg = |period_ms| AggregateFilter {
            entity_ids: ids(&["urn:w"]),
            attrs: vec![],
            from: None,
            to: None,
            origin: 0,
            period_ms,
            want: Aggregates::ALL,
        };
        // 1 ms buckets: 147,002 of them, beyond the 65,536 bucket numbers of SQLite's path.
        let fine = store.ngsild_aggregate(&agg(1)).await.unwrap();
        assert_eq!(fine.len(), 100, "{backend:?}");
        assert_eq!(fine[2], bucket(3_000, 1, &[1.0], Aggregates::ALL));
        // 3 s buckets: the ordered path; each holds i and 1.
        let coarse = store.ngsild_aggregate(&agg(3_000)).await.unwrap();
        let expected: Vec<AggregateBucket> = (0..50i64)
            .map(|i| bucket(i * 3_000, 2, &[i as f64, 1.0], Aggregates::ALL))
            .collect();
        assert_eq!(coarse, expected, "{backend:?}");
    }
}

#[tokio::test]
async fn purge_and_delete_remove_history() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        store
            .ngsild_append_history(&[
                reading("urn:a", "level", None, 100, Some(1.0)),
                reading("urn:a", "level", None, 200, Some(2.0)),
                reading("urn:a", "temp", Some("urn:ds"), 150, Some(3.0)),
                reading("urn:a", "temp", None, 300, Some(4.0)),
                reading("urn:b", "level", None, 120, Some(5.0)),
            ])
            .await
            .unwrap();
        assert_eq!(
            store.ngsild_purge_history(150).await.unwrap(),
            2,
            "{backend:?}"
        );
        let left = |store: &Store| {
            let store = store.clone();
            async move {
                store
                    .ngsild_history(&HistoryFilter::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.entity_id, r.observed_at))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            left(&store).await,
            [
                ("urn:a".to_string(), 200),
                ("urn:a".to_string(), 300),
                ("urn:a".to_string(), 150)
            ]
        );
        assert_eq!(
            store
                .ngsild_delete_history("urn:a", Some(&iri("temp")))
                .await
                .unwrap(),
            2,
            "{backend:?}: every dataset of the attribute"
        );
        assert_eq!(left(&store).await, [("urn:a".to_string(), 200)]);
        assert_eq!(store.ngsild_delete_history("urn:a", None).await.unwrap(), 1);
        assert!(left(&store).await.is_empty());
        // A deleted series comes back on the next write.
        store
            .ngsild_append_history(&[reading("urn:a", "temp", None, 500, Some(1.0))])
            .await
            .unwrap();
        assert_eq!(
            left(&store).await,
            [("urn:a".to_string(), 500)],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn the_change_log_follows_modifications_in_order() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        assert_eq!(store.ngsild_last_change_seq().await.unwrap(), 0);
        create(
            &store,
            vec![
                record("urn:1", &["T"], vec![num("a", 1.0)], None, 10),
                record("urn:2", &["T"], vec![], None, 20),
            ],
        )
        .await;
        store
            .ngsild_modify(&ids(&["urn:1", "urn:2", "urn:3"]), |id, current| {
                match (id, current) {
                    ("urn:1", Some(_)) => Ok((
                        Change::Put {
                            record: record(id, &["T"], vec![num("a", 2.0)], None, 30),
                            history: Vec::new(),
                            deletions: Vec::new(),
                            note: note(id, "update", &["a"], Some("after")),
                        },
                        (),
                    )),
                    ("urn:2", Some(_)) => Ok((
                        Change::Delete {
                            deletions: Vec::new(),
                            note: note(id, "delete", &[], None),
                        },
                        (),
                    )),
                    // A refused item and a kept one leave no trace.
                    ("urn:3", None) => Ok((Change::Keep, ())),
                    _ => Err(()),
                }
            })
            .await
            .unwrap();
        let log = store.ngsild_changes_after(0, 100).await.unwrap();
        let at = log[0].at;
        assert!(
            at > 1_600_000_000_000,
            "{backend:?}: written at wall-clock time"
        );
        let seq0 = log[0].seq;
        let expected = [
            (
                seq0,
                "urn:1",
                "create",
                vec![iri("a")],
                Some(r#"{"id":"urn:1","at":10}"#),
            ),
            (
                seq0 + 1,
                "urn:2",
                "create",
                vec![],
                Some(r#"{"id":"urn:2","at":20}"#),
            ),
            (seq0 + 2, "urn:1", "update", vec![iri("a")], Some("after")),
            (seq0 + 3, "urn:2", "delete", vec![], None),
        ];
        let expected: Vec<ChangeRow> = expected
            .into_iter()
            .map(|(seq, id, op, attrs, snapshot)| ChangeRow {
                seq,
                entity_id: id.into(),
                op: op.into(),
                attrs,
                snapshot: snapshot.map(str::to_string),
                previous: None,
                at: log.iter().find(|r| r.seq == seq).unwrap().at,
            })
            .collect();
        assert_eq!(log, expected, "{backend:?}");
        assert_eq!(
            store.ngsild_changes_after(seq0 + 1, 1).await.unwrap(),
            expected[2..3]
        );
        assert_eq!(store.ngsild_last_change_seq().await.unwrap(), seq0 + 3);
        assert_eq!(store.ngsild_purge_changes(seq0 + 1).await.unwrap(), 2);
        assert_eq!(
            store.ngsild_changes_after(0, 100).await.unwrap(),
            expected[2..]
        );
        // Purging everything does not reuse sequence numbers.
        store.ngsild_purge_changes(seq0 + 3).await.unwrap();
        create(&store, vec![record("urn:9", &["T"], vec![], None, 1)]).await;
        let next = store.ngsild_changes_after(0, 100).await.unwrap();
        assert_eq!(next.len(), 1);
        assert!(
            next[0].seq > seq0 + 3,
            "{backend:?}: {} reused",
            next[0].seq
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_of_one_id_are_serialised_not_lost() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let mut tasks = Vec::new();
        for n in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Every writer creates the shared entity and one of its own, pausing while it
                // decides so that the transactions overlap.
                let keys = ids(&["urn:shared", &format!("urn:own:{n}")]);
                store
                    .ngsild_modify(&keys, |id, current| {
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        match current {
                            Some(_) => Err(format!("{id} already exists")),
                            None => {
                                let r = record(id, &["T"], vec![num("n", n as f64)], None, n);
                                Ok((put(r, Vec::new(), "create"), ()))
                            }
                        }
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut shared_ok = 0;
        for t in tasks {
            let results = t.await.unwrap();
            assert!(results[1].is_ok(), "{backend:?}");
            shared_ok += usize::from(results[0].is_ok());
        }
        assert_eq!(shared_ok, 1, "{backend:?}: exactly one creation wins");
        let total = store
            .ngsild_query(&EntityFilter {
                count: true,
                limit: Some(0),
                ..Default::default()
            })
            .await
            .unwrap()
            .total;
        assert_eq!(total, Some(9));
    }
}

#[tokio::test]
async fn subscriptions_are_created_listed_updated_counted_and_deleted() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let s1 = store
            .ngsild_subscription_create(
                SubscriptionKind::Entity,
                "urn:sub:1",
                r#"{"q":"a>1"}"#,
                "active",
                Some(9_999),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            (
                s1.id.as_str(),
                s1.body.as_str(),
                s1.status.as_str(),
                s1.expires_at
            ),
            ("urn:sub:1", r#"{"q":"a>1"}"#, "active", Some(9_999))
        );
        assert_eq!(
            (
                s1.times_sent,
                s1.last_notification,
                s1.last_success,
                s1.last_failure
            ),
            (0, None, None, None)
        );
        assert_eq!(s1.created_at, s1.modified_at);
        let err = store
            .ngsild_subscription_create(
                SubscriptionKind::Entity,
                "urn:sub:1",
                "{}",
                "active",
                None,
                &[],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Domain(dothi_domain::DomainError::Conflict(_))
            ),
            "{backend:?}: {err:?}"
        );
        let s2 = store
            .ngsild_subscription_create(
                SubscriptionKind::Entity,
                "urn:sub:2",
                "{}",
                "paused",
                None,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .ngsild_subscription_get(SubscriptionKind::Entity, "urn:sub:1")
                .await
                .unwrap(),
            Some(s1.clone())
        );
        assert_eq!(
            store
                .ngsild_subscription_get(SubscriptionKind::Entity, "urn:sub:x")
                .await
                .unwrap(),
            None
        );

        let page = store
            .ngsild_subscription_list(SubscriptionKind::Entity, Some(1), 1, true)
            .await
            .unwrap();
        assert_eq!(
            (page.subscriptions, page.total),
            (vec![s2.clone()], Some(2))
        );
        let all = store
            .ngsild_subscription_list(SubscriptionKind::Entity, None, 0, false)
            .await
            .unwrap();
        assert_eq!(
            (all.subscriptions, all.total),
            (vec![s1.clone(), s2.clone()], None)
        );

        let updated = store
            .ngsild_subscription_update(
                SubscriptionKind::Entity,
                "urn:sub:1",
                r#"{"q":"a>2"}"#,
                "paused",
                None,
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                updated.body.as_str(),
                updated.status.as_str(),
                updated.expires_at
            ),
            (r#"{"q":"a>2"}"#, "paused", None)
        );
        assert_eq!(updated.created_at, s1.created_at);
        assert!(updated.modified_at >= s1.modified_at);
        assert_eq!(
            store
                .ngsild_subscription_update(
                    SubscriptionKind::Entity,
                    "urn:sub:x",
                    "{}",
                    "active",
                    None,
                    &[]
                )
                .await
                .unwrap(),
            None
        );

        assert!(store
            .ngsild_subscription_record_delivery(SubscriptionKind::Entity, "urn:sub:1", true, 100)
            .await
            .unwrap());
        assert!(store
            .ngsild_subscription_record_delivery(SubscriptionKind::Entity, "urn:sub:1", false, 200)
            .await
            .unwrap());
        assert!(!store
            .ngsild_subscription_record_delivery(SubscriptionKind::Entity, "urn:sub:x", true, 1)
            .await
            .unwrap());
        let s = store
            .ngsild_subscription_get(SubscriptionKind::Entity, "urn:sub:1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                s.times_sent,
                s.times_failed,
                s.last_notification,
                s.last_success,
                s.last_failure
            ),
            (2, 1, Some(200), Some(100), Some(200)),
            "{backend:?}"
        );

        store
            .ngsild_deliveries_enqueue(&[("urn:sub:1".into(), "p".into())], 0)
            .await
            .unwrap();
        assert!(store
            .ngsild_subscription_delete(SubscriptionKind::Entity, "urn:sub:1")
            .await
            .unwrap());
        assert!(!store
            .ngsild_subscription_delete(SubscriptionKind::Entity, "urn:sub:1")
            .await
            .unwrap());
        assert_eq!(
            store
                .ngsild_subscription_get(SubscriptionKind::Entity, "urn:sub:1")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.ngsild_deliveries_pending().await.unwrap(),
            0,
            "{backend:?}: its deliveries go with it"
        );
    }
}

#[tokio::test]
async fn deliveries_are_claimed_when_due_rescheduled_and_done() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let seqs = store
            .ngsild_deliveries_enqueue(
                &[
                    ("urn:sub:1".into(), "one".into()),
                    ("urn:sub:2".into(), "two".into()),
                    ("urn:sub:1".into(), "three".into()),
                ],
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(seqs.len(), 3);
        assert!(
            seqs[0] < seqs[1] && seqs[1] < seqs[2],
            "{backend:?}: {seqs:?}"
        );
        assert!(store
            .ngsild_deliveries_due(999, 10, 60_000)
            .await
            .unwrap()
            .is_empty());

        let claimed = store.ngsild_deliveries_due(1_000, 2, 60_000).await.unwrap();
        let payloads: Vec<(&str, &str, i64, i64)> = claimed
            .iter()
            .map(|d| {
                (
                    d.subscription_id.as_str(),
                    d.payload.as_str(),
                    d.attempts,
                    d.created_at,
                )
            })
            .collect();
        assert_eq!(
            payloads,
            [
                ("urn:sub:1", "one", 0, 1_000),
                ("urn:sub:2", "two", 0, 1_000)
            ],
            "{backend:?}"
        );
        // Claimed ones are leased: only the third is due now.
        let third = store
            .ngsild_deliveries_due(2_000, 10, 60_000)
            .await
            .unwrap();
        assert_eq!(third.iter().map(|d| d.seq).collect::<Vec<_>>(), [seqs[2]]);

        assert!(store.ngsild_delivery_done(seqs[0]).await.unwrap());
        assert!(!store.ngsild_delivery_done(seqs[0]).await.unwrap());
        assert!(store
            .ngsild_delivery_reschedule(seqs[1], 5_000, 1)
            .await
            .unwrap());
        assert!(!store
            .ngsild_delivery_reschedule(seqs[0], 5_000, 1)
            .await
            .unwrap());
        let retried = store
            .ngsild_deliveries_due(5_000, 10, 60_000)
            .await
            .unwrap();
        assert_eq!(
            retried
                .iter()
                .map(|d| (d.seq, d.attempts, d.next_attempt_at))
                .collect::<Vec<_>>(),
            [(seqs[1], 1, 5_000)],
            "{backend:?}"
        );
        // A lease that ran out (crashed worker): the third is due again.
        let again = store
            .ngsild_deliveries_due(62_000, 10, 60_000)
            .await
            .unwrap();
        assert_eq!(again.iter().map(|d| d.seq).collect::<Vec<_>>(), [seqs[2]]);
        assert_eq!(store.ngsild_deliveries_pending().await.unwrap(), 2);
        assert!(store
            .ngsild_deliveries_enqueue(&[], 0)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn cursors_remember_the_last_value_set() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        assert_eq!(store.ngsild_cursor_get("notifier").await.unwrap(), None);
        store.ngsild_cursor_set("notifier", 5).await.unwrap();
        store.ngsild_cursor_set("notifier", 42).await.unwrap();
        store.ngsild_cursor_set("rules", 7).await.unwrap();
        assert_eq!(
            store.ngsild_cursor_get("notifier").await.unwrap(),
            Some(42),
            "{backend:?}"
        );
        assert_eq!(store.ngsild_cursor_get("rules").await.unwrap(), Some(7));
    }
}

// --- Throughput of storage alone, without HTTP. Not tests: measurements, ignored by default.
// bench/issue4.sh runs perf_batch_upsert_throughput beside the HTTP figures (docs/BENCHMARKS.md);
// the others help when tuning queries and aggregation. Release build:
// cargo test --release -p dothi-store --test ngsild -- --ignored --nocapture ---

fn perf_backends() -> Vec<Backend> {
    match std::env::var("DOTHI_PERF_PG") {
        Ok(_) => BACKENDS.to_vec(),
        Err(_) => vec![Backend::Sqlite],
    }
}

/// The shape `bench/issue4.sh` sends: entities of 11 attributes (9 numbers, a status text and
/// a location), stored as the broker stores them (expanded names, system times), with their
/// history rows and change-log notes carrying the snapshot and the previous values.
const PERF_TYPES: [&str; 10] = [
    "AirQualityObserved",
    "WaterQualityObserved",
    "WeatherObserved",
    "Streetlight",
    "Device",
    "RiverGauge",
    "TrafficFlowObserved",
    "ParkingSpot",
    "NoiseLevelObserved",
    "WasteContainer",
];
const PERF_NUMBERS: [&str; 9] = [
    "aqi",
    "pm25",
    "pm10",
    "no2",
    "o3",
    "temperature",
    "humidity",
    "batteryLevel",
    "waterLevel",
];

/// A pseudo-random value in [0, 300), a function of its inputs.
fn perf_value(n: usize, a: usize, round: i64) -> f64 {
    let mut h = (n as u64) << 20 ^ (a as u64) << 8 ^ round as u64;
    h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    (h % 30_000) as f64 / 100.0
}

/// One batch of `ids` upserts (entity numbers `first..`) in round `round`.
async fn upsert_batch(store: &Store, first: usize, ids: &[String], round: i64, vary: usize) {
    // Attributes from `vary` on keep their first values.
    let value_round = |a: usize| if a < vary { round } else { 0 };
    let at = 1_700_000_000_000 + round * 60_000;
    let observed = format!("\"2026-11-25T08:{:02}:00+07:00\"", round % 60);
    let mut n = first;
    let results = store
        .ngsild_modify(ids, |id, current| {
            let created = current.map_or(at, |c| c.created_at);
            let ty = iri(PERF_TYPES[n % PERF_TYPES.len()]);
            let mut attrs: Vec<(String, String, Option<f64>, Option<String>)> = PERF_NUMBERS
                .iter()
                .enumerate()
                .map(|(a, name)| {
                    let v = perf_value(n, a, value_round(a));
                    let instance = format!(
                        r#"{{"kind":"Property","value":{v},"observed_at":{observed},"created_at":{created},"modified_at":{at}}}"#
                    );
                    (iri(name), instance, Some(v), None)
                })
                .collect();
            let status = ["ok", "warning", "fault"][(perf_value(n, 9, value_round(9)) as usize) % 3];
            attrs.push((
                "https://uri.etsi.org/ngsi-ld/status".into(),
                format!(
                    r#"{{"kind":"Property","value":"{status}","observed_at":{observed},"created_at":{created},"modified_at":{at}}}"#
                ),
                None,
                Some(status.to_string()),
            ));
            let (lon, lat) = (
                107.45 + perf_value(n, 10, round) / 1200.0,
                16.35 + perf_value(n, 11, round) / 1200.0,
            );
            attrs.push((
                "https://uri.etsi.org/ngsi-ld/location".into(),
                format!(
                    r#"{{"kind":"GeoProperty","value":{{"coordinates":[{lon},{lat}],"type":"Point"}},"created_at":{created},"modified_at":{at}}}"#
                ),
                None,
                None,
            ));
            attrs.sort_by(|a, b| a.0.cmp(&b.0));
            let members: Vec<String> = attrs
                .iter()
                .map(|(name, instance, _, _)| format!(r#""{name}":[{instance}]"#))
                .collect();
            let body = format!(
                r#"{{"id":"{id}","types":["{ty}"],"created_at":{created},"modified_at":{at},"attributes":{{{}}}}}"#,
                members.join(",")
            );
            let previous = current.map(|c| {
                let start = c.body.find(r#""attributes":"#).map_or(0, |i| i + 13);
                c.body[start..c.body.len() - 1].to_string()
            });
            let index = attrs
                .iter()
                .map(|(name, _, num, text)| IndexEntry {
                    attr: name.clone(),
                    num: *num,
                    text: text.clone(),
                })
                .collect();
            let history = attrs
                .iter()
                .map(|(name, instance, num, _)| HistoryEntry {
                    entity_id: id.into(),
                    attr: name.clone(),
                    dataset_id: None,
                    observed_at: at,
                    num: *num,
                    instance: instance.clone(),
                })
                .collect();
            n += 1;
            let note = ChangeNote {
                entity_id: id.into(),
                op: if current.is_some() { "update" } else { "create" }.into(),
                attrs: attrs.iter().map(|a| a.0.clone()).collect(),
                snapshot: Some(body.clone()),
                previous,
            };
            let record = EntityRecord {
                id: id.into(),
                types: vec![ty],
                body,
                created_at: created,
                modified_at: at,
                index,
                bbox: Some([lon, lat, lon, lat]),
                expires_at: None,
            };
            Ok::<_, ()>((
                Change::Put {
                    record,
                    history,
                    deletions: Vec::new(),
                    note,
                },
                (),
            ))
        })
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
}

/// CPU seconds of this process and bytes it passed to `write`/`pwrite` (Linux; zeros
/// elsewhere): steadier than wall time on a shared machine.
fn perf_usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime, fields 14 and 15 of the line (11 and 12 after the command).
    let cpu = (ticks(11) + ticks(12)) as f64 / 100.0;
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let written = io
        .lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (cpu, written)
}

/// `PERF_ENTITIES` entities (default 100,000) written in batches of 1,000: a creating round,
/// then `PERF_ROUNDS` (default 1) updating rounds, timed.
#[tokio::test]
#[ignore]
async fn perf_batch_upsert_throughput() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (entities, rounds) = (env("PERF_ENTITIES", 100_000), env("PERF_ROUNDS", 1));
    // How many of the 10 values (9 numbers, then the status) change in an update.
    let vary = env("PERF_VARY", 10);
    let keys: Vec<String> = (0..entities)
        .map(|n| format!("urn:ngsi-ld:{}:bench-{n}", PERF_TYPES[n % PERF_TYPES.len()]))
        .collect();
    for backend in perf_backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let mut secs = Vec::new();
        let mut usage = (0.0, 0);
        for round in 0..=rounds as i64 {
            if round == 1 {
                usage = perf_usage();
            }
            let start = std::time::Instant::now();
            for (b, chunk) in keys.chunks(1_000).enumerate() {
                upsert_batch(&store, b * 1_000, chunk, round, vary).await;
            }
            secs.push(start.elapsed().as_secs_f64());
        }
        let (cpu, written) = perf_usage();
        let updates = (entities * 11 * rounds) as f64;
        let timed: f64 = secs[1..].iter().sum();
        println!(
            "{backend:?}: created {entities} entities in {:.2} s; {updates} attribute updates in \
             {timed:.2} s ({:.2} CPU s, {} MB written) = {:.0}/s",
            secs[0],
            cpu - usage.0,
            (written - usage.1) / 1_000_000,
            updates / timed
        );
    }
}

#[tokio::test]
#[ignore]
async fn perf_aggregate_a_million_instances() {
    for backend in perf_backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let base = 1_700_000_000_000i64;
        for chunk in 0..100i64 {
            let entries: Vec<HistoryEntry> = (0..10_000i64)
                .map(|i| {
                    let n = chunk * 10_000 + i;
                    HistoryEntry {
                        entity_id: "urn:ngsi-ld:WaterLevelObserved:kim-long".into(),
                        attr: iri("waterLevel"),
                        dataset_id: None,
                        observed_at: base + n * 60_000,
                        num: Some((n % 1000) as f64 / 100.0),
                        instance: format!(r#"{{"type":"Property","value":{}}}"#, n % 1000),
                    }
                })
                .collect();
            store.ngsild_append_history(&entries).await.unwrap();
        }
        for (label, want, period) in [
            ("all aggregates, hourly", Aggregates::ALL, 3_600_000),
            ("all aggregates, daily", Aggregates::ALL, 86_400_000),
            (
                "avg+min+max, hourly",
                Aggregates {
                    sum: true,
                    min: true,
                    max: true,
                    sumsq: false,
                },
                3_600_000,
            ),
        ] {
            let filter = AggregateFilter {
                entity_ids: ids(&["urn:ngsi-ld:WaterLevelObserved:kim-long"]),
                attrs: vec![],
                from: None,
                to: None,
                origin: base,
                period_ms: period,
                want,
            };
            store.ngsild_aggregate(&filter).await.unwrap(); // warm the cache
            let start = std::time::Instant::now();
            let buckets = store.ngsild_aggregate(&filter).await.unwrap();
            let total: u64 = buckets.iter().map(|b| b.count).sum();
            println!(
                "{backend:?}: {label}: {} buckets over {total} instances in {:?}",
                buckets.len(),
                start.elapsed()
            );
        }
    }
}

#[tokio::test]
#[ignore]
async fn perf_query_by_type_and_prefilter_over_100k_entities() {
    for backend in perf_backends() {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let types = [
            "AirQualityObserved",
            "WaterLevelObserved",
            "Streetlight",
            "Device",
        ];
        for chunk in 0..50 {
            let keys: Vec<String> = (0..2_000)
                .map(|i| format!("urn:e:{}", chunk * 2_000 + i))
                .collect();
            store
                .ngsild_modify(&keys, |id, _| {
                    let n: i64 = id[6..].parse().unwrap();
                    let t = types[(n % 4) as usize];
                    let index = (0..10)
                        .map(|a| {
                            IndexEntry::num(&iri(&format!("m{a}")), ((n * 31 + a) % 500) as f64)
                        })
                        .chain([IndexEntry::text(
                            &iri("status"),
                            if n % 10 == 0 { "off" } else { "on" },
                        )])
                        .collect();
                    let r = record(id, &[t], index, Some([107.5, 16.4, 107.5, 16.4]), n);
                    Ok::<_, ()>((put(r, vec![], "create"), ()))
                })
                .await
                .unwrap();
        }
        store.ngsild_analyze().await.unwrap();
        let filters = [
            (
                "type",
                EntityFilter {
                    types: vec![vec![iri("AirQualityObserved")]],
                    limit: Some(20),
                    count: true,
                    ..Default::default()
                },
            ),
            (
                "type + m3>450",
                EntityFilter {
                    types: vec![vec![iri("AirQualityObserved")]],
                    prefilter: Prefilter::Num {
                        attr: iri("m3"),
                        op: Cmp::Gt,
                        value: 450.0,
                    },
                    limit: Some(20),
                    count: true,
                    ..Default::default()
                },
            ),
            (
                "type + status==off + m1<100",
                EntityFilter {
                    types: vec![vec![iri("Streetlight")]],
                    prefilter: Prefilter::And(vec![
                        Prefilter::Text {
                            attr: iri("status"),
                            op: Cmp::Eq,
                            value: "off".into(),
                        },
                        Prefilter::Num {
                            attr: iri("m1"),
                            op: Cmp::Lt,
                            value: 100.0,
                        },
                    ]),
                    limit: Some(20),
                    count: true,
                    ..Default::default()
                },
            ),
            (
                "type, offset 20000",
                EntityFilter {
                    types: vec![vec![iri("Device")]],
                    limit: Some(20),
                    offset: 20_000,
                    ..Default::default()
                },
            ),
        ];
        for (label, filter) in filters {
            store.ngsild_query(&filter).await.unwrap();
            let mut times = Vec::new();
            let mut page = None;
            for _ in 0..20 {
                let start = std::time::Instant::now();
                page = Some(store.ngsild_query(&filter).await.unwrap());
                times.push(start.elapsed());
            }
            times.sort();
            let page = page.unwrap();
            println!(
                "{backend:?}: {label}: {} entities (total {:?}), median {:?}, p95 {:?}",
                page.entities.len(),
                page.total,
                times[10],
                times[18]
            );
        }
    }
}
