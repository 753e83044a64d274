//! The datasets the platform publishes (issue 5, item 4), generated from a small seeded fixture
//! on both backends and compared as whole files: the statistics against direct counting of the
//! seeded reports, the anonymised list against the coarsened fixture (with no trace of the
//! personal data seeded in it), and the sensor aggregates against hand-computed values.

use std::collections::{BTreeMap, HashMap};

use dothi_domain::{Actor, Channel, Priority, Rating, Role, Status};
use dothi_opendata::{Options, PublishedDataset};
use dothi_store::historic::HistoricReport;
use dothi_store::ngsild::{Change, ChangeNote, EntityRecord, HistoryEntry, IndexEntry};
use dothi_store::opendata::generate_all;
use dothi_store::reports::{Command, NewReport, Reporter};
use dothi_store::testing::{TestDb, BACKENDS};
use dothi_store::Store;
use serde_json::json;
use sqlx::Row;

fn ms(local: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!("{local}+07:00"))
        .unwrap_or_else(|e| panic!("{local}: {e}"))
        .timestamp_millis()
}

/// When the fixture is published.
fn now() -> i64 {
    ms("2026-03-10T08:00:00")
}

fn ioc() -> Actor {
    Actor::user(900_001, Role::IocOperator, None, "ioc-test")
}

fn file<'a>(datasets: &'a [PublishedDataset], dataset: &str, name: &str) -> &'a str {
    let d = datasets.iter().find(|d| d.name == dataset).unwrap();
    std::str::from_utf8(&d.resource(name).unwrap().bytes).unwrap()
}

/// One seeded report; what is not given is not set.
struct Seed {
    created: &'static str,
    category: &'static str,
    commune: Option<&'static str>,
    agency: Option<&'static str>,
    status: Status,
    priority: Priority,
    channel: Channel,
    at: Option<(f64, f64)>,
    deadline: &'static str,
    resolved: Option<(&'static str, bool, f64)>,
    rating: Option<Rating>,
    description: &'static str,
    address: Option<&'static str>,
    reporter: Option<(&'static str, &'static str)>,
    notes: Option<&'static str>,
}

fn seeds() -> Vec<Seed> {
    let base = |created, status| Seed {
        created,
        category: "CSCC",
        commune: Some("19786"),
        agency: Some("HEPCO"),
        status,
        priority: Priority::Normal,
        channel: Channel::App,
        at: None,
        deadline: "2026-12-31T00:00:00",
        resolved: None,
        rating: None,
        description: "Đèn đường không sáng",
        address: None,
        reporter: None,
        notes: None,
    };
    vec![
        // A year earlier: in the statistics, before the list's window.
        Seed {
            deadline: "2025-02-06T09:00:00",
            resolved: Some(("2025-02-03T09:00:00", true, 2.0)),
            rating: Some(Rating::Satisfied),
            at: Some((16.4627, 107.5853)),
            ..base("2025-02-01T09:00:00", Status::Closed)
        },
        Seed {
            deadline: "2026-01-12T09:00:00",
            resolved: Some(("2026-01-07T10:00:00", true, 2.04)),
            rating: Some(Rating::Satisfied),
            at: Some((16.4627, 107.5853)),
            description: "Đèn đường trước nhà chị Trần Thị Bình không sáng",
            reporter: Some(("Trần Thị Bình", "0914000111")),
            ..base("2026-01-05T09:00:00", Status::Closed)
        },
        // The last evening of January and the first night of February (local time; both are
        // 31 January in UTC).
        Seed {
            channel: Channel::Hotline,
            deadline: "2026-02-03T23:30:00",
            resolved: Some(("2026-02-06T09:00:00", false, 4.4)),
            at: Some((16.4712, 107.5912)),
            ..base("2026-01-31T23:30:00", Status::Resolved)
        },
        Seed {
            priority: Priority::Urgent,
            channel: Channel::Zalo,
            deadline: "2026-02-06T00:30:00",
            resolved: Some(("2026-02-03T15:00:00", true, 1.6)),
            rating: Some(Rating::Unsatisfied),
            at: Some((16.459, 107.579)),
            ..base("2026-02-01T00:30:00", Status::Closed)
        },
        // Open and overdue at the refresh.
        Seed {
            category: "TTDT",
            commune: Some("19900"),
            agency: Some("UBND-19900"),
            channel: Channel::Web,
            deadline: "2026-02-20T14:00:00",
            at: Some((16.5561, 107.6383)),
            ..base("2026-02-10T14:00:00", Status::InProgress)
        },
        // Transferred to SXD below (the deadline restarts).
        Seed {
            category: "TTDT",
            commune: Some("19900"),
            agency: Some("UBND-19900"),
            deadline: "2026-03-20T08:00:00",
            at: Some((16.5555, 107.639)),
            ..base("2026-02-11T08:00:00", Status::Assigned)
        },
        // No place, no agency, overdue.
        Seed {
            commune: None,
            agency: None,
            channel: Channel::Email,
            deadline: "2026-03-09T10:00:00",
            ..base("2026-03-02T10:00:00", Status::Received)
        },
        // Personal data everywhere a citizen or an operator could write it.
        Seed {
            channel: Channel::Facebook,
            deadline: "2026-03-12T16:45:00",
            at: Some((16.46312, 107.58511)),
            description: "Anh Nguyễn Văn An (0905 123 456), nhà số 12 Lê Lợi: đèn trước nhà hỏng",
            address: Some("12 Lê Lợi, phường Thuận Hóa"),
            reporter: Some(("Nguyễn Văn An", "0905123456")),
            notes: Some("Đã gọi anh Nguyễn Văn An qua số 0905123456, không đủ thông tin"),
            ..base("2026-03-05T16:45:00", Status::Rejected)
        },
    ]
}

async fn seed_reports(store: &Store) {
    let reference = store.reference();
    let batch: Vec<HistoricReport> = seeds()
        .into_iter()
        .map(|s| {
            let resolved_at = s.resolved.map(|r| ms(r.0));
            let (lat, lon) = s.at.unwrap_or((0.0, 0.0));
            HistoricReport {
                category_id: reference.category_by_code(s.category).unwrap().id,
                status: s.status,
                priority: s.priority,
                channel: s.channel,
                description: s.description.into(),
                address: s.address.map(str::to_string),
                lat,
                lon,
                commune_code: s.commune.map(str::to_string),
                agency_id: s.agency.map(|a| reference.agency_by_code(a).unwrap().id),
                reporter_user_id: None,
                reporter_name: s.reporter.map(|r| r.0.to_string()),
                reporter_phone: s.reporter.map(|r| r.1.to_string()),
                search_text: s.description.to_lowercase(),
                status_notes: s.notes.map(str::to_string),
                created_at: ms(s.created),
                updated_at: resolved_at.unwrap_or(ms(s.created)),
                deadline_at: ms(s.deadline),
                resolved_at,
                closed_at: (s.status == Status::Closed).then(|| resolved_at.unwrap()),
                overdue: false,
                resolved_on_time: s.resolved.map(|r| r.1),
                handling_days: s.resolved.map(|r| r.2),
                rating: s.rating,
                events: vec![],
            }
        })
        .collect();
    store.insert_historic(&batch).await.unwrap();
    // The historic loader takes a point for every report; this one has none (not a column of
    // the rollup, so writing it directly leaves the figures as they are).
    sqlx::query("UPDATE reports SET lat = NULL, lon = NULL WHERE created_at = $1")
        .bind(ms("2026-03-02T10:00:00"))
        .execute(&store.db.pool)
        .await
        .unwrap();
    let transferred: i64 = sqlx::query("SELECT id FROM reports WHERE created_at = $1")
        .bind(ms("2026-02-11T08:00:00"))
        .fetch_one(&store.db.pool)
        .await
        .unwrap()
        .get(0);
    store
        .apply(
            &ioc(),
            transferred,
            Command::Transfer {
                agency_code: "SXD".into(),
                reason: "Thuộc thẩm quyền Sở Xây dựng".into(),
            },
        )
        .await
        .unwrap();
}

const STATISTICS_CSV: &str = "\
month,category_code,category_name,commune_code,commune_name,agency_code,agency_name,received,resolved,resolved_on_time,resolved_late,open_overdue,on_time_rate,avg_handling_working_days,rated,satisfied,acceptable,unsatisfied,satisfaction_rate\r
2025-02,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO),1,1,1,0,0,1.0,2.0,1,1,0,0,1.0\r
2026-01,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO),2,2,1,1,0,0.5,3.22,1,1,0,0,1.0\r
2026-02,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO),1,1,1,0,0,1.0,1.6,1,0,0,1,0.0\r
2026-02,TTDT,\"Trật tự đô thị, lấn chiếm vỉa hè\",19900,Phường Thuận An,SXD,Sở Xây dựng,1,0,0,0,0,,,0,0,0,0,\r
2026-02,TTDT,\"Trật tự đô thị, lấn chiếm vỉa hè\",19900,Phường Thuận An,UBND-19900,UBND Phường Thuận An,1,0,0,0,1,,,0,0,0,0,\r
2026-03,CSCC,Chiếu sáng công cộng,,,,,1,0,0,0,1,,,0,0,0,0,\r
2026-03,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO),1,0,0,0,0,,,0,0,0,0,\r
";

const REPORTS_CSV: &str = "\
received_date,category_code,category_name,commune_code,commune_name,agency_code,priority,channel,status,lat,lon,resolved_date,resolved_on_time,overdue,handling_working_days,rating\r
2026-01-05,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,normal,app,closed,16.4625,107.5875,2026-01-07,true,false,2.0,satisfied\r
2026-01-31,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,normal,hotline,resolved,16.4725,107.5925,2026-02-06,false,false,4.4,\r
2026-02-01,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,urgent,zalo,closed,16.4575,107.5775,2026-02-03,true,false,1.6,unsatisfied\r
2026-02-10,TTDT,\"Trật tự đô thị, lấn chiếm vỉa hè\",19900,Phường Thuận An,UBND-19900,normal,web,in_progress,16.5575,107.6375,,,true,,\r
2026-02-11,TTDT,\"Trật tự đô thị, lấn chiếm vỉa hè\",19900,Phường Thuận An,SXD,normal,app,transferred,16.5575,107.6375,,,false,,\r
2026-03-02,CSCC,Chiếu sáng công cộng,,,,normal,email,received,,,,,true,,\r
2026-03-05,CSCC,Chiếu sáng công cộng,19786,Phường Thuận Hóa,HEPCO,normal,facebook,rejected,16.4625,107.5875,,,false,,\r
";

/// Direct counting of the reports table: received, resolved, on time, late, open and overdue
/// at `now`, rated, satisfied, acceptable, unsatisfied, per month × category × commune × agency.
async fn direct_counts(store: &Store) -> BTreeMap<[String; 4], [i64; 9]> {
    let reference = store.reference();
    let rows = sqlx::query(
        "SELECT created_at, category_id, commune_code, agency_id, status, deadline_at, resolved_at, \
         resolved_on_time, rating FROM reports",
    )
    .fetch_all(&store.db.pool)
    .await
    .unwrap();
    let mut out: BTreeMap<[String; 4], [i64; 9]> = BTreeMap::new();
    for r in rows {
        let created: i64 = r.get(0);
        let month = chrono::DateTime::from_timestamp_millis(created + 7 * 3_600_000)
            .unwrap()
            .format("%Y-%m")
            .to_string();
        let key = [
            month,
            reference.category(r.get(1)).unwrap().code.clone(),
            r.get::<Option<String>, _>(2).unwrap_or_default(),
            r.get::<Option<i64>, _>(3)
                .map(|a| reference.agency(a).unwrap().code.clone())
                .unwrap_or_default(),
        ];
        let status = Status::parse(&r.get::<String, _>(4)).unwrap();
        let resolved = r.get::<Option<i64>, _>(6).is_some();
        let on_time = r.get::<Option<i64>, _>(7) == Some(1);
        let rating: Option<String> = r.get(8);
        let c = out.entry(key).or_default();
        let flags = [
            true,
            resolved,
            resolved && on_time,
            resolved && !on_time,
            status.is_open() && r.get::<i64, _>(5) < now(),
            rating.is_some(),
            rating.as_deref() == Some("satisfied"),
            rating.as_deref() == Some("acceptable"),
            rating.as_deref() == Some("unsatisfied"),
        ];
        for (n, f) in c.iter_mut().zip(flags) {
            *n += i64::from(f);
        }
    }
    out
}

#[tokio::test]
async fn statistics_and_the_anonymised_list_equal_the_seeded_reports() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        seed_reports(&store).await;
        let datasets = generate_all(&store, now(), &Options::default())
            .await
            .unwrap();

        let statistics = file(
            &datasets,
            "field-report-statistics",
            "field-report-statistics.csv",
        );
        assert_eq!(statistics, STATISTICS_CSV, "{backend:?}");
        // The same figures, counted straight from the reports table.
        let json: Vec<serde_json::Value> = serde_json::from_str(file(
            &datasets,
            "field-report-statistics",
            "field-report-statistics.json",
        ))
        .unwrap();
        let published: BTreeMap<[String; 4], [i64; 9]> = json
            .iter()
            .map(|row| {
                let s = |k: &str| row[k].as_str().unwrap().to_string();
                let n = |k: &str| row[k].as_i64().unwrap();
                (
                    [
                        s("month"),
                        s("category_code"),
                        s("commune_code"),
                        s("agency_code"),
                    ],
                    [
                        n("received"),
                        n("resolved"),
                        n("resolved_on_time"),
                        n("resolved_late"),
                        n("open_overdue"),
                        n("rated"),
                        n("satisfied"),
                        n("acceptable"),
                        n("unsatisfied"),
                    ],
                )
            })
            .collect();
        assert_eq!(published, direct_counts(&store).await, "{backend:?}");

        assert_eq!(
            file(&datasets, "field-reports-anonymised", "field-reports.csv"),
            REPORTS_CSV,
            "{backend:?}"
        );
        let reports_json = file(&datasets, "field-reports-anonymised", "field-reports.json");
        let rows: Vec<serde_json::Value> = serde_json::from_str(reports_json).unwrap();
        assert_eq!(
            rows[0],
            json!({
                "received_date": "2026-01-05", "category_code": "CSCC",
                "category_name": "Chiếu sáng công cộng", "commune_code": "19786",
                "commune_name": "Phường Thuận Hóa", "agency_code": "HEPCO", "priority": "normal",
                "channel": "app", "status": "closed", "lat": 16.4625, "lon": 107.5875,
                "resolved_date": "2026-01-07", "resolved_on_time": true, "overdue": false,
                "handling_working_days": 2.0, "rating": "satisfied"
            })
        );
        assert_eq!(rows.len(), 7);
        assert_eq!(
            rows[5],
            json!({
                "received_date": "2026-03-02", "category_code": "CSCC",
                "category_name": "Chiếu sáng công cộng", "commune_code": null,
                "commune_name": null, "agency_code": null, "priority": "normal",
                "channel": "email", "status": "received", "lat": null, "lon": null,
                "resolved_date": null, "resolved_on_time": null, "overdue": true,
                "handling_working_days": null, "rating": null
            })
        );

        // Nothing personal, nothing written by a citizen, no exact point, in any file.
        for dataset in &datasets {
            for resource in &dataset.resources {
                let text = std::str::from_utf8(&resource.bytes).unwrap();
                for secret in [
                    "Nguyễn Văn An",
                    "0905",
                    "123 456",
                    "Trần Thị Bình",
                    "0914000111",
                    "Lê Lợi",
                    "nhà",
                    "16.4627",
                    "107.5853",
                    "16.46312",
                    "107.58511",
                    "16.5561",
                ] {
                    assert!(
                        !text.contains(secret),
                        "{backend:?}: {} contains {secret:?}",
                        resource.name
                    );
                }
            }
        }

        let stats = datasets
            .iter()
            .find(|d| d.name == "field-report-statistics")
            .unwrap();
        assert_eq!(
            serde_json::to_value(stats.temporal_coverage).unwrap(),
            json!({"start": "2025-02-01", "end": "2026-03-10"})
        );
        assert_eq!(stats.refreshed_at.to_rfc3339(), "2026-03-10T08:00:00+07:00");
        assert_eq!(stats.licence_id, "cc-by-4.0");
        let list = datasets
            .iter()
            .find(|d| d.name == "field-reports-anonymised")
            .unwrap();
        assert_eq!(
            serde_json::to_value(list.temporal_coverage).unwrap(),
            json!({"start": "2025-03-10", "end": "2026-03-10"})
        );
    }
}

#[tokio::test]
async fn a_report_taken_in_with_contact_details_is_published_without_them() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let (id, _) = store
            .submit_report(
                &Actor::api_client("t"),
                NewReport {
                    category_code: "KHAC".into(),
                    description: "Tôi là Lê Thị Hồng, gọi tôi 0987 654 321 hoặc hong.le@example.vn"
                        .into(),
                    lat: Some(16.46784),
                    lon: Some(107.59071),
                    address: Some("Kiệt 5 Hàn Mặc Tử".into()),
                    commune_code: None,
                    priority: Priority::Normal,
                    channel: Channel::App,
                    attributes: BTreeMap::new(),
                    reporter: Reporter {
                        name: Some("Lê Thị Hồng".into()),
                        email: Some("hong.le@example.vn".into()),
                        phone: Some("0987654321".into()),
                        device_id: Some("device-7f3a".into()),
                    },
                    anonymous: false,
                    photos: vec![],
                    api_key_id: None,
                },
            )
            .await
            .unwrap();
        let now = dothi_store::time::now_ms() + 1;
        let datasets = generate_all(&store, now, &Options::default())
            .await
            .unwrap();
        let list = file(&datasets, "field-reports-anonymised", "field-reports.json");
        let rows: Vec<serde_json::Value> = serde_json::from_str(list).unwrap();
        assert_eq!(rows.len(), 1, "{backend:?}");
        assert_eq!(
            (&rows[0]["lat"], &rows[0]["lon"]),
            (&json!(16.4675), &json!(107.5925))
        );
        let report = store.report(&ioc(), id).await.unwrap();
        assert_eq!(rows[0]["status"], json!(report.status.as_str()));
        for dataset in &datasets {
            for resource in &dataset.resources {
                let text = std::str::from_utf8(&resource.bytes).unwrap();
                for secret in [
                    "Hồng",
                    "0987",
                    "654",
                    "example.vn",
                    "device-7f3a",
                    "Hàn Mặc Tử",
                    "16.46784",
                    "107.59071",
                    &report.token,
                ] {
                    assert!(
                        !text.contains(secret),
                        "{backend:?}: {} contains {secret:?}",
                        resource.name
                    );
                }
            }
        }
    }
}

fn iri(term: &str) -> String {
    format!("https://uri.etsi.org/ngsi-ld/default-context/{term}")
}

fn core(term: &str) -> String {
    format!("https://uri.etsi.org/ngsi-ld/{term}")
}

async fn create_entity(store: &Store, id: &str, type_term: &str, attributes: serde_json::Value) {
    let body = json!({
        "id": id,
        "types": [iri(type_term)],
        "created_at": 0,
        "modified_at": 0,
        "attributes": attributes,
    });
    let record = EntityRecord {
        id: id.into(),
        types: vec![iri(type_term)],
        body: body.to_string(),
        created_at: 0,
        modified_at: 0,
        index: vec![IndexEntry::exists(&core("name"))],
        bbox: None,
        expires_at: None,
    };
    let mut record = Some(record);
    let results = store
        .ngsild_modify(&[id.to_string()], |_, _| {
            let record = record.take().ok_or("once")?;
            Ok::<_, &str>((
                Change::Put {
                    note: ChangeNote {
                        entity_id: record.id.clone(),
                        op: "create".into(),
                        attrs: vec![],
                        snapshot: Some(record.body.clone()),
                        previous: None,
                    },
                    history: vec![],
                    deletions: vec![],
                    record,
                },
                (),
            ))
        })
        .await
        .unwrap();
    assert_eq!(results, vec![Ok(())]);
}

fn reading(
    entity: &str,
    attr: &str,
    dataset: Option<&str>,
    at: &str,
    value: serde_json::Value,
) -> HistoryEntry {
    HistoryEntry {
        entity_id: entity.into(),
        attr: iri(attr),
        dataset_id: dataset.map(str::to_string),
        observed_at: ms(at),
        num: value.as_f64(),
        instance: json!({"type": "Property", "value": value, "observedAt": format!("{at}+07:00")})
            .to_string(),
    }
}

const SENSORS_CSV: &str = "\
date,entity_id,entity_type,station_name,lat,lon,attribute,attribute_iri,dataset_id,unit_code,count,min,max,mean\r
2025-12-10,urn:ngsi-ld:AirQualityObserved:hue-le-loi,AirQualityObserved,Trạm quan trắc không khí Lê Lợi,16.4627,107.5853,pm25,https://uri.etsi.org/ngsi-ld/default-context/pm25,,GQ,1,42.0,42.0,42.0\r
2026-03-08,urn:ngsi-ld:AirQualityObserved:hue-le-loi,AirQualityObserved,Trạm quan trắc không khí Lê Lợi,16.4627,107.5853,airQualityIndex,https://uri.etsi.org/ngsi-ld/default-context/airQualityIndex,,,2,40.0,60.0,50.0\r
2026-03-08,urn:ngsi-ld:AirQualityObserved:hue-le-loi,AirQualityObserved,Trạm quan trắc không khí Lê Lợi,16.4627,107.5853,pm25,https://uri.etsi.org/ngsi-ld/default-context/pm25,,GQ,3,10.0,30.0,20.1667\r
2026-03-08,urn:ngsi-ld:AirQualityObserved:hue-le-loi,AirQualityObserved,Trạm quan trắc không khí Lê Lợi,16.4627,107.5853,pm25,https://uri.etsi.org/ngsi-ld/default-context/pm25,urn:ngsi-ld:dataset:b,,1,15.0,15.0,15.0\r
2026-03-09,urn:ngsi-ld:AirQualityObserved:hue-le-loi,AirQualityObserved,Trạm quan trắc không khí Lê Lợi,16.4627,107.5853,pm25,https://uri.etsi.org/ngsi-ld/default-context/pm25,,GQ,2,5.25,7.0,6.125\r
";

#[tokio::test]
async fn sensor_aggregates_are_the_local_days_of_the_published_types() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let station = "urn:ngsi-ld:AirQualityObserved:hue-le-loi";
        let property = |value: serde_json::Value, unit: Option<&str>| {
            let mut p =
                json!({"kind": "Property", "value": value, "created_at": 0, "modified_at": 0});
            if let Some(u) = unit {
                p["unit_code"] = json!(u);
            }
            p
        };
        let mut pm25_b = property(json!(15.0), None);
        pm25_b["dataset_id"] = json!("urn:ngsi-ld:dataset:b");
        create_entity(
            &store,
            station,
            "AirQualityObserved",
            json!({
                core("name"): [property(json!("Trạm quan trắc không khí Lê Lợi"), None)],
                core("location"): [{"kind": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5853, 16.4627]}, "created_at": 0, "modified_at": 0}],
                iri("pm25"): [property(json!(7.0), Some("GQ")), pm25_b],
                iri("airQualityIndex"): [property(json!(60), None)],
            }),
        )
        .await;
        // Another station without history, and a type that is not published.
        create_entity(
            &store,
            "urn:ngsi-ld:AirQualityObserved:phu-bai",
            "AirQualityObserved",
            json!({}),
        )
        .await;
        let person = "urn:ngsi-ld:Person:citizen-1";
        create_entity(&store, person, "Person", json!({})).await;
        let d = None;
        store
            .ngsild_append_history(&[
                // Before the 90-day window, and its first instant.
                reading(station, "pm25", d, "2025-12-09T12:00:00", json!(1000.0)),
                reading(station, "pm25", d, "2025-12-10T00:00:00", json!(42.0)),
                reading(station, "pm25", d, "2026-03-08T06:00:00", json!(10.0)),
                reading(station, "pm25", d, "2026-03-08T12:00:00", json!(20.5)),
                reading(station, "pm25", d, "2026-03-08T23:59:59", json!(30.0)),
                reading(
                    station,
                    "pm25",
                    Some("urn:ngsi-ld:dataset:b"),
                    "2026-03-08T10:00:00",
                    json!(15.0),
                ),
                reading(
                    station,
                    "airQualityIndex",
                    d,
                    "2026-03-08T07:00:00",
                    json!(40),
                ),
                reading(
                    station,
                    "airQualityIndex",
                    d,
                    "2026-03-08T19:00:00",
                    json!(60),
                ),
                // Not a number: not aggregated.
                reading(
                    station,
                    "airQualityLevel",
                    d,
                    "2026-03-08T07:00:00",
                    json!("good"),
                ),
                // Local midnight starts 9 March.
                reading(station, "pm25", d, "2026-03-09T00:00:00", json!(5.25)),
                reading(station, "pm25", d, "2026-03-09T08:00:00", json!(7.0)),
                // Today is not a whole day yet.
                reading(station, "pm25", d, "2026-03-10T07:00:00", json!(99.0)),
                reading(person, "heartRate", d, "2026-03-08T09:00:00", json!(72.0)),
            ])
            .await
            .unwrap();
        let datasets = generate_all(&store, now(), &Options::default())
            .await
            .unwrap();
        assert_eq!(
            file(&datasets, "sensor-daily-aggregates", "sensor-daily.csv"),
            SENSORS_CSV,
            "{backend:?}"
        );
        let json: Vec<serde_json::Value> = serde_json::from_str(file(
            &datasets,
            "sensor-daily-aggregates",
            "sensor-daily.json",
        ))
        .unwrap();
        assert_eq!(
            json[2],
            json!({
                "date": "2026-03-08", "entity_id": station, "entity_type": "AirQualityObserved",
                "station_name": "Trạm quan trắc không khí Lê Lợi", "lat": 16.4627, "lon": 107.5853,
                "attribute": "pm25", "attribute_iri": iri("pm25"), "dataset_id": null,
                "unit_code": "GQ", "count": 3, "min": 10.0, "max": 30.0, "mean": 20.1667
            })
        );
        let sensors = datasets
            .iter()
            .find(|d| d.name == "sensor-daily-aggregates")
            .unwrap();
        assert_eq!(
            serde_json::to_value(sensors.temporal_coverage).unwrap(),
            json!({"start": "2025-12-10", "end": "2026-03-09"})
        );
    }
}

#[tokio::test]
async fn reference_lists_hold_every_agency_category_and_commune() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let datasets = generate_all(&store, now(), &Options::default())
            .await
            .unwrap();
        let reference = store.reference();
        let lines = |name: &str| -> Vec<String> {
            file(&datasets, "reference-lists", name)
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        let units = lines("admin-units.csv");
        assert_eq!(units[0], "code,name,division_type,province_code,lat,lon");
        assert_eq!(units.len(), 1 + reference.admin_units.len());
        assert_eq!(units.len(), 41, "Huế's 40 communes and wards");
        assert!(units.contains(&"19786,Phường Thuận Hóa,phường,46,16.459,107.593".to_string()));
        let agencies = lines("agencies.csv");
        assert_eq!(agencies.len(), 1 + reference.agencies.len());
        assert!(agencies.contains(
            &"IOC,\"Trung tâm Giám sát, điều hành đô thị thông minh\",Smart City Monitoring and Operations Centre (HueIOC),ioc,,dtm@hue.gov.vn,1900 1075,true"
                .to_string()
        ));
        let categories = lines("categories.csv");
        assert_eq!(categories.len(), 1 + reference.categories.len());
        assert!(categories[0].starts_with("code,name,name_en,group,description,"));
        let counts: HashMap<&str, usize> = datasets
            .iter()
            .flat_map(|d| d.resources.iter().map(|r| (r.name.as_str(), r.row_count)))
            .collect();
        assert_eq!(counts["admin-units.json"], 40);
        assert_eq!(counts["field-reports.csv"], 0);
    }
}
