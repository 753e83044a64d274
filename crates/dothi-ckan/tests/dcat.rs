//! The DCAT-AP 3 documents of the real catalogue over HTTP, on SQLite and PostgreSQL: whole
//! Turtle and JSON-LD documents for a small catalogue, and what must not be exported.

mod common;

use axum::http::StatusCode;
use common::{App, BACKENDS};
use dothi_catalog::access::Viewer;
use dothi_catalog::model::Translated;
use serde_json::{json, Value};

/// A public dataset with a link and an uploaded CSV, filed under a group; a private one and a
/// deleted one that must never appear.
async fn small_catalogue(app: &App) {
    app.store
        .catalog_create_group(
            &Viewer::system(),
            "moi-truong",
            Translated::new("Môi trường", "Environment"),
            Translated::default(),
        )
        .await
        .map_err(|e| e.to_string())
        .expect("group");
    let (status, body) = app
        .action(
            "package_create",
            Some(&app.admin),
            json!({
                "id": "0b6c1f0e-aaaa-4000-8000-000000000001",
                "name": "diem-thu-gom-rac",
                "title_translated": {"vi": "Điểm thu gom rác", "en": "Waste collection points"},
                "notes_translated": {
                    "vi": "Vị trí các điểm tập kết \"rác thải\" sinh hoạt.",
                    "en": "Where household waste is collected."
                },
                "owner_org": "hepco",
                "license_id": "cc-by-4.0",
                "version": "1.0",
                "tags": [{"name": "rác thải"}],
                "groups": [{"name": "moi-truong"}],
                "resources": [{
                    "id": "0b6c1f0e-bbbb-4000-8000-000000000002",
                    "name": "Bản đồ",
                    "url": "https://hepco.vn/diem-thu-gom.geojson",
                    "format": "GeoJSON"
                }]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .multipart(
            "resource_create",
            Some(&app.hepco),
            &[
                ("package_id", "diem-thu-gom-rac"),
                ("name", "Danh sách điểm"),
                ("format", "CSV"),
                ("mimetype", "text/csv"),
            ],
            Some((
                "diem.csv",
                b"ma,ten\r\n1,Ch\xe1\xbb\xa3 \xc4\x90\xc3\xb4ng Ba\r\n",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (name, private) in [("du-lieu-noi-bo", true), ("da-xoa", false)] {
        let (status, body) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": name, "title": "Không công khai", "notes": "x",
                       "owner_org": "hepco", "private": private}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app
        .action("package_delete", Some(&app.hepco), json!({"id": "da-xoa"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The upload's random id, as `{upload}` in the expected documents.
async fn placeholders(app: &App) -> Vec<(String, String)> {
    let (_, shown) = app
        .action("package_show", None, json!({"id": "diem-thu-gom-rac"}))
        .await;
    let upload = shown["result"]["resources"][1]["id"].as_str().unwrap();
    vec![("{upload}".into(), upload.to_string())]
}

/// Instants are written to the second and all fall in the test's second or the next: each
/// becomes `<time>`; [`times_are_the_catalogues`] checks them.
fn normalise(document: &str) -> String {
    regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00")
        .unwrap()
        .replace_all(document, "<time>")
        .into_owned()
}

/// The dataset's `dct:issued` and `dct:modified` are `package_show`'s times in +07:00.
async fn times_are_the_catalogues(app: &App, turtle: &str) {
    let (_, shown) = app
        .action("package_show", None, json!({"id": "diem-thu-gom-rac"}))
        .await;
    let vn = |v: &Value| {
        let t = chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time")).unwrap();
        dothi_calendar::format_vn(t.with_timezone(&chrono::Utc))
    };
    for (property, key) in [
        ("issued", "metadata_created"),
        ("modified", "metadata_modified"),
    ] {
        let line = format!(
            "dct:{property} \"{}\"^^xsd:dateTime ;\n\tdcat:version",
            vn(&shown["result"][key])
        );
        let line = if property == "issued" {
            line.replace(" ;\n\tdcat:version", " ;\n\tdct:modified")
        } else {
            line
        };
        assert!(turtle.contains(&line), "{line} in {turtle}");
    }
}

/// `DOTHI_BLESS=1` rewrites the expected documents from the actual ones (review the diff).
fn bless(name: &str, actual: &str, values: &[(String, String)]) {
    if std::env::var_os("DOTHI_BLESS").is_some() {
        let mut expected = actual.to_string();
        for (placeholder, value) in values {
            expected = expected.replace(value, placeholder);
        }
        let path = format!("{}/tests/dcat/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, expected).expect("write the expected document");
    }
}

fn fill(template: &str, values: &[(String, String)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |s, (k, v)| s.replace(k, v))
}

#[tokio::test]
async fn catalogue_and_dataset_documents_hold_exactly_the_public_datasets() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        small_catalogue(&app).await;
        let values = placeholders(&app).await;

        let (status, body, ct) = app.raw("/catalog.ttl").await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        assert_eq!(ct.as_deref(), Some("text/turtle;charset=utf-8"));
        let turtle = String::from_utf8(body).unwrap();
        times_are_the_catalogues(&app, &turtle).await;
        let turtle = normalise(&turtle);
        bless("catalog.ttl", &turtle, &values);
        assert_eq!(
            turtle,
            fill(include_str!("dcat/catalog.ttl"), &values),
            "{backend:?}"
        );

        let (status, body, ct) = app.raw("/catalog.jsonld?page=1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("application/ld+json"));
        let body = normalise(std::str::from_utf8(&body).unwrap());
        bless("catalog.jsonld", &body, &values);
        let expected: Value =
            serde_json::from_str(&fill(include_str!("dcat/catalog.jsonld"), &values)).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);

        let dataset_ttl = fill(include_str!("dcat/dataset.ttl"), &values);
        // By id and by name: the same document.
        for id in ["0b6c1f0e-aaaa-4000-8000-000000000001", "diem-thu-gom-rac"] {
            let router = dothi_ckan::dataset_exports(app.store.clone(), app.config());
            let (status, body, ct) = common::raw_on(&router, &format!("/dataset/{id}.ttl")).await;
            assert_eq!(status, StatusCode::OK, "{id}");
            assert_eq!(ct.as_deref(), Some("text/turtle;charset=utf-8"));
            let body = normalise(std::str::from_utf8(&body).unwrap());
            bless("dataset.ttl", &body, &values);
            assert_eq!(body, dataset_ttl);
        }
        let router = dothi_ckan::dataset_exports(app.store.clone(), app.config());
        let (status, body, _) = common::raw_on(&router, "/dataset/diem-thu-gom-rac.jsonld").await;
        assert_eq!(status, StatusCode::OK);
        let body = normalise(std::str::from_utf8(&body).unwrap());
        bless("dataset.jsonld", &body, &values);
        let expected: Value =
            serde_json::from_str(&fill(include_str!("dcat/dataset.jsonld"), &values)).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), expected);

        // RDF/XML, as ckanext-dcat offers it under `.rdf` and `.xml`: the same document.
        let dataset_rdf = fill(include_str!("dcat/dataset.rdf"), &values);
        for suffix in ["rdf", "xml"] {
            let (status, body, ct) =
                common::raw_on(&router, &format!("/dataset/diem-thu-gom-rac.{suffix}")).await;
            assert_eq!(status, StatusCode::OK, "{suffix}");
            assert_eq!(ct.as_deref(), Some("application/rdf+xml;charset=utf-8"));
            let body = normalise(std::str::from_utf8(&body).unwrap());
            bless("dataset.rdf", &body, &values);
            assert_eq!(body, dataset_rdf, "{suffix}");
        }
        for path in ["/catalog.rdf", "/catalog.xml"] {
            let (status, body, ct) = app.raw(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(ct.as_deref(), Some("application/rdf+xml;charset=utf-8"));
            let body = String::from_utf8(body).unwrap();
            assert!(body.starts_with("<?xml"), "{body}");
            // The paging names the collection as it was asked for.
            assert!(
                body.contains(&format!(
                    "<hydra:PagedCollection rdf:about=\"{}{path}?page=1\"",
                    common::BASE
                )),
                "{body}"
            );
        }

        // Private, deleted and unknown datasets, other suffixes, and pages past the last.
        for path in [
            "/dataset/du-lieu-noi-bo.ttl",
            "/dataset/da-xoa.rdf",
            "/dataset/khong-co.jsonld",
            "/dataset/diem-thu-gom-rac.n3",
        ] {
            let (status, body, _) = common::raw_on(&router, path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body, b"Not found", "{path}");
        }
        for path in ["/catalog.ttl?page=2", "/catalog.jsonld?page=2"] {
            let (status, _, _) = app.raw(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        for path in ["/catalog.ttl?page=0", "/catalog.ttl?page=x"] {
            let (status, body, _) = app.raw(path).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(body, b"page must be a whole number from 1");
        }
    }
}

#[tokio::test]
async fn an_empty_catalogue_has_one_empty_page() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, body, _) = app.raw("/catalog.ttl").await;
        assert_eq!(status, StatusCode::OK);
        let turtle = String::from_utf8(body).unwrap();
        assert!(turtle.contains("hydra:totalItems 0"), "{turtle}");
        assert!(!turtle.contains("dcat:dataset "), "{turtle}");
        let (status, _, _) = app.raw("/catalog.ttl?page=2").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
