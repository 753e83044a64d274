//! Report intake under concurrency: group commit must give every caller its own report with
//! its own history, and nothing else.

use std::collections::{BTreeMap, HashSet};

use dothi_domain::{Actor, Channel, Priority};
use dothi_store::reports::{NewReport, Reporter};
use dothi_store::testing::{TestDb, BACKENDS};
use sqlx::Row;

fn street_light(i: usize) -> NewReport {
    NewReport {
        category_code: "CSCC".into(),
        description: format!("Đèn số {i} không sáng"),
        lat: Some(16.4741),
        lon: Some(107.6121),
        address: None,
        commune_code: None,
        priority: Priority::Normal,
        channel: Channel::Open311,
        attributes: BTreeMap::from([("lamp_state".to_string(), vec!["off".to_string()])]),
        reporter: Reporter {
            email: Some(format!("dan{i}@example.vn")),
            ..Default::default()
        },
        anonymous: false,
        photos: vec![],
        api_key_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_each_get_their_own_report_and_history() {
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.spawn(async move {
                (
                    i,
                    store
                        .submit_report(&Actor::api_client("load"), street_light(i))
                        .await
                        .unwrap(),
                )
            });
        }
        let mut seen_ids = HashSet::new();
        let mut seen_tokens = HashSet::new();
        while let Some(done) = tasks.join_next().await {
            let (i, (id, token)) = done.unwrap();
            assert!(seen_ids.insert(id) && seen_tokens.insert(token.clone()));
            let report = store.report(&Actor::system(), id).await.unwrap();
            assert_eq!(
                report.description,
                format!("Đèn số {i} không sáng"),
                "{backend:?}: report {id} belongs to caller {i}"
            );
            assert_eq!(report.token, token);
            assert_eq!(
                report.reporter.unwrap().email.unwrap(),
                format!("dan{i}@example.vn")
            );
            let history = store.history(&Actor::system(), id).await.unwrap();
            let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["create", "assign"]);
        }
        assert_eq!(store.count_reports().await.unwrap(), 200);
        let events: i64 = sqlx::query("SELECT COUNT(*) FROM report_events")
            .fetch_one(&store.db.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(events, 400);
    }
}

#[tokio::test]
async fn reports_with_and_without_coordinates_interleave() {
    // Regression: on PostgreSQL a report without coordinates used to poison the prepared
    // statement for the next report with coordinates.
    for backend in BACKENDS {
        let db = TestDb::new(backend).await;
        let store = db.hue_store().await;
        for i in 0..5 {
            let mut report = street_light(i);
            (report.lat, report.lon, report.address) = (
                None,
                None,
                Some("Kiệt 3 Nguyễn Sinh Cung, phường Vỹ Dạ".into()),
            );
            store
                .submit_report(&Actor::api_client("t"), report)
                .await
                .unwrap();
        }
        for i in 5..15 {
            let (id, _) = store
                .submit_report(&Actor::api_client("t"), street_light(i))
                .await
                .unwrap();
            let r = store.report(&Actor::system(), id).await.unwrap();
            assert_eq!(
                (r.lat, r.lon),
                (Some(16.4741), Some(107.6121)),
                "{backend:?}"
            );
        }
        // The same for administrative units with and without a centroid.
        use dothi_store::reference::AdminUnit;
        for (code, lat) in [
            ("90001", None),
            ("90002", Some(16.5)),
            ("90003", None),
            ("90004", Some(16.6)),
        ] {
            let unit = AdminUnit {
                code: code.into(),
                name: format!("Xã {code}"),
                division_type: "xã".into(),
                province_code: "46".into(),
                lat,
                lon: lat.map(|_| 107.5),
            };
            store.put_admin_unit(&Actor::system(), &unit).await.unwrap();
        }
        assert_eq!(
            store.reference().admin_unit("90004").unwrap().lat,
            Some(16.6)
        );
    }
}
