//! The IOC's figures come from the `kpi_daily` rollup; they must equal the same figures
//! computed straight from the reports table, whatever happened to the reports (intake through
//! group commit and with photos, assignment, transfer, resolution on time and late, ratings,
//! reopening, rejection, auto-close by the sweeper, historic bulk loading), on both backends.

use std::collections::{BTreeMap, HashMap};

use dothi_domain::{Actor, Channel, Priority, Rating, RejectReason, Role, Status};
use dothi_store::historic::HistoricReport;
use dothi_store::kpi::KpiFilter;
use dothi_store::reports::{Command, NewPhoto, NewReport, Reporter};
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::time::now_ms;
use dothi_store::{Backend, Store};
use sqlx::Row;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const VN: i64 = 7 * HOUR;

/// A small deterministic generator (xorshift), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn ioc() -> Actor {
    Actor::user(900_001, Role::IocOperator, None, "ioc-test")
}

/// Local midnight (+07:00) at the start of the day containing `ms`.
fn local_midnight(ms: i64) -> i64 {
    (ms + VN).div_euclid(DAY) * DAY - VN
}

/// Categories a report can be filed in without answering attribute questions.
fn plain_categories(store: &Store) -> Vec<String> {
    store
        .reference()
        .categories
        .iter()
        .filter(|c| c.active && !c.attributes.iter().any(|a| a.required))
        .map(|c| c.code.clone())
        .collect()
}

fn other_agency(store: &Store, rng: &mut Rng, current: Option<i64>) -> String {
    let reference = store.reference();
    let agencies: Vec<_> = reference
        .agencies
        .iter()
        .filter(|a| a.active && Some(a.id) != current)
        .collect();
    rng.pick(&agencies).code.clone()
}

async fn run(store: &Store, id: i64, command: Command) {
    store
        .apply(&ioc(), id, command)
        .await
        .unwrap_or_else(|e| panic!("report {id}: {e}"));
}

async fn resolve(store: &Store, id: i64) {
    run(
        store,
        id,
        Command::Resolve {
            note: "Đã xử lý".into(),
            photos: vec![],
        },
    )
    .await;
}

async fn rate(store: &Store, id: i64, rating: Rating, reopen: bool) {
    run(
        store,
        id,
        Command::Rate {
            rating,
            comment: None,
            reopen,
        },
    )
    .await;
}

async fn make_late(store: &Store, id: i64) {
    // The deadline is not part of the rollup; moving it lets a resolution be late.
    sqlx::query("UPDATE reports SET deadline_at = $1 WHERE id = $2")
        .bind(now_ms() - 3 * DAY)
        .bind(id)
        .execute(&store.db.pool)
        .await
        .unwrap();
}

/// Reports taken in now, through the group-commit writer (concurrently) and, with photos,
/// through the single-report transaction.
async fn intake(store: &Store, rng: &mut Rng, n: usize) -> Vec<i64> {
    let categories = plain_categories(store);
    let units: Vec<_> = store
        .reference()
        .admin_units
        .iter()
        .filter(|u| u.lat.is_some())
        .cloned()
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let unit = rng.pick(&units).clone();
        let (lat, lon, address, commune_code) = match i % 4 {
            0 => (unit.lat, unit.lon, None, None),
            1 => (None, None, Some("Không rõ địa chỉ".to_string()), None),
            2 => (None, None, Some("Gần chợ".to_string()), Some(unit.code)),
            _ => (unit.lat, unit.lon, None, Some(unit.code)),
        };
        let new = NewReport {
            category_code: rng.pick(&categories).clone(),
            description: format!("Phản ánh số {i}"),
            lat,
            lon,
            address,
            commune_code,
            priority: if i % 5 == 0 {
                Priority::Urgent
            } else {
                Priority::Normal
            },
            channel: *rng.pick(Channel::ALL),
            attributes: BTreeMap::new(),
            reporter: Reporter::default(),
            anonymous: false,
            photos: if i % 9 == 0 {
                vec![NewPhoto {
                    content_type: "image/jpeg".into(),
                    width: 1,
                    height: 1,
                    bytes: vec![0xff, 0xd8, 0xff, 0xd9],
                    thumbnail: vec![0xff, 0xd8, 0xff, 0xd9],
                }]
            } else {
                vec![]
            },
            api_key_id: None,
        };
        let store = store.clone();
        tasks.spawn(async move {
            store
                .submit_report(&Actor::api_client("t"), new)
                .await
                .unwrap()
                .0
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        ids.push(id.unwrap());
    }
    ids.sort_unstable();
    ids
}

/// Walk each report through one of a dozen life cycles.
async fn workflows(store: &Store, rng: &mut Rng, ids: &[i64]) {
    for (i, &id) in ids.iter().enumerate() {
        let report = store.report(&ioc(), id).await.unwrap();
        let status = report.status;
        if matches!(status, Status::Received) {
            let agency = other_agency(store, rng, None);
            run(
                store,
                id,
                Command::Assign {
                    agency_code: agency,
                    note: None,
                },
            )
            .await;
        } else if !matches!(
            status,
            Status::Assigned | Status::InProgress | Status::Transferred | Status::Reopened
        ) {
            continue;
        }
        let agency = store.report(&ioc(), id).await.unwrap().agency_id;
        match i % 12 {
            0 => {}
            1 => run(store, id, Command::Accept { note: None }).await,
            2 => {
                let target = other_agency(store, rng, agency);
                run(
                    store,
                    id,
                    Command::Transfer {
                        agency_code: target,
                        reason: "Không thuộc thẩm quyền".into(),
                    },
                )
                .await;
            }
            3 => resolve(store, id).await,
            4 => {
                make_late(store, id).await;
                resolve(store, id).await;
            }
            5 => {
                resolve(store, id).await;
                rate(store, id, Rating::Satisfied, false).await;
            }
            6 => {
                resolve(store, id).await;
                rate(store, id, Rating::Acceptable, false).await;
            }
            7 => {
                resolve(store, id).await;
                rate(store, id, Rating::Unsatisfied, true).await;
                make_late(store, id).await;
                resolve(store, id).await;
                rate(store, id, Rating::Satisfied, false).await;
            }
            8 => {
                resolve(store, id).await;
                rate(store, id, Rating::Unsatisfied, false).await;
                run(
                    store,
                    id,
                    Command::Reopen {
                        reason: "Vẫn chưa sửa".into(),
                    },
                )
                .await;
                let target = other_agency(store, rng, agency);
                run(
                    store,
                    id,
                    Command::Transfer {
                        agency_code: target,
                        reason: "Chuyển đơn vị khác".into(),
                    },
                )
                .await;
            }
            9 => {
                run(
                    store,
                    id,
                    Command::Reject {
                        reason: RejectReason::OutOfScope,
                        note: None,
                        duplicate_of: None,
                    },
                )
                .await;
            }
            10 => resolve(store, id).await, // closed later by the sweeper
            _ => {
                let target = other_agency(store, rng, agency);
                run(
                    store,
                    id,
                    Command::Transfer {
                        agency_code: target,
                        reason: "Chuyển".into(),
                    },
                )
                .await;
                make_late(store, id).await;
                resolve(store, id).await;
                run(store, id, Command::Close { note: None }).await;
            }
        }
    }
}

/// Months of history loaded in bulk, in every state, with their figures already set.
async fn historic(store: &Store, rng: &mut Rng, n: usize) -> Vec<i64> {
    let reference = store.reference();
    let calendar = reference.calendar.clone();
    let units: Vec<_> = reference.admin_units.iter().collect();
    let now = now_ms();
    let mut batch = Vec::new();
    for i in 0..n {
        let category = rng.pick(&reference.categories);
        let commune = (i % 7 != 0).then(|| rng.pick(&units).code.clone());
        let agency = reference.route(category, commune.as_deref());
        // Spread over 60 days, at any time of day (so that edge days hold reports).
        let created_at = now - (rng.next() % (60 * DAY as u64)) as i64;
        let deadline_at = created_at + (1 + rng.below(10) as i64) * DAY;
        let status = if agency.is_none() {
            Status::Received
        } else {
            *rng.pick(&[
                Status::Assigned,
                Status::InProgress,
                Status::Resolved,
                Status::Resolved,
                Status::Closed,
                Status::Closed,
                Status::Rejected,
            ])
        };
        let resolved_at = matches!(status, Status::Resolved | Status::Closed)
            .then(|| (created_at + (rng.next() % (12 * DAY as u64)) as i64).min(now));
        let rating = (status == Status::Closed)
            .then(|| *rng.pick(&[Rating::Satisfied, Rating::Acceptable, Rating::Unsatisfied]));
        batch.push(HistoricReport {
            category_id: category.id,
            status,
            priority: Priority::Normal,
            channel: *rng.pick(Channel::ALL),
            description: format!("Lịch sử {i}"),
            address: None,
            lat: 16.46,
            lon: 107.59,
            commune_code: commune,
            agency_id: agency,
            reporter_user_id: None,
            reporter_name: None,
            reporter_phone: None,
            search_text: format!("lich su {i}"),
            status_notes: None,
            created_at,
            updated_at: resolved_at.unwrap_or(created_at),
            deadline_at,
            resolved_at,
            closed_at: (status == Status::Closed).then(|| resolved_at.unwrap_or(created_at)),
            overdue: false,
            resolved_on_time: resolved_at.map(|r| r <= deadline_at),
            handling_days: resolved_at.map(|r| {
                calendar.working_days_between(
                    dothi_store::time::from_ms(created_at),
                    dothi_store::time::from_ms(r),
                )
            }),
            rating,
            events: vec![],
        });
        if batch.len() == 40 {
            store.insert_historic(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.insert_historic(&batch).await.unwrap();
    let rows = sqlx::query("SELECT id FROM reports WHERE description LIKE 'Lịch sử %' ORDER BY id")
        .fetch_all(&store.db.pool)
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Change some of the historic reports too: their contributions sit on past days.
async fn historic_changes(store: &Store, rng: &mut Rng, ids: &[i64]) {
    for (i, &id) in ids.iter().enumerate() {
        let report = store.report(&ioc(), id).await.unwrap();
        match (report.status, i % 3) {
            (Status::Received, _) => {
                let agency = other_agency(store, rng, None);
                run(
                    store,
                    id,
                    Command::Assign {
                        agency_code: agency,
                        note: None,
                    },
                )
                .await;
            }
            (Status::Assigned | Status::InProgress, 0) => {
                let target = other_agency(store, rng, report.agency_id);
                run(
                    store,
                    id,
                    Command::Transfer {
                        agency_code: target,
                        reason: "Chuyển".into(),
                    },
                )
                .await;
            }
            (Status::Assigned | Status::InProgress, 1) => resolve(store, id).await,
            (Status::Resolved, 0) => rate(store, id, Rating::Unsatisfied, true).await,
            (Status::Resolved, 1) => rate(store, id, Rating::Acceptable, false).await,
            (Status::Closed, 0) => {
                run(
                    store,
                    id,
                    Command::Reopen {
                        reason: "Tái diễn".into(),
                    },
                )
                .await;
                resolve(store, id).await;
            }
            _ => {}
        }
    }
}

/// The periods compared: whole and partial days, inside one day, across one midnight, empty.
fn periods(now: i64) -> Vec<(i64, i64)> {
    let today = local_midnight(now);
    vec![
        (now - 90 * DAY - 3 * HOUR - 17 * 60_000, now + DAY),
        (today - 40 * DAY, today + DAY),
        (today - 10 * DAY, today),
        (today - 20 * DAY + 5 * HOUR + 1, today - 2 * DAY - 3 * HOUR),
        (today - 7 * DAY - 1, today - 6 * DAY + 1),
        (today - 3 * DAY + 2 * HOUR, today - 3 * DAY + 9 * HOUR),
        (today - 5 * DAY - 4 * HOUR, today - 5 * DAY + 4 * HOUR),
        (now - 30 * DAY, now),
        (now - 2 * HOUR, now + HOUR),
        (1_577_836_800_000, 1_580_515_200_000),
        (-5 * DAY, 2 * DAY),
    ]
}

fn filters(store: &Store, from: i64, to: i64, busiest: &Busiest) -> Vec<KpiFilter> {
    let base = KpiFilter {
        from,
        to,
        ..Default::default()
    };
    let category = store
        .reference()
        .categories
        .iter()
        .find(|c| c.id == busiest.category)
        .map(|c| c.id);
    vec![
        base.clone(),
        KpiFilter {
            agency_id: Some(busiest.agency),
            ..base.clone()
        },
        KpiFilter {
            commune_code: Some(busiest.commune.clone()),
            ..base.clone()
        },
        KpiFilter {
            category_id: category,
            ..base.clone()
        },
        KpiFilter {
            channel: Some(Channel::App),
            ..base.clone()
        },
        KpiFilter {
            agency_id: Some(busiest.agency),
            category_id: category,
            ..base.clone()
        },
        KpiFilter {
            commune_code: Some(busiest.commune.clone()),
            channel: Some(Channel::Hotline),
            ..base.clone()
        },
        KpiFilter {
            commune_code: Some("no-such-commune".into()),
            ..base
        },
    ]
}

struct Busiest {
    agency: i64,
    commune: String,
    category: i64,
}

async fn busiest(store: &Store) -> Busiest {
    let one = |sql: &'static str| async move {
        sqlx::query(sql).fetch_one(&store.db.pool).await.unwrap()
    };
    let agency = one("SELECT agency_id FROM reports WHERE agency_id IS NOT NULL GROUP BY agency_id ORDER BY COUNT(*) DESC, agency_id LIMIT 1").await;
    let commune = one("SELECT commune_code FROM reports WHERE commune_code IS NOT NULL GROUP BY commune_code ORDER BY COUNT(*) DESC, commune_code LIMIT 1").await;
    let category = one("SELECT category_id FROM reports GROUP BY category_id ORDER BY COUNT(*) DESC, category_id LIMIT 1").await;
    Busiest {
        agency: agency.get(0),
        commune: commune.get(0),
        category: category.get(0),
    }
}

/// Every figure from the rollup equals the same figure from the reports table.
async fn assert_figures_match(store: &Store, backend: Backend) {
    let now = now_ms();
    let busiest = busiest(store).await;
    let mut compared = 0;
    for (from, to) in periods(now) {
        for filter in filters(store, from, to, &busiest) {
            let what = format!("{backend:?} {filter:?}");
            let kpis = store.kpis(&ioc(), &filter).await.unwrap();
            assert_eq!(
                kpis,
                store.kpis_direct(&ioc(), &filter).await.unwrap(),
                "kpis {what}"
            );
            assert_eq!(
                store.trend(&ioc(), &filter).await.unwrap(),
                store.trend_direct(&ioc(), &filter).await.unwrap(),
                "trend {what}"
            );
            assert_eq!(
                store.agency_ranking(&ioc(), &filter).await.unwrap(),
                store.agency_ranking_direct(&ioc(), &filter).await.unwrap(),
                "ranking {what}"
            );
            compared += kpis.received;
        }
        // Agency staff see their own agency's figures.
        let staff = Actor::user(900_002, Role::AgencyStaff, Some(busiest.agency), "staff");
        let filter = KpiFilter {
            from,
            to,
            ..Default::default()
        };
        assert_eq!(
            store.kpis(&staff, &filter).await.unwrap(),
            store.kpis_direct(&staff, &filter).await.unwrap()
        );
        assert_eq!(
            store.trend(&staff, &filter).await.unwrap(),
            store.trend_direct(&staff, &filter).await.unwrap()
        );
    }
    assert!(
        compared > 1000,
        "{backend:?}: the periods must hold reports"
    );
}

/// One `kpi_daily` row: the key and the eight counters.
type RollupRows = BTreeMap<(i64, i64, String, i64, String), [i64; 8]>;

async fn rollup_rows(store: &Store) -> RollupRows {
    sqlx::query(
        "SELECT day, agency_id, commune_code, category_id, channel, received, handled, handled_on_time, \
         handling_count, handling_ms, rated, satisfied, acceptable FROM kpi_daily",
    )
    .fetch_all(&store.db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let counters: [i64; 8] = std::array::from_fn(|i| r.get(5 + i));
        assert!(counters.iter().all(|c| *c >= 0), "negative counter {counters:?}");
        assert!(
            counters[0] > 0 || counters.iter().all(|c| *c == 0),
            "counts without reports {counters:?}"
        );
        ((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)), counters)
    })
    .filter(|(_, c)| c[0] > 0)
    .collect()
}

/// The rollup computed in Rust from the report rows, independently of the store's code.
async fn expected_rollup(store: &Store) -> RollupRows {
    let rows = sqlx::query(
        "SELECT created_at, agency_id, commune_code, category_id, channel, resolved_at, resolved_on_time, \
         handling_days, rating FROM reports",
    )
    .fetch_all(&store.db.pool)
    .await
    .unwrap();
    let mut out: RollupRows = BTreeMap::new();
    for r in rows {
        let created_at: i64 = r.get(0);
        let key = (
            (created_at + VN) / DAY,
            r.get::<Option<i64>, _>(1).unwrap_or(0),
            r.get::<Option<String>, _>(2).unwrap_or_default(),
            r.get(3),
            r.get(4),
        );
        let handling: Option<f64> = r.get(7);
        let rating: Option<String> = r.get(8);
        let add = [
            1,
            r.get::<Option<i64>, _>(5).is_some() as i64,
            (r.get::<Option<i64>, _>(6) == Some(1)) as i64,
            handling.is_some() as i64,
            handling
                .map(|h| (h * DAY as f64).round() as i64)
                .unwrap_or(0),
            rating.is_some() as i64,
            (rating.as_deref() == Some("satisfied")) as i64,
            (rating.as_deref() == Some("acceptable")) as i64,
        ];
        let entry = out.entry(key).or_default();
        for (e, a) in entry.iter_mut().zip(add) {
            *e += a;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollup_figures_equal_the_reports_table_through_every_workflow() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let mut rng = Rng(0x5eed_1234_abcd_0001);

        let historic_ids = historic(&store, &mut rng, 160).await;
        let ids = intake(&store, &mut rng, 240).await;
        assert_eq!(store.count_reports().await.unwrap(), 400);
        assert_eq!(rollup_rows(&store).await, expected_rollup(&store).await);

        workflows(&store, &mut rng, &ids).await;
        historic_changes(&store, &mut rng, &historic_ids).await;
        assert_eq!(
            rollup_rows(&store).await,
            expected_rollup(&store).await,
            "{backend:?} after the workflows"
        );
        assert_figures_match(&store, backend).await;

        // The sweeper marks overdue reports and closes resolved ones nobody rated.
        let (_, closed) = store.sweep(now_ms() + 8 * DAY).await.unwrap();
        assert!(closed > 20, "{backend:?}: {closed} auto-closed");
        assert_eq!(
            rollup_rows(&store).await,
            expected_rollup(&store).await,
            "{backend:?} after the sweep"
        );
        assert_figures_match(&store, backend).await;
    }
}

/// The migration's backfill (for databases that had reports before the rollup existed)
/// builds the same table as the maintenance in the write paths.
#[tokio::test]
async fn migration_backfill_equals_the_maintained_rollup() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let mut rng = Rng(0xfeed_0000_1111_2222);
        let historic_ids = historic(&store, &mut rng, 120).await;
        let ids = intake(&store, &mut rng, 60).await;
        workflows(&store, &mut rng, &ids).await;
        historic_changes(&store, &mut rng, &historic_ids).await;
        let maintained = rollup_rows(&store).await;

        let migration = match backend {
            Backend::Sqlite => include_str!("../migrations/sqlite/0003_kpi_rollup.sql"),
            Backend::Postgres => include_str!("../migrations/postgres/0003_kpi_rollup.sql"),
        };
        let start = migration.find("INSERT INTO kpi_daily").expect("backfill");
        let end = start + migration[start..].find(';').expect("end of backfill");
        sqlx::query("DELETE FROM kpi_daily")
            .execute(&store.db.pool)
            .await
            .unwrap();
        sqlx::query(&migration[start..end])
            .execute(&store.db.pool)
            .await
            .unwrap();
        assert_eq!(rollup_rows(&store).await, maintained, "{backend:?}");
        assert_figures_match(&store, backend).await;
    }
}

#[tokio::test]
async fn overdue_now_ignores_the_period_and_follows_the_filters() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let mut rng = Rng(0xabad_cafe_0000_0042);
        let ids = intake(&store, &mut rng, 24).await;
        for id in &ids[..10] {
            make_late(&store, *id).await;
        }
        let reports: HashMap<i64, Option<i64>> = {
            let mut m = HashMap::new();
            for id in &ids[..10] {
                m.insert(*id, store.report(&ioc(), *id).await.unwrap().agency_id);
            }
            m
        };
        let now = now_ms();
        let old = KpiFilter {
            from: 1_577_836_800_000,
            to: 1_580_515_200_000,
            ..Default::default()
        };
        let k = store.kpis(&ioc(), &old).await.unwrap();
        assert_eq!((k.received, k.overdue_now), (0, 10), "{backend:?}");
        let agency = reports.values().flatten().next().copied().unwrap();
        let filter = KpiFilter {
            agency_id: Some(agency),
            ..old.clone()
        };
        let expected = reports.values().filter(|a| **a == Some(agency)).count() as i64;
        assert_eq!(
            store.kpis(&ioc(), &filter).await.unwrap().overdue_now,
            expected
        );
        let filter = KpiFilter {
            from: now - DAY,
            to: now + DAY,
            ..Default::default()
        };
        assert_eq!(
            store.agency_ranking(&ioc(), &filter).await.unwrap(),
            store.agency_ranking_direct(&ioc(), &filter).await.unwrap()
        );
    }
}
