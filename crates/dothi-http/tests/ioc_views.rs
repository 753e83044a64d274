//! The operations centre's map and exports through the API, on SQLite and PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::io::Read;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use common::{App, BACKENDS};
use dothi_store::Backend;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// GET with a bearer token; the raw answer.
async fn raw(app: &App, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, headers, bytes.to_vec())
}

/// The view every test starts from: three located street-light reports (HEPCO), one
/// street-light report with an address only (HEPCO), one water report (HUEWACO) whose deadline
/// has passed. Returns (light ids oldest first, address-only id, water id).
async fn seed(app: &App) -> (Vec<i64>, i64, i64) {
    let mut lights = Vec::new();
    for i in 0..3 {
        lights.push(
            app.street_light(&format!("Đèn số {i} hỏng, nhà ông Bảy"))
                .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let (s, body) = app
        .post(
            "/api/v1/reports",
            Some(&app.citizen),
            json!({"category": "CSCC", "description": "Đèn đường tắt cả dãy",
                   "address": "Kiệt 12 Nguyễn Sinh Cung, phường Vỹ Dạ", "attributes": {"lamp_state": "off"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let unlocated = body["report"]["id"].as_i64().unwrap();
    let (s, body) = app
        .post(
            "/api/v1/reports",
            Some(&app.citizen),
            json!({"category": "CAPNUOC", "description": "Mất nước cả ngày", "lat": 16.4741, "long": 107.6121,
                   "attributes": {"issue": "no_water"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let water = body["report"]["id"].as_i64().unwrap();
    sqlx::query("UPDATE reports SET deadline_at = $1 WHERE id = $2")
        .bind(dothi_store::time::now_ms() - 60_000)
        .bind(water)
        .execute(&app.store.db.pool)
        .await
        .unwrap();
    // Resolve one light so that statuses differ.
    let (s, r) = app
        .post(
            &format!("/api/v1/reports/{}/resolve", lights[0]),
            Some(&app.hepco),
            json!({"note": "Đã thay bóng"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    (lights, unlocated, water)
}

fn ids(map: &Value) -> Vec<i64> {
    map["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

/// Things that identify the reporter or that the reporter wrote; none may leave in an export.
const PERSONAL: [&str; 6] = [
    "Người dùng citizen",
    "citizen@example.vn",
    "0905123456",
    "nhà ông Bảy",
    "Kiệt 12",
    "Mất nước cả ngày",
];

#[tokio::test]
async fn map_shows_the_filtered_reports_to_those_who_may_see_them() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (lights, unlocated, water) = seed(&app).await;

        let (s, m) = app.get("/api/v1/ioc/map", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK, "{m}");
        assert!(m["period"]["from"].as_str().unwrap().ends_with("+07:00"));
        // Located reports only, newest first; the total counts every report of the view.
        assert_eq!(m["total"], 5, "{backend:?}");
        assert_eq!(m["limit"], 5000);
        assert_eq!(ids(&m), vec![water, lights[2], lights[1], lights[0]]);
        assert!(!ids(&m).contains(&unlocated));
        let keys: BTreeSet<&str> = m["reports"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "lat", "lon", "status", "overdue", "category"])
        );
        assert_eq!(
            m["reports"][0],
            json!({"id": water, "lat": 16.4741, "lon": 107.6121, "status": "assigned", "overdue": true, "category": "CAPNUOC"})
        );
        assert_eq!(m["reports"][3]["status"], "resolved");
        assert_eq!(m["reports"][3]["overdue"], false);
        assert_eq!(m["reports"][3]["category"], "CSCC");

        // Filters.
        let (_, m) = app
            .get("/api/v1/ioc/map?category=CAPNUOC", Some(&app.ioc))
            .await;
        assert_eq!((m["total"].as_i64(), ids(&m)), (Some(1), vec![water]));
        let (_, m) = app
            .get("/api/v1/ioc/map?agency=HEPCO&channel=app", Some(&app.ioc))
            .await;
        assert_eq!(
            (m["total"].as_i64(), ids(&m)),
            (Some(4), vec![lights[2], lights[1], lights[0]])
        );
        let (_, m) = app
            .get("/api/v1/ioc/map?channel=hotline", Some(&app.ioc))
            .await;
        assert_eq!((m["total"].as_i64(), ids(&m)), (Some(0), vec![]));
        let (_, m) = app
            .get(
                "/api/v1/ioc/map?from=2020-01-01T00:00:00%2B07:00&to=2020-02-01T00:00:00%2B07:00",
                Some(&app.ioc),
            )
            .await;
        assert_eq!(m["total"], 0);
        let (_, m) = app.get("/api/v1/ioc/map?limit=2", Some(&app.ioc)).await;
        assert_eq!(
            (m["total"].as_i64(), ids(&m)),
            (Some(5), vec![water, lights[2]])
        );

        // Agency staff see their agency only, and may not ask for another.
        let (s, m) = app.get("/api/v1/ioc/map", Some(&app.hepco)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ids(&m), vec![lights[2], lights[1], lights[0]]);
        let (_, m) = app.get("/api/v1/ioc/map", Some(&app.huewaco)).await;
        assert_eq!(ids(&m), vec![water]);
        let (s, _) = app
            .get("/api/v1/ioc/map?agency=HUEWACO", Some(&app.hepco))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Nobody else.
        let (s, _) = app.get("/api/v1/ioc/map", Some(&app.citizen)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.get("/api/v1/ioc/map", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Bad input.
        for bad in [
            "limit=0",
            "limit=20001",
            "agency=NOPE",
            "category=NOPE",
            "commune=00000",
            "channel=pigeon",
            "from=yesterday",
            "from=2026-02-01T00:00:00%2B07:00&to=2026-01-01T00:00:00%2B07:00",
        ] {
            let (s, e) = app
                .get(&format!("/api/v1/ioc/map?{bad}"), Some(&app.ioc))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        }
        let (s, _) = app.get("/api/v1/ioc/map?limit=lots", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = app.get("/api/v1/ioc/map?lang=en", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
}

fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("the CSV starts with a UTF-8 byte order mark");
    let mut reader = csv::Reader::from_reader(body);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn disposition(headers: &HeaderMap) -> String {
    headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn csv_export_lists_the_view_without_personal_data() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (lights, unlocated, water) = seed(&app).await;

        let (s, h, body) = raw(&app, "/api/v1/ioc/export.csv", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(h[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        let d = disposition(&h);
        assert!(
            d.starts_with("attachment; filename=\"phan-anh-") && d.ends_with(".csv\""),
            "{d}"
        );
        let (header, rows) = parse_csv(&body);
        assert_eq!(
            header,
            [
                "Mã phản ánh",
                "Thời điểm tiếp nhận",
                "Lĩnh vực",
                "Xã/phường",
                "Đơn vị xử lý",
                "Kênh tiếp nhận",
                "Trạng thái",
                "Hạn xử lý",
                "Thời điểm xử lý xong",
                "Đúng hạn",
                "Đánh giá của người dân"
            ]
        );
        let listed: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
        assert_eq!(
            listed,
            vec![water, unlocated, lights[2], lights[1], lights[0]],
            "{backend:?}"
        );
        let resolved = &rows[4];
        assert!(resolved[1].ends_with("+07:00"), "{resolved:?}");
        assert_eq!(resolved[5], "Ứng dụng");
        assert_eq!(resolved[6], "Đã xử lý");
        assert!(resolved[8].ends_with("+07:00"));
        assert_eq!(resolved[9], "Có");
        let huewaco = app
            .store
            .reference()
            .agency_by_code("HUEWACO")
            .unwrap()
            .name
            .clone();
        assert_eq!(rows[0][4], huewaco);
        assert_eq!(rows[0][3], "Phường Vỹ Dạ");
        assert_eq!(rows[0][8], "");
        assert!(rows.iter().all(|r| r.len() == 11));
        let text = String::from_utf8(body.clone()).unwrap();
        for p in PERSONAL {
            assert!(!text.contains(p), "the CSV contains '{p}'");
        }

        // Filters, English, other tables.
        let (_, _, body) = raw(
            &app,
            "/api/v1/ioc/export.csv?category=CAPNUOC&lang=en",
            Some(&app.ioc),
        )
        .await;
        let (header, rows) = parse_csv(&body);
        assert_eq!(header[0], "Report ID");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], water.to_string());
        assert_eq!(rows[0][6], "Assigned");

        let (s, h, body) = raw(&app, "/api/v1/ioc/export.csv?table=ranking", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK);
        assert!(disposition(&h).contains("xep-hang-don-vi-"));
        let (header, rows) = parse_csv(&body);
        assert_eq!(header[0], "Hạng");
        assert_eq!(header[5], "Tỷ lệ đúng hạn (%)");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0][0].as_str(),
                rows[0][1].as_str(),
                rows[0][3].as_str(),
                rows[0][5].as_str()
            ),
            ("1", "HEPCO", "4", "100")
        );
        assert_eq!((rows[1][1].as_str(), rows[1][8].as_str()), ("HUEWACO", "1"));

        let (_, h, body) = raw(&app, "/api/v1/ioc/export.csv?table=trend", Some(&app.ioc)).await;
        assert!(disposition(&h).contains("xu-huong-"));
        let (header, rows) = parse_csv(&body);
        assert_eq!(header, ["Ngày", "Tiếp nhận", "Đã xử lý"]);
        let today = dothi_calendar::local_date(chrono::Utc::now()).to_string();
        assert_eq!(rows, vec![vec![today, "5".to_string(), "1".to_string()]]);

        // Agency staff: their agency only (and their own line of the ranking).
        let (s, _, body) = raw(&app, "/api/v1/ioc/export.csv", Some(&app.hepco)).await;
        assert_eq!(s, StatusCode::OK);
        let (_, rows) = parse_csv(&body);
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r[0] != water.to_string()));
        let (_, _, body) = raw(
            &app,
            "/api/v1/ioc/export.csv?table=ranking",
            Some(&app.hepco),
        )
        .await;
        let (_, rows) = parse_csv(&body);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "HEPCO");

        // Refusals.
        for (path, token, status) in [
            (
                "/api/v1/ioc/export.csv",
                Some(app.citizen.as_str()),
                StatusCode::FORBIDDEN,
            ),
            ("/api/v1/ioc/export.csv", None, StatusCode::UNAUTHORIZED),
            (
                "/api/v1/ioc/export.csv?agency=HUEWACO",
                Some(app.hepco.as_str()),
                StatusCode::FORBIDDEN,
            ),
            (
                "/api/v1/ioc/export.csv?table=users",
                Some(app.ioc.as_str()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/ioc/export.csv?lang=fr",
                Some(app.ioc.as_str()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/ioc/export.csv?limit=5",
                Some(app.ioc.as_str()),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (s, h, _) = raw(&app, path, token).await;
            assert_eq!(s, status, "{path}");
            assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
        }
    }
}

/// The files of a zip archive, by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip file");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut text = String::new();
        if f.read_to_string(&mut text).is_ok() {
            files.insert(f.name().to_string(), text);
        }
    }
    files
}

/// Rows of a worksheet's XML (`<row ` elements).
fn rows_in(sheet: &str) -> usize {
    sheet.matches("<row ").count()
}

#[tokio::test]
async fn xlsx_export_has_the_four_sheets_of_the_view() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        seed(&app).await;

        let (s, h, body) = raw(&app, "/api/v1/ioc/export.xlsx", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            h[header::CONTENT_TYPE],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        let d = disposition(&h);
        assert!(
            d.starts_with("attachment; filename=\"bao-cao-ioc-") && d.ends_with(".xlsx\""),
            "{d}"
        );
        let files = unzip(&body);
        for n in 1..=4 {
            assert!(
                files.contains_key(&format!("xl/worksheets/sheet{n}.xml")),
                "sheet{n}"
            );
        }
        assert!(!files.contains_key("xl/worksheets/sheet5.xml"));
        let workbook = &files["xl/workbook.xml"];
        for name in [
            "Chỉ số",
            "Xu hướng theo ngày",
            "Xếp hạng đơn vị",
            "Danh sách phản ánh",
        ] {
            assert!(workbook.contains(name), "sheet {name}");
        }
        let strings = &files["xl/sharedStrings.xml"];
        for text in [
            "Mã phản ánh",
            "Thời điểm tiếp nhận",
            "Đánh giá của người dân",
            "Tỷ lệ đúng hạn (%)",
            "Phản ánh tiếp nhận",
            "Thời điểm lập",
            "Kỳ báo cáo (giờ Việt Nam, UTC+07:00)",
            "Đã chuyển xử lý",
        ] {
            assert!(strings.contains(text), "shared strings lack '{text}'");
        }
        // The generation time is in +07:00.
        assert!(strings.contains("+07:00"));
        // Header + rows: 1 day of trend, 2 agencies, 5 reports.
        assert_eq!(
            rows_in(&files["xl/worksheets/sheet2.xml"]),
            2,
            "{backend:?}"
        );
        assert_eq!(rows_in(&files["xl/worksheets/sheet3.xml"]), 3);
        assert_eq!(rows_in(&files["xl/worksheets/sheet4.xml"]), 6);
        let everything: String = files.values().cloned().collect();
        for p in PERSONAL {
            assert!(!everything.contains(p), "the workbook contains '{p}'");
        }

        // English; a filter; agency staff; refusals.
        let (_, _, body) = raw(
            &app,
            "/api/v1/ioc/export.xlsx?lang=en&category=CAPNUOC",
            Some(&app.ioc),
        )
        .await;
        let files = unzip(&body);
        assert!(files["xl/workbook.xml"].contains("Agency ranking"));
        assert!(files["xl/sharedStrings.xml"].contains("Report ID"));
        assert_eq!(rows_in(&files["xl/worksheets/sheet4.xml"]), 2);
        let (s, _, body) = raw(&app, "/api/v1/ioc/export.xlsx", Some(&app.huewaco)).await;
        assert_eq!(s, StatusCode::OK);
        let files = unzip(&body);
        assert_eq!(rows_in(&files["xl/worksheets/sheet3.xml"]), 2);
        assert_eq!(rows_in(&files["xl/worksheets/sheet4.xml"]), 2);
        let (s, _, _) = raw(&app, "/api/v1/ioc/export.xlsx", Some(&app.citizen)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = raw(&app, "/api/v1/ioc/export.xlsx?table=trend", Some(&app.ioc)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
}

/// `n` reports received in the last `n` × 0.4 seconds, straight into the table (not into the
/// KPI rollup: the tests read them over a period shorter than a day, which the KPIs count on
/// the reports table).
/// Inserts `n` bare reports in one statement, going around the store for speed (the store's
/// bulk path would take minutes for 100,000 rows). It does not maintain the `kpi_daily` rollup,
/// so tests using it must ask for periods shorter than a day, which are read from `reports`.
async fn bulk(app: &App, n: i64) {
    let now = dothi_store::time::now_ms();
    let sql = match app.store.db.backend {
        Backend::Sqlite => {
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1) \
             INSERT INTO reports (token, category_id, status, priority, channel, description, lat, lon, \
             commune_code, agency_id, search_text, created_at, updated_at, deadline_at) \
             SELECT 'bulk' || i, (SELECT id FROM categories WHERE code = 'CSCC'), 'received', 'normal', 'hotline', \
             'Đèn hỏng', 16.47, 107.61, '19777', (SELECT id FROM agencies WHERE code = 'HEPCO'), 'den hong', \
             $2 - i * 400, $2 - i * 400, $2 + 86400000 FROM seq"
        }
        Backend::Postgres => {
            "INSERT INTO reports (token, category_id, status, priority, channel, description, lat, lon, \
             commune_code, agency_id, search_text, created_at, updated_at, deadline_at) \
             SELECT 'bulk' || i, (SELECT id FROM categories WHERE code = 'CSCC'), 'received', 'normal', 'hotline', \
             'Đèn hỏng', 16.47, 107.61, '19777', (SELECT id FROM agencies WHERE code = 'HEPCO'), 'den hong', \
             $2 - i * 400, $2 - i * 400, $2 + 86400000 FROM generate_series(1, $1) AS i"
        }
    };
    sqlx::query(sql)
        .bind(n)
        .bind(now)
        .execute(&app.store.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn exports_stop_at_100000_reports_and_say_so() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        bulk(&app, 100_010).await;
        // The reports go back 11 hours; the period covers 12.
        let now = dothi_store::time::now_ms();
        let iso =
            |ms: i64| dothi_calendar::format_vn(dothi_store::time::from_ms(ms)).replace('+', "%2B");
        let period = format!(
            "from={}&to={}",
            iso(now - 12 * 3_600_000),
            iso(now + 60_000)
        );

        let (s, _, body) = raw(
            &app,
            &format!("/api/v1/ioc/export.xlsx?{period}"),
            Some(&app.ioc),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let files = unzip(&body);
        let list = &files["xl/worksheets/sheet4.xml"];
        // The header, 100,000 reports and the note.
        assert_eq!(rows_in(list), 100_002, "{backend:?}");
        assert!(files["xl/sharedStrings.xml"]
            .contains("100.000 phản ánh mới nhất trong số 100.010 phản ánh"));

        let (s, h, body) = raw(
            &app,
            &format!("/api/v1/ioc/export.csv?{period}"),
            Some(&app.ioc),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["x-total-count"], "100010");
        let (_, rows) = parse_csv(&body);
        assert_eq!(rows.len(), 100_000);
        // Newest first, no report twice across pages.
        let ids: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids.len(), 100_000);

        let (_, m) = app
            .get(
                &format!("/api/v1/ioc/map?{period}&limit=20000"),
                Some(&app.ioc),
            )
            .await;
        assert_eq!(
            (m["total"].as_i64(), m["reports"].as_array().unwrap().len()),
            (Some(100_010), 20_000)
        );
    }
}
