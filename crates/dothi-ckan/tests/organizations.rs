#![recursion_limit = "256"]
//! `organization_create`/`_update`/`_patch` and `group_create`/`_update`/`_patch` over HTTP,
//! on SQLite and PostgreSQL, asserting whole CKAN responses.

mod common;

use axum::http::StatusCode;
use common::{failed, normalise, ok, org_id, App, Case, BACKENDS};
use serde_json::{json, Value};

fn refused(action: &str, status: StatusCode, error: Value) -> (StatusCode, Value) {
    (status, failed(action, error))
}

fn invalid(action: &str, errors: Value) -> (StatusCode, Value) {
    let mut error = errors;
    error["__type"] = json!("Validation Error");
    refused(action, StatusCode::CONFLICT, error)
}

fn denied(action: &str, message: &str) -> (StatusCode, Value) {
    refused(
        action,
        StatusCode::FORBIDDEN,
        json!({"__type": "Authorization Error", "message": message}),
    )
}

const FROM_AGENCY: &str = "Set from the agency in the reference data: change the agency instead";

/// organization_show's dictionary of a hand-made organization.
fn data_centre(name: &str, title: Value, package_count: i64) -> Value {
    json!({
        "approval_status": "approved",
        "created": "<time>",
        "description": "Dữ liệu dùng chung của tỉnh",
        "description_translated": {"en": "", "vi": "Dữ liệu dùng chung của tỉnh"},
        "display_name": title["vi"],
        "extras": [],
        "groups": [],
        "id": "<id1>",
        "image_display_url": "https://hue.gov.vn/logo.png",
        "image_url": "https://hue.gov.vn/logo.png",
        "is_organization": true,
        "name": name,
        "num_followers": 0,
        "package_count": package_count,
        "state": "active",
        "tags": [],
        "title": title["vi"],
        "title_translated": title,
        "type": "organization",
        "users": []
    })
}

async fn search_count(app: &App, fq: &str) -> Value {
    let (_, found) = app.action("package_search", None, json!({"fq": fq})).await;
    found["result"]["count"].clone()
}

async fn search_q(app: &App, q: &str) -> Value {
    let (_, found) = app.action("package_search", None, json!({"q": q})).await;
    found["result"]["count"].clone()
}

#[tokio::test]
async fn sysadmins_create_and_rename_organizations_and_search_follows() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let title = json!({"en": "Data Centre", "vi": "Trung tâm Dữ liệu"});
        let (status, created) = app
            .action(
                "organization_create",
                Some(&app.admin),
                json!({
                    "name": "trung-tam-du-lieu",
                    "title_translated": title,
                    "description": "Dữ liệu dùng chung của tỉnh",
                    "image_url": "https://hue.gov.vn/logo.png",
                    "users": [{"name": "hepco", "capacity": "admin"}]
                }),
            )
            .await;
        assert_eq!(
            (status, normalise(&created)),
            (
                StatusCode::OK,
                ok(
                    "organization_create",
                    data_centre("trung-tam-du-lieu", title.clone(), 0)
                )
            ),
            "{backend:?}"
        );
        let id = created["result"]["id"].as_str().unwrap().to_string();
        let (status, _) = app
            .action(
                "package_create",
                Some(&app.admin),
                json!({"name": "danh-muc-dung-chung", "title": "Danh mục dùng chung",
                       "owner_org": "trung-tam-du-lieu"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            search_count(&app, "organization:trung-tam-du-lieu").await,
            1
        );
        assert_eq!(search_q(&app, "du lieu").await, 1);

        // Renamed (name and title): its datasets are found by the new ones only.
        let new_title =
            json!({"en": "Digital Transformation Centre", "vi": "Trung tâm Chuyển đổi số"});
        let (status, updated) = app
            .action(
                "organization_patch",
                Some(&app.admin),
                json!({"id": id, "name": "trung-tam-cds", "title_translated": new_title}),
            )
            .await;
        assert_eq!(
            (status, normalise(&updated)),
            (
                StatusCode::OK,
                ok(
                    "organization_patch",
                    data_centre("trung-tam-cds", new_title.clone(), 1)
                )
            ),
            "{backend:?}"
        );
        assert_eq!(
            search_count(&app, "organization:trung-tam-du-lieu").await,
            0
        );
        assert_eq!(search_count(&app, "organization:trung-tam-cds").await, 1);
        assert_eq!(search_q(&app, "du lieu").await, 0, "{backend:?}");
        assert_eq!(search_q(&app, "chuyen doi so").await, 1, "{backend:?}");
        let (_, dataset) = app
            .get("/api/3/action/package_show?id=danh-muc-dung-chung", None)
            .await;
        assert_eq!(dataset["result"]["organization"]["name"], "trung-tam-cds");

        // organization_update replaces: what is not given is cleared.
        let (status, updated) = app
            .action(
                "organization_update",
                Some(&app.admin),
                json!({"id": "trung-tam-cds", "name": "trung-tam-cds"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (
                &updated["result"]["title_translated"],
                &updated["result"]["description"],
                &updated["result"]["image_url"]
            ),
            (
                &json!({"en": "", "vi": "trung-tam-cds"}),
                &json!(""),
                &json!("")
            ),
            "{backend:?}"
        );

        let (status, body) = app
            .action(
                "organization_create",
                Some(&app.admin),
                json!({"name": "trung-tam-cds"}),
            )
            .await;
        assert_eq!(
            (status, body),
            invalid(
                "organization_create",
                json!({"name": ["Group name already exists in database"]})
            ),
            "{backend:?}"
        );
        let (status, body) = app
            .action(
                "organization_patch",
                Some(&app.admin),
                json!({"id": "trung-tam-cds", "name": "hepco"}),
            )
            .await;
        assert_eq!(
            (status, body),
            invalid(
                "organization_patch",
                json!({"name": ["Group name already exists in database"]})
            ),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_agencys_organization_keeps_the_reference_datas_name_and_titles() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, patched) = app
            .action(
                "organization_patch",
                Some(&app.admin),
                json!({"id": "hepco", "description_translated": {"vi": "Thu gom rác", "en": "Waste collection"},
                       "image_url": "https://hepco.vn/logo.png"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let (_, shown) = app
            .get("/api/3/action/organization_show?id=hepco", None)
            .await;
        assert_eq!(shown["result"], patched["result"]);
        assert_eq!(
            (
                &shown["result"]["id"],
                &shown["result"]["name"],
                &shown["result"]["title"],
                &shown["result"]["description_translated"],
                &shown["result"]["image_url"]
            ),
            (
                &json!(org_id("HEPCO")),
                &json!("hepco"),
                &json!("Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)"),
                &json!({"en": "Waste collection", "vi": "Thu gom rác"}),
                &json!("https://hepco.vn/logo.png")
            ),
            "{backend:?}"
        );
        // An update that round-trips the show dictionary passes; one that renames does not.
        let mut round_trip = shown["result"].clone();
        round_trip["description_translated"]["vi"] = json!("Môi trường đô thị");
        let (status, _) = app
            .action("organization_update", Some(&app.admin), round_trip)
            .await;
        assert_eq!(status, StatusCode::OK, "{backend:?}");
        let (status, body) = app
            .action(
                "organization_patch",
                Some(&app.admin),
                json!({"id": "hepco", "name": "evn-hue", "title": "Điện lực Huế",
                       "title_translated": {"en": "Hue Power"}}),
            )
            .await;
        assert_eq!(
            (status, body),
            invalid(
                "organization_patch",
                json!({"name": [FROM_AGENCY], "title": [FROM_AGENCY], "title_translated": [FROM_AGENCY]})
            ),
            "{backend:?}"
        );
        // The next synchronisation with the agencies keeps the edits.
        app.store.catalog_sync_organizations().await.unwrap();
        let (_, after) = app
            .get("/api/3/action/organization_show?id=hepco", None)
            .await;
        assert_eq!(after["result"]["description"], "Môi trường đô thị");
    }
}

#[tokio::test]
async fn groups_are_created_renamed_and_cleared_by_sysadmins() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, created) = app
            .action(
                "group_create",
                Some(&app.admin),
                json!({"name": "giao-thong", "title": "Giao thông",
                       "title_translated": {"en": "Transport"}, "description": "Đường, cầu, bến xe"}),
            )
            .await;
        let created_at = created["result"]["created"].clone();
        assert_eq!(
            (status, created),
            (
                StatusCode::OK,
                ok(
                    "group_create",
                    json!({
                        "approval_status": "approved",
                        "created": created_at,
                        "description": "Đường, cầu, bến xe",
                        "description_translated": {"en": "", "vi": "Đường, cầu, bến xe"},
                        "display_name": "Giao thông",
                        "extras": [],
                        "groups": [],
                        "id": dothi_catalog::stable_id("group", "giao-thong"),
                        "image_display_url": "",
                        "image_url": "",
                        "is_organization": false,
                        "name": "giao-thong",
                        "num_followers": 0,
                        "package_count": 0,
                        "state": "active",
                        "tags": [],
                        "title": "Giao thông",
                        "title_translated": {"en": "Transport", "vi": "Giao thông"},
                        "type": "group",
                        "users": []
                    })
                )
            ),
            "{backend:?}"
        );
        let (status, _) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": "diem-do-xe", "owner_org": "hepco", "groups": [{"name": "giao-thong"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(search_count(&app, "groups:giao-thong").await, 1);

        let (status, patched) = app
            .action(
                "group_patch",
                Some(&app.admin),
                json!({"id": "giao-thong", "name": "giao-thong-van-tai"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(
            (
                &patched["result"]["title_translated"],
                &patched["result"]["description"],
                &patched["result"]["package_count"]
            ),
            (
                &json!({"en": "Transport", "vi": "Giao thông"}),
                &json!("Đường, cầu, bến xe"),
                &json!(1)
            )
        );
        assert_eq!(
            search_count(&app, "groups:giao-thong").await,
            0,
            "{backend:?}"
        );
        assert_eq!(
            search_count(&app, "groups:giao-thong-van-tai").await,
            1,
            "{backend:?}"
        );

        let (status, updated) = app
            .action(
                "group_update",
                Some(&app.admin),
                json!({"id": "giao-thong-van-tai", "name": "giao-thong-van-tai", "title": "GTVT"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (
                &updated["result"]["title_translated"],
                &updated["result"]["description"]
            ),
            (&json!({"en": "", "vi": "GTVT"}), &json!("")),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn organization_and_group_writes_refuse_with_ckans_errors() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let cases: Vec<Case> = vec![
            (
                "organization_create",
                None,
                json!({"name": "moi"}),
                denied(
                    "organization_create",
                    "Access denied: Action organization_create requires an authenticated user",
                ),
            ),
            (
                "organization_create",
                Some(&app.hepco),
                json!({"name": "moi"}),
                denied(
                    "organization_create",
                    "Access denied: User hepco not authorized to create organizations",
                ),
            ),
            (
                "group_create",
                Some(&app.ioc),
                json!({"name": "moi"}),
                denied(
                    "group_create",
                    "Access denied: User ioc not authorized to create groups",
                ),
            ),
            (
                "organization_patch",
                Some(&app.hepco),
                json!({"id": "hepco", "description": "x"}),
                denied(
                    "organization_patch",
                    "Access denied: User hepco not authorized to edit organization hepco",
                ),
            ),
            (
                "group_update",
                Some(&app.citizen),
                json!({"id": "x", "name": "x"}),
                denied(
                    "group_update",
                    "Access denied: User citizen not authorized to edit group x",
                ),
            ),
            (
                "organization_create",
                Some(&app.admin),
                json!({"name": "Sở Xây dựng", "image_url": "javascript:alert(1)", "type": "group"}),
                invalid(
                    "organization_create",
                    json!({
                        "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
                        "image_url": ["Please provide a valid URL"],
                        "type": ["Only the organization type is supported"]
                    }),
                ),
            ),
            (
                "group_create",
                Some(&app.admin),
                json!({"title": "Không tên"}),
                invalid("group_create", json!({"name": ["Missing value"]})),
            ),
            (
                "organization_update",
                Some(&app.admin),
                json!({"name": "x"}),
                invalid("organization_update", json!({"id": ["Missing value"]})),
            ),
            (
                "organization_update",
                Some(&app.admin),
                json!({"id": "hepco"}),
                invalid("organization_update", json!({"name": ["Missing value"]})),
            ),
            (
                "group_patch",
                Some(&app.admin),
                json!({"id": "khong-co", "title": "x"}),
                refused(
                    "group_patch",
                    StatusCode::NOT_FOUND,
                    json!({"__type": "Not Found Error", "message": "Not found"}),
                ),
            ),
            (
                "organization_update",
                Some(&app.admin),
                json!({"id": "khong-co", "name": "khong-co"}),
                refused(
                    "organization_update",
                    StatusCode::NOT_FOUND,
                    json!({"__type": "Not Found Error", "message": "Not found: Group was not found."}),
                ),
            ),
        ];
        app.check(backend, cases).await;
        // Nothing was written.
        let (_, orgs) = app.get("/api/3/action/organization_list", None).await;
        assert!(!orgs["result"].as_array().unwrap().contains(&json!("moi")));
        let (_, groups) = app.get("/api/3/action/group_list", None).await;
        assert_eq!(groups["result"], json!([]), "{backend:?}");
    }
}
