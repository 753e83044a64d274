//! `package_search` counts, facets and orders from each server's in-memory index of the
//! catalogue. A write through one server must show in the next search through another server
//! on the same database (and match what a server started afterwards answers), on SQLite and
//! PostgreSQL.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::{App, BACKENDS};
use dothi_catalog::access::Viewer;
use dothi_catalog::model::Translated;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const FACETS: &str =
    "facet.field=%5B%22organization%22,%22groups%22,%22tags%22,%22res_format%22,%22license_id%22%5D";

const HEPCO: &str = "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)";
const HUEWACO: &str = "Công ty Cổ phần Cấp nước Thừa Thiên Huế (HUEWACO)";

/// A server of its own over the app's database.
async fn other_server(app: &App) -> Router {
    dothi_ckan::router(app.db.store().await, app.config())
}

/// `package_search` on `router`: the whole `result`.
async fn search(router: &Router, query: &str, token: Option<&str>) -> Value {
    let mut req = Request::get(format!("/api/3/action/package_search?{query}"));
    if let Some(t) = token {
        req = req.header("X-CKAN-API-Key", t);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::OK, "{query}");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("JSON");
    body["result"].clone()
}

/// What a search says about the catalogue, in short: the count, the names found in order,
/// and the facets with their display names.
async fn summary(router: &Router, query: &str, token: Option<&str>) -> Value {
    let result = search(router, &format!("{query}&{FACETS}"), token).await;
    let names: Vec<&Value> = result["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|d| &d["name"])
        .collect();
    json!({
        "count": result["count"],
        "names": names,
        "facets": result["facets"],
        "search_facets": result["search_facets"],
    })
}

fn items(pairs: &[(&str, i64, &str)]) -> Value {
    pairs
        .iter()
        .map(
            |(name, count, display)| json!({"count": count, "display_name": display, "name": name}),
        )
        .collect()
}

/// The facets of a search: for each field (in the bench's order) its (value, count, display
/// name) items, as both `facets` and `search_facets` show them.
fn facets(fields: [&[(&str, i64, &str)]; 5]) -> (Value, Value) {
    let names = ["organization", "groups", "tags", "res_format", "license_id"];
    let mut counts = serde_json::Map::new();
    let mut search = serde_json::Map::new();
    for (name, pairs) in names.iter().zip(fields) {
        counts.insert(
            name.to_string(),
            pairs
                .iter()
                .map(|(v, c, _)| (v.to_string(), json!(c)))
                .collect(),
        );
        search.insert(
            name.to_string(),
            json!({"items": items(pairs), "title": name}),
        );
    }
    (Value::Object(counts), Value::Object(search))
}

fn expected(count: i64, names: &[&str], fields: [&[(&str, i64, &str)]; 5]) -> Value {
    let (facets, search_facets) = facets(fields);
    json!({"count": count, "names": names, "facets": facets, "search_facets": search_facets})
}

const CC_BY: &str = "Creative Commons Ghi công 4.0 Quốc tế";

async fn create(app: &App, token: &str, body: Value) {
    let (status, created) = app.action("package_create", Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
}

async fn patch(app: &App, token: &str, body: Value) {
    let (status, patched) = app.action("package_patch", Some(token), body).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
}

#[tokio::test]
async fn writes_through_one_server_show_in_the_next_search_through_another() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let other = other_server(&app).await;
        let sorted = "sort=name%20asc";
        // The other server's index is loaded before the writes, so that it must follow them.
        assert_eq!(
            summary(&other, sorted, None).await,
            expected(0, &[], [&[], &[], &[], &[], &[]]),
            "{backend:?}"
        );

        app.store
            .catalog_create_group(
                &Viewer::system(),
                "moi-truong",
                Translated::new("Môi trường", "Environment"),
                Translated::default(),
            )
            .await
            .expect("group");
        create(
            &app,
            &app.hepco,
            json!({"name": "rac-thai", "title": "Khối lượng rác thải", "license_id": "cc-by-4.0",
                   "tags": [{"name": "rác thải"}, {"name": "môi trường"}],
                   "groups": [{"name": "moi-truong"}],
                   "resources": [{"url": "https://x.vn/rac.csv", "format": "CSV"}]}),
        )
        .await;
        create(
            &app,
            &app.hepco,
            json!({"name": "den-duong", "title": "Đèn đường hỏng", "license_id": "cc-by-4.0",
                   "private": true, "tags": [{"name": "chiếu sáng"}],
                   "resources": [{"url": "https://x.vn/den.xlsx", "format": "XLSX"}]}),
        )
        .await;
        create(
            &app,
            &app.huewaco,
            json!({"name": "nuoc-sach", "title": "Chất lượng nước sạch", "license_id": "cc-by-4.0",
                   "tags": [{"name": "nước"}, {"name": "môi trường"}],
                   "resources": [{"url": "https://x.vn/nuoc.csv", "format": "CSV"},
                                 {"url": "https://x.vn/nuoc.json", "format": "JSON"}]}),
        )
        .await;
        let public = expected(
            2,
            &["nuoc-sach", "rac-thai"],
            [
                &[("hepco", 1, HEPCO), ("huewaco", 1, HUEWACO)],
                &[("moi-truong", 1, "Môi trường")],
                &[
                    ("môi trường", 2, "môi trường"),
                    ("nước", 1, "nước"),
                    ("rác thải", 1, "rác thải"),
                ],
                &[("CSV", 2, "CSV"), ("JSON", 1, "JSON")],
                &[("cc-by-4.0", 2, CC_BY)],
            ],
        );
        assert_eq!(summary(&other, sorted, None).await, public, "{backend:?}");
        // The private dataset, for its agency only.
        let with_private = format!("{sorted}&include_private=true");
        assert_eq!(
            summary(&other, &with_private, None).await,
            public,
            "{backend:?}"
        );
        assert_eq!(
            summary(&other, &with_private, Some(&app.hepco)).await,
            expected(
                3,
                &["den-duong", "nuoc-sach", "rac-thai"],
                [
                    &[("hepco", 2, HEPCO), ("huewaco", 1, HUEWACO)],
                    &[("moi-truong", 1, "Môi trường")],
                    &[
                        ("môi trường", 2, "môi trường"),
                        ("chiếu sáng", 1, "chiếu sáng"),
                        ("nước", 1, "nước"),
                        ("rác thải", 1, "rác thải"),
                    ],
                    &[("CSV", 2, "CSV"), ("JSON", 1, "JSON"), ("XLSX", 1, "XLSX")],
                    &[("cc-by-4.0", 3, CC_BY)],
                ],
            ),
            "{backend:?}"
        );
        // With clauses (the matches come from the database, the counts from the index).
        assert_eq!(
            summary(&other, "q=moi%20truong&fq=res_format:JSON", None).await,
            expected(
                1,
                &["nuoc-sach"],
                [
                    &[("huewaco", 1, HUEWACO)],
                    &[],
                    &[("môi trường", 1, "môi trường"), ("nước", 1, "nước")],
                    &[("CSV", 1, "CSV"), ("JSON", 1, "JSON")],
                    &[("cc-by-4.0", 1, CC_BY)],
                ],
            ),
            "{backend:?}"
        );

        // Made public, retagged, a resource added: each seen by the other server.
        patch(
            &app,
            &app.hepco,
            json!({"id": "den-duong", "private": false}),
        )
        .await;
        patch(
            &app,
            &app.hepco,
            json!({"id": "rac-thai", "tags": [{"name": "rác thải"}, {"name": "chiếu sáng"}]}),
        )
        .await;
        let (status, body) = app
            .action(
                "resource_create",
                Some(&app.huewaco),
                json!({"package_id": "nuoc-sach", "url": "https://x.vn/nuoc.pdf", "format": "PDF"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            summary(&other, sorted, None).await,
            expected(
                3,
                &["den-duong", "nuoc-sach", "rac-thai"],
                [
                    &[("hepco", 2, HEPCO), ("huewaco", 1, HUEWACO)],
                    &[("moi-truong", 1, "Môi trường")],
                    &[
                        ("chiếu sáng", 2, "chiếu sáng"),
                        ("môi trường", 1, "môi trường"),
                        ("nước", 1, "nước"),
                        ("rác thải", 1, "rác thải"),
                    ],
                    &[
                        ("CSV", 2, "CSV"),
                        ("JSON", 1, "JSON"),
                        ("PDF", 1, "PDF"),
                        ("XLSX", 1, "XLSX"),
                    ],
                    &[("cc-by-4.0", 3, CC_BY)],
                ],
            ),
            "{backend:?}"
        );
        // facet.mincount and facet.limit apply to the counts of the index.
        let result = search(
            &other,
            &format!("rows=0&facet.mincount=2&facet.limit=1&{FACETS}"),
            None,
        )
        .await;
        assert_eq!(
            result["facets"],
            json!({"organization": {"hepco": 2}, "groups": {}, "tags": {"chiếu sáng": 2},
                   "res_format": {"CSV": 2}, "license_id": {"cc-by-4.0": 3}}),
            "{backend:?}"
        );

        // Deleted.
        let (status, body) = app
            .action(
                "package_delete",
                Some(&app.huewaco),
                json!({"id": "nuoc-sach"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let after = |hepco: &'static str| {
            expected(
                2,
                &["den-duong", "rac-thai"],
                [
                    &[("hepco", 2, hepco)],
                    &[("moi-truong", 1, "Môi trường")],
                    &[("chiếu sáng", 2, "chiếu sáng"), ("rác thải", 1, "rác thải")],
                    &[("CSV", 1, "CSV"), ("XLSX", 1, "XLSX")],
                    &[("cc-by-4.0", 2, CC_BY)],
                ],
            )
        };
        assert_eq!(
            summary(&other, sorted, None).await,
            after(HEPCO),
            "{backend:?}"
        );
        // The organization renamed with its agency: its display name follows.
        let system = dothi_domain::Actor::system();
        let mut agency = app
            .store
            .reference()
            .agency_by_code("HEPCO")
            .cloned()
            .expect("HEPCO");
        agency.name = "Công ty Môi trường đô thị Huế".into();
        app.store
            .put_agency(&system, &agency)
            .await
            .expect("rename");
        assert_eq!(app.store.catalog_sync_organizations().await.unwrap(), 0);
        assert_eq!(
            summary(&other, sorted, None).await,
            after("Công ty Môi trường đô thị Huế"),
            "{backend:?}"
        );

        // The writer's own server, the other one and one started now answer alike.
        let fresh = other_server(&app).await;
        for query in [
            sorted.to_string(),
            format!("{with_private}&rows=1&start=1"),
            "q=chieu&sort=title_string%20desc".into(),
            "fq=-tags:%22r%C3%A1c%20th%E1%BA%A3i%22".into(),
        ] {
            for token in [None, Some(app.hepco.as_str())] {
                let fresh_answer = search(&fresh, &format!("{query}&{FACETS}"), token).await;
                assert_eq!(
                    search(&other, &format!("{query}&{FACETS}"), token).await,
                    fresh_answer,
                    "{backend:?} {query}"
                );
                assert_eq!(
                    search(&app.router, &format!("{query}&{FACETS}"), token).await,
                    fresh_answer,
                    "{backend:?} {query}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn searches_during_concurrent_writes_end_up_with_every_write() {
    for backend in BACKENDS {
        let app = std::sync::Arc::new(App::new(backend).await);
        let other = other_server(&app).await;
        let query = format!("sort=name%20asc&rows=100&{FACETS}");
        search(&other, &query, None).await;
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let app = app.clone();
                tokio::spawn(async move {
                    for i in 0..6 {
                        let tag = format!("nhóm {}", (w + i) % 3);
                        create(
                            &app,
                            &app.hepco,
                            json!({"name": format!("bo-du-lieu-{w}-{i}"), "license_id": "cc-by-4.0",
                                   "tags": [{"name": tag}],
                                   "resources": [{"url": "https://x.vn/a.csv", "format": "CSV"}]}),
                        )
                        .await;
                    }
                })
            })
            .collect();
        // The other server searches (and catches up) while the writes commit.
        let searching = {
            let other = other.clone();
            let query = query.clone();
            tokio::spawn(async move {
                for _ in 0..30 {
                    search(&other, &query, None).await;
                }
            })
        };
        for w in writers {
            w.await.expect("writer");
        }
        searching.await.expect("searches");
        let fresh = other_server(&app).await;
        let answer = search(&other, &query, None).await;
        assert_eq!(answer["count"], 24, "{backend:?}");
        assert_eq!(
            answer["facets"]["tags"],
            json!({"nhóm 0": 8, "nhóm 1": 8, "nhóm 2": 8}),
            "{backend:?}"
        );
        assert_eq!(answer, search(&fresh, &query, None).await, "{backend:?}");
    }
}
