//! Shared datasets (access level "shared", Nghị định 47/2020) over the CKAN API and downloads,
//! on SQLite and PostgreSQL: staff who read private datasets, connection accounts with a grant,
//! refusals in CKAN's terms, and the sharing log.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use common::{App, BACKENDS};
use dothi_domain::Actor;
use dothi_sharing::{AccountFields, Grant, Operation};
use serde_json::{json, Value};

fn account(name: &str) -> AccountFields {
    AccountFields {
        name: name.into(),
        organisation: "Sở Xây dựng".into(),
        contact_officer: "Phòng Hạ tầng".into(),
        contact_email: None,
        purpose: "Quy hoạch thu gom rác".into(),
        legal_basis: "Quyết định 12/QĐ-UBND".into(),
        valid_from: 0,
        valid_until: None,
    }
}

async fn get_with(app: &App, path: &str, authorization: &str) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .unwrap();
    // As `dothi serve` provides it (`into_make_service_with_connect_info`).
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 20, 30, 40], 51234))));
    let res = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, bytes.to_vec())
}

type LogKey<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

fn refused(message: &str) -> Value {
    json!({
        "help": "http://ckan.test/api/3/action/help_show?name=package_show",
        "success": false,
        "error": {"__type": "Authorization Error", "message": format!("Access denied: {message}")}
    })
}

#[tokio::test]
async fn shared_datasets_are_read_by_staff_and_granted_connection_accounts_only() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, body) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": "tuyen-thu-gom", "title": "Tuyến thu gom", "notes": "Lộ trình xe",
                       "owner_org": "hepco", "private": true, "license_id": "vn-shared-conditional",
                       "extras": [{"key": "access_level", "value": "shared"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .multipart(
                "resource_create",
                Some(&app.hepco),
                &[("package_id", "tuyen-thu-gom"), ("name", "Tuyến")],
                Some(("tuyen.csv", b"ma,tuyen\r\n1,A\r\n")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let download = body["result"]["url"]
            .as_str()
            .unwrap()
            .strip_prefix(common::BASE)
            .unwrap()
            .to_string();

        let admin = Actor::system();
        let (granted, granted_record) = app
            .store
            .sharing_create_account(&admin, account("he-thong-so-xay-dung"))
            .await
            .unwrap();
        let (read_only, read_only_record) = app
            .store
            .sharing_create_account(&admin, account("he-thong-chi-doc"))
            .await
            .unwrap();
        let (stranger, _) = app
            .store
            .sharing_create_account(&admin, account("he-thong-khac"))
            .await
            .unwrap();
        for (id, operations) in [
            (
                granted_record.account.id,
                vec![Operation::Read, Operation::Download],
            ),
            (read_only_record.account.id, vec![Operation::Read]),
        ] {
            app.store
                .sharing_put_grant(
                    &admin,
                    &Grant {
                        account_id: id,
                        dataset_id: "tuyen-thu-gom".into(),
                        operations,
                        valid_from: None,
                        valid_until: None,
                    },
                )
                .await
                .unwrap();
        }

        // (a) Staff who may read private datasets.
        for token in [&app.hepco, &app.ioc, &app.admin] {
            let (status, _) = app
                .action("package_show", Some(token), json!({"id": "tuyen-thu-gom"}))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        // (b) A granted connection account, raw or after Bearer.
        for auth in [granted.clone(), format!("Bearer {granted}")] {
            let (status, body) =
                get_with(&app, "/api/3/action/package_show?id=tuyen-thu-gom", &auth).await;
            assert_eq!(status, StatusCode::OK);
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["result"]["name"], "tuyen-thu-gom");
        }
        let (status, bytes) = get_with(&app, &download, &granted).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bytes, b"ma,tuyen\r\n1,A\r\n");

        // Refusals: CKAN's 403 with the decision's message.
        let (status, body) = get_with(&app, &download, &read_only).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["error"],
            json!({"__type": "Authorization Error",
                   "message": "Access denied: the connection account may not download this dataset"})
        );
        let (status, body) = get_with(
            &app,
            "/api/3/action/package_show?id=tuyen-thu-gom",
            &stranger,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            refused("the connection account has no access to this dataset")
        );
        let (status, body) = get_with(
            &app,
            "/api/3/action/package_show?id=tuyen-thu-gom",
            "ds_khong-co-that",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            refused("the connection credential is unknown or was replaced")
        );
        // Not open: anonymous callers and citizens are refused; no search or list shows it.
        let (status, _) = app
            .action("package_show", None, json!({"id": "tuyen-thu-gom"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .action(
                "package_show",
                Some(&app.citizen),
                json!({"id": "tuyen-thu-gom"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, list) = app.action("package_list", None, json!({})).await;
        assert_eq!(list["result"], json!([]));

        // Every access of a connection account is in the sharing log, allowed or refused.
        let log = app
            .store
            .sharing_log(&admin, &Default::default(), None, 100)
            .await
            .unwrap();
        let mut seen: Vec<(Option<i64>, &str, Option<&str>)> = log
            .iter()
            .map(|r| {
                (
                    r.entry.account_id,
                    r.entry.operation.as_str(),
                    r.entry.refusal,
                )
            })
            .collect();
        seen.sort();
        let mut expected = vec![
            (Some(granted_record.account.id), "read", None),
            (Some(granted_record.account.id), "read", None),
            (Some(granted_record.account.id), "download", None),
            (
                Some(read_only_record.account.id),
                "download",
                Some("operation_not_granted"),
            ),
            (None, "read", Some("unknown_credential")),
        ];
        let stranger_id = log
            .iter()
            .find(|r| r.entry.refusal == Some("no_grant"))
            .and_then(|r| r.entry.account_id);
        expected.push((stranger_id, "read", Some("no_grant")));
        expected.sort();
        assert_eq!(seen, expected, "{backend:?}");
        assert!(log.iter().all(|r| r.entry.dataset_id == "tuyen-thu-gom"));
        // The calling system's address is logged with each access.
        assert!(
            log.iter()
                .all(|r| r.entry.client.as_deref() == Some("10.20.30.40")),
            "{:?}",
            log.iter().map(|r| &r.entry.client).collect::<Vec<_>>()
        );
    }
}

/// A grant may name the dataset by its id (it then survives a rename), and a connection account
/// with a read grant reads the dataset's resources with `resource_show` as well as the dataset.
#[tokio::test]
async fn grants_by_dataset_id_survive_a_rename_and_cover_resource_show() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (status, created) = app
            .action(
                "package_create",
                Some(&app.hepco),
                json!({"name": "diem-tap-ket", "title": "Điểm tập kết rác", "notes": "Vị trí",
                       "owner_org": "hepco", "private": true, "license_id": "vn-shared-conditional",
                       "extras": [{"key": "access_level", "value": "shared"}],
                       "resources": [{"name": "Danh sách", "url": "https://hepco.example/diem.csv",
                                      "format": "CSV"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let dataset_id = created["result"]["id"].as_str().unwrap().to_string();
        let resource_id = created["result"]["resources"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let admin = Actor::system();
        let (token, record) = app
            .store
            .sharing_create_account(&admin, account("he-thong-ve-sinh"))
            .await
            .unwrap();
        app.store
            .sharing_put_grant(
                &admin,
                &Grant {
                    account_id: record.account.id,
                    dataset_id: dataset_id.clone(),
                    operations: vec![Operation::Read],
                    valid_from: None,
                    valid_until: None,
                },
            )
            .await
            .unwrap();
        // Renamed after the grant: the grant by id still applies, by the new name or the id.
        let (status, body) = app
            .action(
                "package_patch",
                Some(&app.hepco),
                json!({"id": dataset_id, "name": "diem-tap-ket-rac"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for id in ["diem-tap-ket-rac", dataset_id.as_str()] {
            let (status, body) =
                get_with(&app, &format!("/api/3/action/package_show?id={id}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        }
        let (status, body) = get_with(
            &app,
            &format!("/api/3/action/resource_show?id={resource_id}"),
            &token,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["result"]["id"], resource_id.as_str());
        assert_eq!(body["result"]["url"], "https://hepco.example/diem.csv");
        // Without a credential the resource stays refused, as the dataset is.
        let (status, body) = app
            .action("resource_show", None, json!({"id": resource_id}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

        let log = app
            .store
            .sharing_log(&admin, &Default::default(), None, 100)
            .await
            .unwrap();
        // (dataset, resource, refusal, client) of each row.
        let mut seen: Vec<LogKey> = log
            .iter()
            .map(|r| {
                (
                    r.entry.dataset_id.as_str(),
                    r.entry.resource_id.as_deref(),
                    r.entry.refusal,
                    r.entry.client.as_deref(),
                )
            })
            .collect();
        seen.sort();
        let client = Some("10.20.30.40");
        let resource = Some(resource_id.as_str());
        assert_eq!(
            seen,
            vec![
                ("diem-tap-ket-rac", None, None, client),
                ("diem-tap-ket-rac", None, None, client),
                ("diem-tap-ket-rac", resource, None, client),
            ],
            "{backend:?}"
        );
    }
}
