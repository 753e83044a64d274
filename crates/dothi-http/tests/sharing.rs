//! The sharing controls of Nghị định 47/2020 through the admin API, with accesses made through
//! the hook the catalogue's protocol layer calls (`Store::sharing_authorize`).

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{App, BACKENDS};
use dothi_sharing::{Decision, Operation, Refusal};
use dothi_store::sharing::AccessRequest;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const AIR: &str = "chat-luong-khong-khi";
const LAND: &str = "ho-so-dat-dai";

fn account_input(name: &str) -> Value {
    json!({
        "name": name,
        "organisation": "Sở Tài nguyên và Môi trường",
        "contact_officer": "Trần Thị Bích",
        "contact_email": "bich.tt@stnmt.hue.gov.vn",
        "purpose": "Đối chiếu số liệu quan trắc môi trường",
        "legal_basis": "Thỏa thuận chia sẻ dữ liệu số 12/TTr-STTTT",
        "valid_from": "2026-01-01T00:00:00+07:00",
        "valid_until": "2099-12-31T23:59:59+07:00"
    })
}

async fn access(app: &App, token: &str, dataset: &str, operation: Operation) -> Decision {
    app.store
        .sharing_authorize(
            token,
            AccessRequest {
                dataset_id: dataset.into(),
                dataset_uuid: None,
                resource_id: Some("du-lieu-2026.csv".into()),
                operation,
                client: Some("10.20.30.40".into()),
                bytes: Some(2048),
            },
        )
        .await
        .expect("the log row is written")
}

fn refused(code: &str, d: &Decision) -> bool {
    matches!(d, Decision::Refused(r) if r.code() == code)
}

async fn raw(app: &App, path: &str, token: &str) -> (StatusCode, String, String, Vec<u8>) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let h = |n: header::HeaderName| {
        res.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (ct, cd) = (h(header::CONTENT_TYPE), h(header::CONTENT_DISPOSITION));
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, cd, body)
}

#[tokio::test]
async fn connection_account_lifecycle_decides_every_access() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let admin = Some(app.admin.as_str());
        let (s, created) = app
            .post(
                "/api/v1/admin/sharing/accounts",
                admin,
                account_input("Hệ thống quan trắc STNMT"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let token = created["credential"].as_str().unwrap().to_string();
        assert!(token.starts_with("ds_") && token.len() > 40, "{token}");
        let account = &created["account"];
        let id = account["id"].as_i64().unwrap();
        assert_eq!(
            account,
            &json!({
                "id": id,
                "name": "Hệ thống quan trắc STNMT",
                "organisation": "Sở Tài nguyên và Môi trường",
                "contact_officer": "Trần Thị Bích",
                "contact_email": "bich.tt@stnmt.hue.gov.vn",
                "purpose": "Đối chiếu số liệu quan trắc môi trường",
                "legal_basis": "Thỏa thuận chia sẻ dữ liệu số 12/TTr-STTTT",
                "valid_from": "2026-01-01T00:00:00+07:00",
                "valid_until": "2099-12-31T23:59:59+07:00",
                "status": "active",
                "status_reason": null,
                "status_changed_at": null,
                "credential_prefix": &token[..9],
                "credential_created_at": account["created_at"],
                "created_at": account["created_at"],
                "modified_at": account["created_at"],
            })
        );
        let (s, shown) = app
            .get(&format!("/api/v1/admin/sharing/accounts/{id}"), admin)
            .await;
        assert_eq!((s, &shown), (StatusCode::OK, account));

        // No grant yet.
        let d = access(&app, &token, AIR, Operation::Read).await;
        assert_eq!(d, Decision::Refused(Refusal::NoGrant));
        let grant = json!({"operations": ["read"]});
        let path = format!("/api/v1/admin/sharing/accounts/{id}/grants/{AIR}");
        let (s, g) = app.call(Method::PUT, &path, admin, Some(grant)).await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        assert_eq!(
            g,
            json!({"dataset_id": AIR, "operations": ["read"], "valid_from": null,
                   "valid_until": null, "created_at": g["created_at"], "modified_at": g["created_at"]})
        );
        assert_eq!(
            access(&app, &token, AIR, Operation::Read).await,
            Decision::Allowed { account_id: id }
        );
        assert!(refused(
            "operation_not_granted",
            &access(&app, &token, AIR, Operation::Download).await
        ));
        let both = json!({"operations": ["download", "read", "read"]});
        let (s, g) = app.call(Method::PUT, &path, admin, Some(both)).await;
        assert_eq!(
            (s, &g["operations"]),
            (StatusCode::OK, &json!(["read", "download"]))
        );
        assert!(access(&app, &token, AIR, Operation::Download)
            .await
            .is_allowed());
        assert!(refused(
            "no_grant",
            &access(&app, &token, LAND, Operation::Read).await
        ));
        assert!(refused(
            "unknown_credential",
            &access(&app, "ds_not-a-credential", AIR, Operation::Read).await
        ));

        // Suspension refuses with its reason; resuming restores access.
        let suspend = format!("/api/v1/admin/sharing/accounts/{id}/suspend");
        let (s, a) = app
            .post(
                &suspend,
                admin,
                json!({"reason": "Đang rà soát an toàn thông tin"}),
            )
            .await;
        assert_eq!(
            (s, &a["status"], &a["status_reason"]),
            (
                StatusCode::OK,
                &json!("suspended"),
                &json!("Đang rà soát an toàn thông tin")
            )
        );
        assert_eq!(
            access(&app, &token, AIR, Operation::Read).await,
            Decision::Refused(Refusal::Suspended {
                reason: "Đang rà soát an toàn thông tin".into()
            })
        );
        let (s, p) = app
            .post(&suspend, admin, json!({"reason": "lần hai"}))
            .await;
        assert_eq!(
            (s, p),
            (
                StatusCode::CONFLICT,
                json!({"type": "/problems/conflict", "title": "Conflict", "status": 409,
                       "detail": "cannot suspend a connection account that is suspended"})
            )
        );
        let resume = format!("/api/v1/admin/sharing/accounts/{id}/resume");
        let (s, a) = app.call(Method::POST, &resume, admin, None).await;
        assert_eq!(
            (s, &a["status"], &a["status_reason"]),
            (StatusCode::OK, &json!("active"), &Value::Null)
        );
        assert!(access(&app, &token, AIR, Operation::Read)
            .await
            .is_allowed());

        // Rotation: the old credential stops at once, the new one works.
        let rotate = format!("/api/v1/admin/sharing/accounts/{id}/credential");
        let (s, r) = app.call(Method::POST, &rotate, admin, None).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let new_token = r["credential"].as_str().unwrap().to_string();
        assert_eq!(r["account"]["credential_prefix"], json!(&new_token[..9]));
        assert!(refused(
            "unknown_credential",
            &access(&app, &token, AIR, Operation::Read).await
        ));
        assert!(access(&app, &new_token, AIR, Operation::Read)
            .await
            .is_allowed());

        // A grant whose period has passed.
        let old = json!({"operations": ["read"], "valid_from": "2024-01-01T00:00:00+07:00",
                         "valid_until": "2025-01-01T00:00:00+07:00"});
        let land = format!("/api/v1/admin/sharing/accounts/{id}/grants/{LAND}");
        let (s, _) = app.call(Method::PUT, &land, admin, Some(old)).await;
        assert_eq!(s, StatusCode::CREATED);
        let d = access(&app, &new_token, LAND, Operation::Read).await;
        assert!(refused("grant_expired", &d));
        let (s, grants) = app
            .get(
                &format!("/api/v1/admin/sharing/accounts/{id}/grants"),
                admin,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let datasets: Vec<_> = grants
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["dataset_id"].clone())
            .collect();
        assert_eq!(datasets, vec![json!(AIR), json!(LAND)]);
        let (s, _) = app.call(Method::DELETE, &land, admin, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(refused(
            "no_grant",
            &access(&app, &new_token, LAND, Operation::Read).await
        ));
        let (s, p) = app.call(Method::DELETE, &land, admin, None).await;
        assert_eq!(
            (s, &p["detail"]),
            (
                StatusCode::NOT_FOUND,
                &json!(format!(
                    "grant of connection account {id} on dataset '{LAND}' not found"
                ))
            )
        );

        // Termination is final: refused with its reason, nothing brings it back.
        let terminate = format!("/api/v1/admin/sharing/accounts/{id}/terminate");
        let (s, a) = app
            .post(
                &terminate,
                admin,
                json!({"reason": "Hết thời hạn thỏa thuận"}),
            )
            .await;
        assert_eq!(
            (s, &a["status"], &a["credential_prefix"]),
            (StatusCode::OK, &json!("terminated"), &Value::Null)
        );
        // Its credential was revoked with it, so it is refused as unknown.
        assert!(refused(
            "unknown_credential",
            &access(&app, &new_token, AIR, Operation::Read).await
        ));
        for (method, path, body, detail) in [
            (
                Method::POST,
                resume.clone(),
                None,
                "cannot resume a connection account that is terminated",
            ),
            (
                Method::POST,
                suspend.clone(),
                Some(json!({"reason": "x"})),
                "cannot suspend a connection account that is terminated",
            ),
            (
                Method::POST,
                terminate.clone(),
                Some(json!({"reason": "x"})),
                "cannot terminate a connection account that is terminated",
            ),
            (
                Method::POST,
                rotate.clone(),
                None,
                "cannot issue a credential for a connection account that is terminated",
            ),
            (
                Method::PUT,
                path.clone(),
                Some(json!({"operations": ["read"]})),
                "cannot grant access to a connection account that is terminated",
            ),
            (
                Method::PATCH,
                format!("/api/v1/admin/sharing/accounts/{id}"),
                Some(json!({"purpose": "x"})),
                "cannot update a connection account that is terminated",
            ),
        ] {
            let (s, p) = app.call(method, &path, admin, body).await;
            assert_eq!(
                (s, &p["detail"]),
                (StatusCode::CONFLICT, &json!(detail)),
                "{path}"
            );
        }

        // The validity window of the account itself.
        let mut future = account_input("Cổng dịch vụ công tỉnh");
        future["valid_from"] = json!("2099-01-01T08:00:00+07:00");
        future["valid_until"] = Value::Null;
        let (s, c) = app
            .post("/api/v1/admin/sharing/accounts", admin, future)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let (id2, token2) = (
            c["account"]["id"].as_i64().unwrap(),
            c["credential"].as_str().unwrap().to_string(),
        );
        let (s, _) = app
            .call(
                Method::PUT,
                &format!("/api/v1/admin/sharing/accounts/{id2}/grants/{AIR}"),
                admin,
                Some(json!({"operations": ["read"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(
            access(&app, &token2, AIR, Operation::Read).await,
            Decision::Refused(Refusal::NotYetValid {
                valid_from: 4_070_912_400_000
            })
        );
        let patch = json!({"valid_from": "2020-01-01T00:00:00+07:00", "valid_until": "2021-01-01T00:00:00+07:00"});
        let (s, a) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/admin/sharing/accounts/{id2}"),
                admin,
                Some(patch),
            )
            .await;
        assert_eq!(
            (s, &a["valid_until"]),
            (StatusCode::OK, &json!("2021-01-01T00:00:00+07:00")),
            "{a}"
        );
        assert!(refused(
            "expired",
            &access(&app, &token2, AIR, Operation::Read).await
        ));
        let (s, a) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/admin/sharing/accounts/{id2}"),
                admin,
                Some(json!({"valid_until": null})),
            )
            .await;
        assert_eq!((s, &a["valid_until"]), (StatusCode::OK, &Value::Null));
        assert!(access(&app, &token2, AIR, Operation::Read)
            .await
            .is_allowed());

        let (s, list) = app.get("/api/v1/admin/sharing/accounts", admin).await;
        let names: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].clone(), a["status"].clone()))
            .collect();
        assert_eq!(
            (s, names),
            (
                StatusCode::OK,
                vec![
                    (json!(id), json!("terminated")),
                    (json!(id2), json!("active"))
                ]
            )
        );

        // Every admin change is in the audit, newest first, with who did it.
        let (s, audit) = app
            .get(&format!("/api/v1/admin/sharing/audit?account={id}"), admin)
            .await;
        assert_eq!(s, StatusCode::OK);
        let actions: Vec<_> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("terminate", "admin"),
                ("revoke", "admin"),
                ("grant", "admin"),
                ("rotate_credential", "admin"),
                ("resume", "admin"),
                ("suspend", "admin"),
                ("grant", "admin"),
                ("grant", "admin"),
                ("create", "admin")
            ]
        );
        assert_eq!(
            audit["items"][0]["detail"],
            json!({"from": "active", "to": "terminated", "reason": "Hết thời hạn thỏa thuận"})
        );
        assert_eq!(audit["next_before"], Value::Null);
    }
}

#[tokio::test]
async fn sharing_log_is_filtered_paged_and_exported_as_csv() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let admin = Some(app.admin.as_str());
        let (_, c) = app
            .post(
                "/api/v1/admin/sharing/accounts",
                admin,
                account_input("LGSP Huế"),
            )
            .await;
        let (id, token) = (
            c["account"]["id"].as_i64().unwrap(),
            c["credential"].as_str().unwrap().to_string(),
        );
        app.call(
            Method::PUT,
            &format!("/api/v1/admin/sharing/accounts/{id}/grants/{AIR}"),
            admin,
            Some(json!({"operations": ["download"]})),
        )
        .await;
        assert!(access(&app, &token, AIR, Operation::Download)
            .await
            .is_allowed());
        assert!(refused(
            "no_grant",
            &access(&app, &token, LAND, Operation::Download).await
        ));
        assert!(refused(
            "unknown_credential",
            &access(&app, "ds_wrong", AIR, Operation::Read).await
        ));

        let (s, log) = app.get("/api/v1/admin/sharing/log", admin).await;
        assert_eq!(s, StatusCode::OK, "{log}");
        let items = log["items"].as_array().unwrap();
        let at = |i: usize| items[i]["at"].as_str().unwrap().to_string();
        let first_id = items[2]["id"].as_i64().unwrap();
        assert_eq!(
            log,
            json!({"items": [
                {"id": first_id + 2, "at": at(0), "account_id": null, "account_name": null,
                 "organisation": null, "dataset_id": AIR, "resource_id": "du-lieu-2026.csv",
                 "operation": "read", "outcome": "refused", "refusal": "unknown_credential",
                 "reason": "the connection credential is unknown or was replaced",
                 "client": "10.20.30.40", "bytes": null},
                {"id": first_id + 1, "at": at(1), "account_id": id, "account_name": "LGSP Huế",
                 "organisation": "Sở Tài nguyên và Môi trường", "dataset_id": LAND,
                 "resource_id": "du-lieu-2026.csv", "operation": "download", "outcome": "refused",
                 "refusal": "no_grant", "reason": "the connection account has no access to this dataset",
                 "client": "10.20.30.40", "bytes": null},
                {"id": first_id, "at": at(2), "account_id": id, "account_name": "LGSP Huế",
                 "organisation": "Sở Tài nguyên và Môi trường", "dataset_id": AIR,
                 "resource_id": "du-lieu-2026.csv", "operation": "download", "outcome": "allowed",
                 "refusal": null, "reason": null, "client": "10.20.30.40", "bytes": 2048},
            ], "next_before": null})
        );
        let ids = |v: &Value| -> Vec<i64> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap())
                .collect()
        };
        let (n0, n1, n2) = (first_id, first_id + 1, first_id + 2);
        for (query, expected) in [
            (format!("account={id}"), vec![n1, n0]),
            (format!("dataset={AIR}"), vec![n2, n0]),
            ("outcome=allowed".to_string(), vec![n0]),
            ("outcome=refused".to_string(), vec![n2, n1]),
            (
                format!("account={id}&outcome=refused&dataset={LAND}"),
                vec![n1],
            ),
            (
                "from=2026-01-01T00:00:00%2B07:00&to=2099-01-01T00:00:00%2B07:00".to_string(),
                vec![n2, n1, n0],
            ),
            ("from=2099-01-01T00:00:00%2B07:00".to_string(), vec![]),
            ("to=2026-01-01T00:00:00Z".to_string(), vec![]),
        ] {
            let (s, page) = app
                .get(&format!("/api/v1/admin/sharing/log?{query}"), admin)
                .await;
            assert_eq!((s, ids(&page)), (StatusCode::OK, expected), "{query}");
        }
        let (_, page) = app.get("/api/v1/admin/sharing/log?limit=2", admin).await;
        assert_eq!(
            (ids(&page), &page["next_before"]),
            (vec![n2, n1], &json!(n1))
        );
        let (_, page) = app
            .get(
                &format!("/api/v1/admin/sharing/log?limit=2&before={n1}"),
                admin,
            )
            .await;
        assert_eq!((ids(&page), &page["next_before"]), (vec![n0], &Value::Null));

        let (s, ct, cd, body) = raw(
            &app,
            &format!("/api/v1/admin/sharing/log.csv?account={id}"),
            &app.admin,
        )
        .await;
        assert_eq!(
            (s, ct.as_str(), cd.as_str()),
            (
                StatusCode::OK,
                "text/csv; charset=utf-8",
                "attachment; filename=\"nhat-ky-chia-se-du-lieu.csv\""
            )
        );
        let expected = format!(
            "\u{feff}Thời gian,Mã tài khoản kết nối,Tài khoản kết nối,Cơ quan,Bộ dữ liệu,Tài nguyên,Thao tác,Kết quả,Mã lý do,Lý do,Địa chỉ máy khách,Số byte\n\
             {},{id},LGSP Huế,Sở Tài nguyên và Môi trường,{LAND},du-lieu-2026.csv,Tải xuống,Từ chối,no_grant,the connection account has no access to this dataset,10.20.30.40,\n\
             {},{id},LGSP Huế,Sở Tài nguyên và Môi trường,{AIR},du-lieu-2026.csv,Tải xuống,Cho phép,,,10.20.30.40,2048\n",
            at(1), at(2)
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
        let (s, _, cd, body) = raw(
            &app,
            "/api/v1/admin/sharing/log.csv?lang=en&outcome=refused",
            &app.admin,
        )
        .await;
        assert_eq!(
            (s, cd.as_str()),
            (StatusCode::OK, "attachment; filename=\"sharing-log.csv\"")
        );
        let expected = format!(
            "\u{feff}Time,Account id,Connection account,Organisation,Dataset,Resource,Operation,Outcome,Reason code,Reason,Client address,Bytes\n\
             {},,,,{AIR},du-lieu-2026.csv,Read,Refused,unknown_credential,the connection credential is unknown or was replaced,10.20.30.40,\n\
             {},{id},LGSP Huế,Sở Tài nguyên và Môi trường,{LAND},du-lieu-2026.csv,Download,Refused,no_grant,the connection account has no access to this dataset,10.20.30.40,\n",
            at(0), at(1)
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
        assert!(at(0).ends_with("+07:00"), "{}", at(0));
    }
}

#[tokio::test]
async fn sharing_admin_api_refuses_non_admins_and_bad_input() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let admin = Some(app.admin.as_str());
        let (_, c) = app
            .post(
                "/api/v1/admin/sharing/accounts",
                admin,
                account_input("Hệ thống A"),
            )
            .await;
        let id = c["account"]["id"].as_i64().unwrap();
        let forbidden = json!({"type": "/problems/forbidden", "title": "Forbidden", "status": 403,
                               "detail": "only administrators may do this"});
        for token in [&app.ioc, &app.hepco, &app.citizen] {
            for (method, path, body) in [
                (
                    Method::GET,
                    "/api/v1/admin/sharing/accounts".to_string(),
                    None,
                ),
                (
                    Method::POST,
                    "/api/v1/admin/sharing/accounts".to_string(),
                    Some(account_input("B")),
                ),
                (
                    Method::GET,
                    format!("/api/v1/admin/sharing/accounts/{id}"),
                    None,
                ),
                (
                    Method::POST,
                    format!("/api/v1/admin/sharing/accounts/{id}/suspend"),
                    Some(json!({"reason": "x"})),
                ),
                (
                    Method::POST,
                    format!("/api/v1/admin/sharing/accounts/{id}/credential"),
                    None,
                ),
                (
                    Method::PUT,
                    format!("/api/v1/admin/sharing/accounts/{id}/grants/{AIR}"),
                    Some(json!({"operations": ["read"]})),
                ),
                (Method::GET, "/api/v1/admin/sharing/audit".to_string(), None),
            ] {
                let (s, p) = app.call(method, &path, Some(token), body).await;
                assert_eq!((s, &p), (StatusCode::FORBIDDEN, &forbidden), "{path}");
            }
        }
        // The sharing log is for the operations centre: IOC operators query and export it,
        // agencies' staff and citizens do not.
        let not_ioc = json!({"type": "/problems/forbidden", "title": "Forbidden", "status": 403,
                             "detail": "only IOC operators may do this"});
        for path in ["/api/v1/admin/sharing/log", "/api/v1/admin/sharing/log.csv"] {
            for token in [&app.hepco, &app.citizen] {
                let (s, p) = app.call(Method::GET, path, Some(token), None).await;
                assert_eq!((s, &p), (StatusCode::FORBIDDEN, &not_ioc), "{path}");
            }
            let (s, _, _, _) = raw(&app, path, &app.ioc).await;
            assert_eq!(s, StatusCode::OK, "{path}");
        }
        let (s, _) = app.get("/api/v1/admin/sharing/accounts", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // Nothing was changed by the refused calls.
        let (_, a) = app
            .get(&format!("/api/v1/admin/sharing/accounts/{id}"), admin)
            .await;
        assert_eq!(
            (&a["status"], &a["credential_prefix"]),
            (&json!("active"), &c["account"]["credential_prefix"])
        );

        let invalid = |field: &str, detail: &str| {
            json!({"type": "/problems/validation", "title": "Invalid field", "status": 422,
                   "detail": detail, "field": field})
        };
        let with = |k: &str, v: Value| {
            let mut b = account_input("Hệ thống C");
            b[k] = v;
            b
        };
        let accounts = "/api/v1/admin/sharing/accounts".to_string();
        let grant_path = format!("/api/v1/admin/sharing/accounts/{id}/grants/{AIR}");
        for (method, path, body, expected) in [
            (Method::POST, accounts.clone(), with("name", json!("  ")), invalid("name", "invalid name: is required")),
            (Method::POST, accounts.clone(), with("valid_until", json!("2025-01-01T00:00:00+07:00")), invalid("valid_until", "invalid valid_until: must be later than valid_from")),
            (Method::POST, accounts.clone(), with("valid_from", json!("ngày mai")), invalid("valid_from", "invalid valid_from: 'ngày mai' is not an ISO 8601 date-time with offset")),
            (Method::POST, accounts.clone(), with("contact_email", json!("bich")), invalid("contact_email", "invalid contact_email: 'bich' is not an e-mail address")),
            (Method::POST, accounts.clone(), with("name", json!("Hệ thống A")), json!({"type": "/problems/conflict", "title": "Conflict", "status": 409, "detail": "a connection account named 'Hệ thống A' exists"})),
            (Method::POST, format!("/api/v1/admin/sharing/accounts/{id}/suspend"), json!({"reason": ""}), invalid("reason", "invalid reason: is required")),
            (Method::PUT, grant_path.clone(), json!({"operations": []}), invalid("operations", "invalid operations: grant at least one operation: read or download")),
            (Method::PUT, grant_path.clone(), json!({"operations": ["write"]}), invalid("operations", "invalid operations: unknown operation 'write'; expected read or download")),
            (Method::PUT, format!("/api/v1/admin/sharing/accounts/{id}/grants/d%E1%BA%A5u"), json!({"operations": ["read"]}), invalid("dataset_id", "invalid dataset_id: must be 1-100 characters: ASCII letters, digits, '-' or '_' (a CKAN id or name)")),
            (Method::PUT, "/api/v1/admin/sharing/accounts/999999/grants/x".to_string(), json!({"operations": ["read"]}), json!({"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "connection account 999999 not found"})),
        ] {
            let (s, p) = app.call(method, &path, admin, Some(body)).await;
            assert_eq!((s.as_u16(), &p), (expected["status"].as_u64().unwrap() as u16, &expected), "{path}");
        }
        let (s, p) = app.post(&accounts, admin, json!({"name": "x"})).await;
        assert_eq!(
            (s, p["detail"].as_str().unwrap()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid JSON body: missing field `organisation`"
            )
        );
        for (query, expected) in [
            ("outcome=maybe", invalid("outcome", "invalid outcome: 'maybe' is not an outcome; expected allowed or refused")),
            ("limit=0", invalid("limit", "invalid limit: must be between 1 and 1000")),
            ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", invalid("to", "invalid to: must be later than from")),
            ("dataset=a%20b", invalid("dataset_id", "invalid dataset_id: must be 1-100 characters: ASCII letters, digits, '-' or '_' (a CKAN id or name)")),
        ] {
            let (s, p) = app.get(&format!("/api/v1/admin/sharing/log?{query}"), admin).await;
            assert_eq!((s, p), (StatusCode::UNPROCESSABLE_ENTITY, expected), "{query}");
        }
        let (s, p) = app
            .get("/api/v1/admin/sharing/log?account=abc", admin)
            .await;
        assert_eq!(
            (s, &p["type"]),
            (StatusCode::BAD_REQUEST, &json!("/problems/bad-request"))
        );
        let (s, _, _, body) = raw(&app, "/api/v1/admin/sharing/log.csv?lang=fr", &app.admin).await;
        let p: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (s, p),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                invalid(
                    "lang",
                    "invalid lang: 'fr' is not a language of the exports; expected vi or en"
                )
            )
        );
        let (s, p) = app
            .get("/api/v1/admin/sharing/accounts/999999", admin)
            .await;
        assert_eq!(
            (s, &p["detail"]),
            (
                StatusCode::NOT_FOUND,
                &json!("connection account 999999 not found")
            )
        );
    }
}

#[tokio::test]
async fn sharing_log_and_audit_cannot_be_rewritten_in_the_database() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (_, c) = app
            .post(
                "/api/v1/admin/sharing/accounts",
                Some(&app.admin),
                account_input("Hệ thống D"),
            )
            .await;
        let token = c["credential"].as_str().unwrap().to_string();
        access(&app, &token, AIR, Operation::Read).await;
        for table in ["sharing_log", "sharing_audit"] {
            for sql in [
                format!("UPDATE {table} SET at = 0"),
                format!("DELETE FROM {table}"),
            ] {
                let err = sqlx::query(&sql)
                    .execute(&app.store.db.pool)
                    .await
                    .expect_err(&sql);
                assert!(
                    err.to_string().contains(&format!("{table} is append-only")),
                    "{sql}: {err}"
                );
            }
        }
        let (_, log) = app.get("/api/v1/admin/sharing/log", Some(&app.admin)).await;
        assert_eq!(log["items"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn concurrent_accesses_are_each_logged_before_they_are_answered() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (_, c) = app
            .post(
                "/api/v1/admin/sharing/accounts",
                Some(&app.admin),
                account_input("Hệ thống E"),
            )
            .await;
        let token = c["credential"].as_str().unwrap().to_string();
        let id = c["account"]["id"].as_i64().unwrap();
        app.call(
            Method::PUT,
            &format!("/api/v1/admin/sharing/accounts/{id}/grants/{AIR}"),
            Some(&app.admin),
            Some(json!({"operations": ["read"]})),
        )
        .await;
        // Many at once, so the log writer takes them in batches; each answer must find its row.
        let calls = (0..60).map(|i| {
            let (store, token) = (app.store.clone(), token.clone());
            tokio::spawn(async move {
                let dataset = if i % 2 == 0 { AIR } else { LAND };
                let request = AccessRequest {
                    dataset_id: dataset.into(),
                    dataset_uuid: None,
                    resource_id: Some(format!("r{i}")),
                    operation: Operation::Read,
                    client: None,
                    bytes: None,
                };
                store.sharing_authorize(&token, request).await.unwrap()
            })
        });
        let decisions = futures_util::future::join_all(calls).await;
        let allowed = decisions
            .iter()
            .filter(|d| d.as_ref().unwrap().is_allowed())
            .count();
        assert_eq!(allowed, 30);
        for (outcome, n) in [("allowed", 30), ("refused", 30)] {
            let (_, page) = app
                .get(
                    &format!("/api/v1/admin/sharing/log?outcome={outcome}"),
                    Some(&app.admin),
                )
                .await;
            assert_eq!(page["items"].as_array().unwrap().len(), n, "{outcome}");
        }
    }
}
