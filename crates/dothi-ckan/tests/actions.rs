#![recursion_limit = "256"]
//! The CKAN Action API over HTTP, on SQLite and PostgreSQL, asserting whole CKAN responses.

mod common;

use axum::http::StatusCode;
use common::{failed, normalise, ok, org_id, App, BACKENDS};
use serde_json::{json, Value};

fn hepco_org() -> Value {
    json!({
        "approval_status": "approved",
        "created": "<time>",
        "description": "",
        "id": org_id("HEPCO"),
        "image_url": "",
        "is_organization": true,
        "name": "hepco",
        "state": "active",
        "title": "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)",
        "title_translated": {
            "en": "Hue Urban Environment and Public Works Joint Stock Company (HEPCO)",
            "vi": "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)"
        },
        "type": "organization"
    })
}

fn waste_points_request() -> Value {
    json!({
        "name": "diem-thu-gom-rac",
        "title_translated": {"vi": "Điểm thu gom rác", "en": "Waste collection points"},
        "notes": "Vị trí các điểm tập kết rác thải sinh hoạt.",
        "owner_org": "hepco",
        "license_id": "cc-by-4.0",
        "tags": [{"name": "rác thải"}, {"name": "môi trường"}],
        "extras": [{"key": "frequency", "value": "hằng tháng"}],
        "resources": [{"name": "Bản đồ", "url": "https://hepco.vn/diem-thu-gom.geojson"}]
    })
}

/// The whole package dictionary `package_create` answers for [`waste_points_request`], with
/// random ids and instants normalised.
fn waste_points_dict(creator: &str) -> Value {
    json!({
        "author": null,
        "author_email": null,
        "creator_user_id": creator,
        "extras": [{"key": "frequency", "value": "hằng tháng"}],
        "groups": [],
        "id": "<id1>",
        "isopen": true,
        "license_id": "cc-by-4.0",
        "license_title": "Creative Commons Ghi công 4.0 Quốc tế",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "maintainer": null,
        "maintainer_email": null,
        "metadata_created": "<time>",
        "metadata_modified": "<time>",
        "name": "diem-thu-gom-rac",
        "notes": "Vị trí các điểm tập kết rác thải sinh hoạt.",
        "notes_translated": {"en": "", "vi": "Vị trí các điểm tập kết rác thải sinh hoạt."},
        "num_resources": 1,
        "num_tags": 2,
        "organization": hepco_org(),
        "owner_org": org_id("HEPCO"),
        "private": false,
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "resources": [{
            "cache_last_updated": null,
            "cache_url": null,
            "created": "<time>",
            "datastore_active": false,
            "description": "",
            "description_translated": {"en": "", "vi": ""},
            "format": "GeoJSON",
            "hash": "",
            "id": "<id2>",
            "last_modified": null,
            "metadata_modified": "<time>",
            "mimetype": null,
            "mimetype_inner": null,
            "name": "Bản đồ",
            "name_translated": {"en": "", "vi": "Bản đồ"},
            "package_id": "<id1>",
            "position": 0,
            "resource_type": null,
            "size": null,
            "state": "active",
            "url": "https://hepco.vn/diem-thu-gom.geojson",
            "url_type": null
        }],
        "state": "active",
        "tags": [
            {"display_name": "rác thải", "id": dothi_catalog::tag_id("rác thải"), "name": "rác thải", "state": "active", "vocabulary_id": null},
            {"display_name": "môi trường", "id": dothi_catalog::tag_id("môi trường"), "name": "môi trường", "state": "active", "vocabulary_id": null}
        ],
        "title": "Điểm thu gom rác",
        "title_translated": {"en": "Waste collection points", "vi": "Điểm thu gom rác"},
        "type": "dataset",
        "url": null,
        "version": null
    })
}

async fn hepco_user_id(app: &App) -> String {
    app.store
        .catalog_user("hepco")
        .await
        .unwrap()
        .unwrap()
        .user
        .id
        .to_string()
}

#[tokio::test]
async fn agency_editor_creates_shows_patches_and_deletes_a_dataset() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let creator = hepco_user_id(&app).await;
        let (status, created) = app
            .action("package_create", Some(&app.hepco), waste_points_request())
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?} {created}");
        assert_eq!(
            normalise(&created),
            ok("package_create", waste_points_dict(&creator)),
            "{backend:?}"
        );
        let id = created["result"]["id"].as_str().unwrap().to_string();

        // Anyone reads it, by id or by name, with GET as with POST.
        let (status, shown) = app
            .get("/api/3/action/package_show?id=diem-thu-gom-rac", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["result"], created["result"], "{backend:?}");

        // package_patch changes what it is given; the fluent copy follows the title.
        let (status, patched) = app
            .action(
                "package_patch",
                Some(&app.hepco),
                json!({"id": id, "title": "Điểm tập kết rác", "private": "True"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let mut expected = waste_points_dict(&creator);
        expected["title"] = json!("Điểm tập kết rác");
        expected["title_translated"]["vi"] = json!("Điểm tập kết rác");
        expected["private"] = json!(true);
        assert_eq!(
            normalise(&patched),
            ok("package_patch", expected),
            "{backend:?}"
        );

        // Another agency may not touch it.
        let (status, refused) = app
            .action("package_delete", Some(&app.huewaco), json!({"id": id}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            refused,
            failed(
                "package_delete",
                json!({"__type": "Authorization Error",
                       "message": format!("Access denied: User huewaco not authorized to delete package {id}")})
            )
        );

        let (status, deleted) = app
            .action(
                "package_delete",
                Some(&app.hepco),
                json!({"id": "diem-thu-gom-rac"}),
            )
            .await;
        assert_eq!(
            (status, deleted),
            (StatusCode::OK, ok("package_delete", Value::Null))
        );
        // A soft delete: gone for the public, still there (deleted) for its editors.
        let (status, gone) = app
            .get(
                &format!("/api/3/action/package_show?id={id}"),
                Some(&app.ioc),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{gone}");
        let (status, kept) = app
            .get(
                &format!("/api/3/action/package_show?id={id}"),
                Some(&app.admin),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(kept["result"]["state"], "deleted");
        let (_, list) = app.get("/api/3/action/package_list", None).await;
        assert_eq!(list, ok("package_list", json!([])));
        // The name stays taken, as in CKAN.
        let (status, again) = app
            .action("package_create", Some(&app.hepco), waste_points_request())
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            again,
            failed(
                "package_create",
                json!({"__type": "Validation Error", "name": ["That URL is already in use."]})
            )
        );
        // Its editors restore it by naming the state.
        let (status, restored) = app
            .action(
                "package_patch",
                Some(&app.hepco),
                json!({"id": id, "state": "active"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{restored}");
        assert_eq!(restored["result"]["state"], "active");
        let (_, list) = app.get("/api/3/action/package_list", None).await;
        assert_eq!(list, ok("package_list", json!([])), "still private");
    }
}

#[tokio::test]
async fn refusals_have_ckans_types_messages_and_status_codes() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, body) = app
            .action("package_create", None, waste_points_request())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            failed(
                "package_create",
                json!({"__type": "Authorization Error",
                       "message": "Access denied: Action package_create requires an authenticated user"})
            )
        );
        let (status, body) = app
            .action("package_create", Some(&app.citizen), waste_points_request())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body["error"]["message"],
            "Access denied: User citizen not authorized to add dataset to this organization"
        );

        let (status, body) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({
                    "name": "Bad Name",
                    "owner_org": "khong-co",
                    "tags": [{"name": "ok"}, {"name": "a<b"}],
                    "resources": [{"url": "ftp://x"}],
                    "author_email": "not-an-email"
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body,
            failed(
                "package_create",
                json!({
                    "__type": "Validation Error",
                    "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
                    "tags": [{}, {"name": ["Tag \"a<b\" must be alphanumeric characters or symbols: -_."]}],
                    "resources": [{"url": ["Please provide a valid URL"]}],
                    "author_email": ["Email not-an-email is not a valid format"]
                })
            )
        );
        let (status, body) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": "ok-name", "owner_org": "khong-co"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body,
            failed(
                "package_create",
                json!({"__type": "Validation Error", "owner_org": ["Organization does not exist"]})
            )
        );

        let (status, body) = app
            .get("/api/3/action/package_show?id=khong-co", None)
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::NOT_FOUND,
                failed(
                    "package_show",
                    json!({"__type": "Not Found Error", "message": "Not found"})
                )
            )
        );
        let (status, body) = app.get("/api/3/action/package_show", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::CONFLICT,
                failed(
                    "package_show",
                    json!({"__type": "Validation Error", "name_or_id": ["Missing value"]})
                )
            )
        );
        // CKAN's bare 400s: a JSON string, no envelope.
        let (status, body) = app.get("/api/3/action/package_frobnicate", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!("Bad request - Action name not known: package_frobnicate")
            )
        );
        let (status, body) = app.get("/api/3/action/package_create?name=x", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                json!("Bad request - JSON Error: Invalid request. Please use POST method for your request")
            )
        );
        let req = axum::http::Request::post("/api/action/package_search")
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap();
        let (status, body) = app.send(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.as_str()
                .unwrap()
                .starts_with("Bad request - JSON Error: Error decoding JSON data."),
            "{body}"
        );
        let (status, body) = app
            .get("/api/3/action/package_search?sort=colour%20asc", None)
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                failed(
                    "package_search",
                    json!({"__type": "Search Query Error",
                           "message": "Search Query is invalid: \"can not sort on field 'colour'\""})
                )
            )
        );
        let (status, body) = app.get("/api/3/action/help_show", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::CONFLICT,
                failed(
                    "help_show",
                    json!({"__type": "Validation Error", "name": ["Missing value"]})
                )
            )
        );
        let (status, body) = app.get("/api/3/action/help_show?name=nothing", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::NOT_FOUND,
                failed(
                    "help_show",
                    json!({"__type": "Not Found Error", "message": "Not found: Action function not found"})
                )
            )
        );
    }
}

#[tokio::test]
async fn private_datasets_are_seen_by_their_agency_the_ioc_and_admins_only() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let mut request = waste_points_request();
        request["private"] = json!(true);
        let (status, created) = app
            .action("package_create", Some(&app.hepco), request)
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let id = created["result"]["id"].as_str().unwrap();
        for (who, token, allowed) in [
            ("anonymous", None, false),
            ("citizen", Some(&app.citizen), false),
            ("huewaco", Some(&app.huewaco), false),
            ("hepco", Some(&app.hepco), true),
            ("ioc", Some(&app.ioc), true),
            ("admin", Some(&app.admin), true),
        ] {
            let (status, body) = app
                .get(
                    &format!("/api/3/action/package_show?id={id}"),
                    token.map(String::as_str),
                )
                .await;
            if allowed {
                assert_eq!(status, StatusCode::OK, "{backend:?} {who}");
                assert_eq!(body["result"], created["result"]);
            } else {
                let name = if who == "anonymous" { "" } else { who };
                assert_eq!(
                    (status, body),
                    (
                        StatusCode::FORBIDDEN,
                        failed(
                            "package_show",
                            json!({"__type": "Authorization Error",
                                   "message": format!("Access denied: User {name} not authorized to read package {id}")})
                        )
                    ),
                    "{backend:?} {who}"
                );
            }
            let (_, found) = app
                .get(
                    "/api/3/action/package_search?include_private=true&q=rac",
                    token.map(String::as_str),
                )
                .await;
            assert_eq!(
                found["result"]["count"],
                json!(allowed as i64),
                "{backend:?} {who}"
            );
        }
        let (_, found) = app
            .get("/api/3/action/package_search?q=rac", Some(&app.hepco))
            .await;
        assert_eq!(
            found["result"]["count"], 0,
            "private only with include_private"
        );
    }
}

#[tokio::test]
async fn package_search_folds_diacritics_filters_sorts_pages_and_counts_facets() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        for (name, title, org, tags, format) in [
            (
                "nuoc-sach",
                "Chất lượng nước sạch",
                "huewaco",
                vec!["nước", "môi trường"],
                "CSV",
            ),
            (
                "rac-thai",
                "Khối lượng rác thải",
                "hepco",
                vec!["rác thải", "môi trường"],
                "XLSX",
            ),
            (
                "den-duong",
                "Đèn đường hỏng",
                "hepco",
                vec!["chiếu sáng"],
                "CSV",
            ),
        ] {
            let token = if org == "hepco" {
                &app.hepco
            } else {
                &app.huewaco
            };
            let tags: Vec<Value> = tags.iter().map(|t| json!({"name": t})).collect();
            let (status, body) = app
                .action(
                    "package_create",
                    Some(token),
                    json!({"name": name, "title": title, "tags": tags,
                           "resources": [{"url": format!("https://x.vn/{name}.{}", format.to_lowercase())}]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let names = |body: &Value| -> Vec<String> {
            body["result"]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, body) = app
            .get("/api/3/action/package_search?q=DUONG&sort=name%20asc", None)
            .await;
        assert_eq!(names(&body), ["den-duong"], "{backend:?}");
        let (_, body) = app
            .get("/api/3/action/package_search?fq=tags:%22m%C3%B4i%20tr%C6%B0%E1%BB%9Dng%22&sort=name%20desc", None)
            .await;
        assert_eq!(names(&body), ["rac-thai", "nuoc-sach"], "{backend:?}");
        let (_, body) = app
            .get("/api/3/action/package_search?q=-res_format:CSV", None)
            .await;
        assert_eq!(names(&body), ["rac-thai"], "{backend:?}");
        let (_, body) = app
            .get(
                "/api/3/action/package_search?rows=1&start=1&sort=title_string%20asc",
                None,
            )
            .await;
        // Titles folded: "chat…" < "den…" < "khoi…".
        assert_eq!(names(&body), ["den-duong"], "{backend:?}");
        assert_eq!(body["result"]["count"], 3);

        let (status, body) = app
            .action(
                "package_search",
                None,
                json!({"q": "*:*", "rows": 0, "facet.field": ["organization", "res_format", "tags", "colour"], "facet.limit": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let hepco = "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)";
        let huewaco = "Công ty Cổ phần Cấp nước Thừa Thiên Huế (HUEWACO)";
        assert_eq!(
            body,
            ok(
                "package_search",
                json!({
                    "count": 3,
                    "facets": {
                        "colour": {},
                        "organization": {"hepco": 2, "huewaco": 1},
                        "res_format": {"CSV": 2, "XLSX": 1},
                        "tags": {"môi trường": 2, "chiếu sáng": 1}
                    },
                    "results": [],
                    "search_facets": {
                        "colour": {"items": [], "title": "colour"},
                        "organization": {"items": [
                            {"count": 2, "display_name": hepco, "name": "hepco"},
                            {"count": 1, "display_name": huewaco, "name": "huewaco"}
                        ], "title": "organization"},
                        "res_format": {"items": [
                            {"count": 2, "display_name": "CSV", "name": "CSV"},
                            {"count": 1, "display_name": "XLSX", "name": "XLSX"}
                        ], "title": "res_format"},
                        "tags": {"items": [
                            {"count": 2, "display_name": "môi trường", "name": "môi trường"},
                            {"count": 1, "display_name": "chiếu sáng", "name": "chiếu sáng"}
                        ], "title": "tags"}
                    },
                    "sort": "score desc, metadata_modified desc"
                })
            ),
            "{backend:?}"
        );
        // Facets follow the query.
        let (_, body) = app
            .get(
                "/api/3/action/package_search?q=nuoc&facet.field=%5B%22organization%22%5D",
                None,
            )
            .await;
        assert_eq!(
            body["result"]["facets"],
            json!({"organization": {"huewaco": 1}}),
            "{backend:?}"
        );
        // rows above 1000 are capped, as CKAN's rows_max does.
        let (status, _) = app
            .get("/api/3/action/package_search?rows=5000", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, tags) = app.get("/api/3/action/tag_list?query=moi", None).await;
        assert_eq!(tags, ok("tag_list", json!(["môi trường"])));
    }
}

#[tokio::test]
async fn organizations_are_the_agencies_and_lists_count_public_datasets() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, _) = app
            .action("package_create", Some(&app.hepco), waste_points_request())
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, names) = app
            .get(
                "/api/3/action/organization_list?sort=name%20asc&limit=3",
                None,
            )
            .await;
        assert_eq!(
            names,
            ok("organization_list", json!(["bqlcdb", "bqlkkt", "catp"])),
            "{backend:?}"
        );
        let (_, orgs) = app
            .action(
                "organization_list",
                None,
                json!({"all_fields": true, "sort": "package_count desc", "limit": 1}),
            )
            .await;
        let mut expected = hepco_org();
        expected["description_translated"] = json!({"en": "", "vi": ""});
        expected["display_name"] = expected["title"].clone();
        expected["image_display_url"] = json!("");
        expected["num_followers"] = json!(0);
        expected["package_count"] = json!(1);
        assert_eq!(
            normalise(&orgs),
            ok("organization_list", json!([expected.clone()])),
            "{backend:?}"
        );
        let (_, shown) = app
            .get("/api/3/action/organization_show?id=hepco", None)
            .await;
        expected["extras"] = json!([]);
        expected["groups"] = json!([]);
        expected["tags"] = json!([]);
        expected["users"] = json!([]);
        assert_eq!(
            normalise(&shown),
            ok("organization_show", expected),
            "{backend:?}"
        );
        let (status, _) = app.get("/api/3/action/group_show?id=khong-co", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, licences) = app.get("/api/3/action/license_list", None).await;
        assert_eq!(
            licences["result"][0],
            json!({
                "domain_content": false, "domain_data": false, "domain_software": false,
                "family": "", "id": "notspecified", "is_generic": true, "maintainer": "",
                "od_conformance": "not reviewed", "osd_conformance": "not reviewed",
                "status": "active", "title": "Giấy phép không xác định",
                "title_translated": {"en": "License not specified", "vi": "Giấy phép không xác định"},
                "url": ""
            })
        );
        // Staff profiles are public; citizens' are not.
        let (status, user) = app.get("/api/3/action/user_show?id=hepco", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            normalise(&user),
            ok(
                "user_show",
                json!({
                    "about": null, "activity_streams_email_notifications": false, "created": "<time>",
                    "display_name": "Người dùng hepco", "fullname": "Người dùng hepco",
                    "id": hepco_user_id(&app).await, "image_display_url": null, "image_url": null,
                    "name": "hepco", "state": "active", "sysadmin": false
                })
            )
        );
        let (status, _) = app.get("/api/3/action/user_show?id=citizen", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, own) = app.get("/api/3/action/user_show", Some(&app.citizen)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(own["result"]["email"], "citizen@example.vn");
    }
}

#[tokio::test]
async fn uploads_are_stored_on_disk_served_at_ckans_download_url_and_replaced() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (_, created) = app
            .action("package_create", Some(&app.hepco), waste_points_request())
            .await;
        let dataset_id = created["result"]["id"].as_str().unwrap().to_string();
        let csv = "ma,ten\nTG01,Chợ Đông Ba\n".as_bytes();
        let (status, resource) = app
            .multipart(
                "resource_create",
                Some(&app.hepco),
                &[
                    ("package_id", "diem-thu-gom-rac"),
                    ("name", "Danh sách điểm"),
                    ("description", "Bản CSV"),
                ],
                Some(("Danh sách điểm.csv", csv)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?} {resource}");
        let rid = resource["result"]["id"].as_str().unwrap().to_string();
        let url = format!(
            "http://ckan.test/dataset/{dataset_id}/resource/{rid}/download/danh-sach-diem.csv"
        );
        assert_eq!(
            resource,
            ok(
                "resource_create",
                json!({
                    "cache_last_updated": null, "cache_url": null,
                    "created": resource["result"]["created"], "datastore_active": false,
                    "description": "Bản CSV", "description_translated": {"en": "", "vi": "Bản CSV"},
                    "format": "CSV",
                    "hash": "7f4a4cf61574ce2275bfa0301e81ff22926db1aa6f064adb1e649e63ae57e954",
                    "id": rid, "last_modified": resource["result"]["last_modified"],
                    "metadata_modified": resource["result"]["metadata_modified"],
                    "mimetype": "text/csv", "mimetype_inner": null,
                    "name": "Danh sách điểm", "name_translated": {"en": "", "vi": "Danh sách điểm"},
                    "package_id": dataset_id, "position": 1, "resource_type": null,
                    "size": csv.len(), "state": "active", "url": url, "url_type": "upload"
                })
            ),
            "{backend:?}"
        );
        let (status, bytes, content_type) =
            app.raw(url.strip_prefix("http://ckan.test").unwrap()).await;
        assert_eq!(
            (status, bytes.as_slice(), content_type.as_deref()),
            (StatusCode::OK, csv, Some("text/csv"))
        );
        assert_eq!(app.stored_files().len(), 1);

        // resource_patch with a new file: the new content is served, the old file removed.
        let (status, patched) = app
            .multipart(
                "resource_patch",
                Some(&app.hepco),
                &[("id", &rid)],
                Some(("v2.csv", b"ma\nTG02\n")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["result"]["name"], "Danh sách điểm");
        assert_eq!(patched["result"]["size"], 8);
        let new_url = patched["result"]["url"].as_str().unwrap();
        assert!(new_url.ends_with("/download/v2.csv"), "{new_url}");
        let (_, bytes, _) = app
            .raw(new_url.strip_prefix("http://ckan.test").unwrap())
            .await;
        assert_eq!(bytes, b"ma\nTG02\n");
        assert_eq!(app.stored_files().len(), 1, "the replaced file is removed");

        // Another agency cannot upload; nothing of its upload stays on disk.
        let (status, refused) = app
            .multipart(
                "resource_patch",
                Some(&app.huewaco),
                &[("id", &rid)],
                Some(("x.csv", b"x")),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            refused["error"]["message"],
            format!("Access denied: User huewaco not authorized to edit resource {rid}")
        );
        // Anonymous uploads are refused before the body is read.
        let (status, _) = app
            .multipart(
                "resource_create",
                None,
                &[("package_id", &dataset_id)],
                Some(("x.csv", b"x")),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(app.stored_files().len(), 1);

        let (status, shown) = app
            .get(&format!("/api/3/action/resource_show?id={rid}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["result"], patched["result"]);

        // The files of a private dataset are private too.
        let (status, _) = app
            .action(
                "package_patch",
                Some(&app.hepco),
                json!({"id": dataset_id, "private": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, bytes, _) = app
            .raw(new_url.strip_prefix("http://ckan.test").unwrap())
            .await;
        assert_eq!(
            (status, bytes.as_slice()),
            (StatusCode::FORBIDDEN, &b"Unauthorized to read resource"[..])
        );
    }
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_no_file() {
    for backend in BACKENDS {
        let app = App::with_upload_limit(backend, 1024).await;
        let (_, created) = app
            .action("package_create", Some(&app.hepco), waste_points_request())
            .await;
        let id = created["result"]["id"].as_str().unwrap();
        let big = vec![b'x'; 4096];
        let (status, body) = app
            .multipart(
                "resource_create",
                Some(&app.hepco),
                &[("package_id", id)],
                Some(("big.csv", &big)),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::CONFLICT,
                failed(
                    "resource_create",
                    json!({"__type": "Validation Error", "upload": ["File upload too large"]})
                )
            )
        );
        assert_eq!(app.stored_files(), Vec::<std::path::PathBuf>::new());
    }
}

#[tokio::test]
async fn organizations_follow_new_and_renamed_agencies() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let system = dothi_domain::Actor::system();
        let (status, _) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": "diem-do-xe", "title": "Điểm đỗ xe"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let count = |q: &'static str| {
            let app = &app;
            async move {
                let (_, found) = app.action("package_search", None, json!({"q": q})).await;
                found["result"]["count"].clone()
            }
        };
        assert_eq!(
            count("cong trinh").await,
            1,
            "found by its organization's title"
        );
        let mut hepco = app
            .store
            .reference()
            .agency_by_code("HEPCO")
            .cloned()
            .unwrap();
        hepco.name = "Công ty Môi trường đô thị Huế".into();
        app.store.put_agency(&system, &hepco).await.unwrap();
        let mut added = hepco.clone();
        added.id = 0;
        added.code = "BQL-DA".into();
        added.name = "Ban Quản lý dự án".into();
        added.name_en = Some("Project Management Board".into());
        app.store.put_agency(&system, &added).await.unwrap();
        assert_eq!(app.store.catalog_sync_organizations().await.unwrap(), 1);
        assert_eq!(app.store.catalog_sync_organizations().await.unwrap(), 0);
        let (_, shown) = app
            .get("/api/3/action/organization_show?id=hepco", None)
            .await;
        assert_eq!(shown["result"]["title"], "Công ty Môi trường đô thị Huế");
        // The search index follows the new title.
        assert_eq!(count("cong trinh").await, 0, "{backend:?}");
        assert_eq!(count("moi truong do thi").await, 1, "{backend:?}");
        let (_, shown) = app
            .get("/api/3/action/organization_show?id=bql-da", None)
            .await;
        assert_eq!(
            (&shown["result"]["id"], &shown["result"]["title_translated"]),
            (
                &json!(org_id("BQL-DA")),
                &json!({"en": "Project Management Board", "vi": "Ban Quản lý dự án"})
            ),
            "{backend:?}"
        );
    }
}
