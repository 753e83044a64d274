//! Photos on reports and resolutions, and reference data managed through the admin API.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{App, BACKENDS};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

async fn raw_get(app: &App, path: &str) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        status,
        ct,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn photos_on_a_report_and_its_resolution_are_served_with_thumbnails() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let png = common::png(640, 480);
        let report = json!({"category": "CSCC", "description": "Trụ đèn nghiêng", "lat": 16.4741, "long": 107.6121, "attributes": {"lamp_state": "pole_damaged"}}).to_string();
        let (content_type, body) = common::multipart(&[
            ("report", None, "application/json", report.as_bytes()),
            ("photo", Some("den.png"), "image/png", &png),
            ("photo", Some("den2.png"), "application/octet-stream", &png),
        ]);
        let req = Request::post("/api/v1/reports")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.citizen))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let (s, _, created) = app.send(req).await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let r = &created["report"];
        let id = r["id"].as_i64().unwrap();
        let url = r["photo_url"].as_str().unwrap();
        let path = url.strip_prefix("http://127.0.0.1:8080").unwrap();
        let (s, ct, bytes) = raw_get(&app, path).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "image/png"));
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 640);
        let (s, ct, thumb) = raw_get(&app, &format!("{path}/thumbnail")).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "image/jpeg"));
        let t = image::load_from_memory(&thumb).unwrap();
        assert_eq!((t.width(), t.height()), (320, 240));
        let (_, photos) = app.get(&format!("/api/v1/reports/{id}/photos"), None).await;
        assert_eq!(photos.as_array().unwrap().len(), 2);
        assert_eq!(photos[0]["kind"], "report");

        let resolution = json!({"note": "Đã dựng lại trụ đèn"}).to_string();
        let (content_type, body) = common::multipart(&[
            (
                "resolution",
                None,
                "application/json",
                resolution.as_bytes(),
            ),
            (
                "photo",
                Some("sau.png"),
                "image/png",
                &common::png(100, 100),
            ),
        ]);
        let req = Request::post(format!("/api/v1/reports/{id}/resolve"))
            .header(header::AUTHORIZATION, format!("Bearer {}", app.hepco))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let (s, _, resolved) = app.send(req).await;
        assert_eq!(s, StatusCode::OK, "{resolved}");
        let (_, history) = app
            .get(&format!("/api/v1/reports/{id}/history"), None)
            .await;
        let resolve = history
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "resolve")
            .unwrap();
        assert_eq!(resolve["photo_urls"].as_array().unwrap().len(), 1);
        let (_, photos) = app.get(&format!("/api/v1/reports/{id}/photos"), None).await;
        assert_eq!(photos[2]["kind"], "resolution");

        let (s, r) = app.get("/api/v1/media/424242", None).await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (StatusCode::NOT_FOUND, Some("media 424242 not found"))
        );
    }
}

#[tokio::test]
async fn administrators_manage_categories_routing_and_holidays() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let admin = Some(app.admin.as_str());
        let category = json!({
            "code": "CAYDO", "name": "Cây đổ sau bão", "name_en": "Fallen tree after a storm",
            "deadline_normal_days": 2, "deadline_urgent_days": 0, "default_agency": "HEPCO",
            "attributes": [{"code": "blocking", "datatype": "singlevaluelist", "required": true, "description": "Cản trở giao thông?",
                            "order": 1, "values": [{"key": "yes", "name": "Có"}, {"key": "no", "name": "Không"}]}]
        });
        let (s, r) = app
            .call(
                Method::PUT,
                "/api/v1/admin/categories/CAYDO",
                admin,
                Some(category.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["attributes"][0]["code"], "blocking");
        let (s, r) = app
            .call(
                Method::PUT,
                "/api/v1/admin/categories/OTHER",
                admin,
                Some(category.clone()),
            )
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid code: the body's code 'CAYDO' differs from the path's 'OTHER'")
            )
        );

        // A deactivated category leaves the public list but stays in the admin's.
        let mut inactive = category.clone();
        inactive["code"] = json!("TAMNGUNG");
        inactive["active"] = json!(false);
        let (s, r) = app
            .call(
                Method::PUT,
                "/api/v1/admin/categories/TAMNGUNG",
                admin,
                Some(inactive),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let codes = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, public) = app.get("/api/v1/categories", None).await;
        assert!(!codes(&public).contains(&"TAMNGUNG".to_string()));
        let (_, all) = app
            .get("/api/v1/categories?include_inactive=true", admin)
            .await;
        assert!(codes(&all).contains(&"TAMNGUNG".to_string()));
        assert_eq!(codes(&all).len(), codes(&public).len() + 1);

        // Route fallen trees in Vỹ Dạ to the ward, elsewhere to HEPCO.
        let (s, r) = app
            .call(
                Method::PUT,
                "/api/v1/admin/routing-rules",
                admin,
                Some(json!({"category": "CAYDO", "commune": "19777", "agency": "UBND-19777"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = app
            .call(
                Method::PUT,
                "/api/v1/admin/routing-rules",
                admin,
                Some(json!({"category": "CAYDO", "commune": "00000", "agency": "HEPCO"})),
            )
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid commune: no administrative unit has code '00000'")
            )
        );
        let (s, body) = app
            .post("/api/v1/reports", Some(&app.citizen), json!({"category": "CAYDO", "description": "Cây đổ chắn đường", "lat": 16.4741, "long": 107.6121, "attributes": {"blocking": "yes"}}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        assert_eq!(body["report"]["agency"]["code"], "UBND-19777");
        let (s, _) = app
            .call(
                Method::DELETE,
                "/api/v1/admin/routing-rules?category=CAYDO&commune=19777",
                admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, body) = app
            .post("/api/v1/reports", Some(&app.citizen), json!({"category": "CAYDO", "description": "Cây đổ", "lat": 16.4741, "long": 107.6121, "attributes": {"blocking": "no"}}))
            .await;
        assert_eq!(body["report"]["agency"]["code"], "HEPCO");

        // An announced holiday moves deadlines computed over it.
        let (_, before) = app
            .get(
                "/api/v1/calendar/deadline?from=2026-12-28T09:00:00%2B07:00&days=2",
                None,
            )
            .await;
        assert_eq!(before["deadline"], "2026-12-30T23:59:59+07:00");
        let (s, _) = app
            .call(
                Method::PUT,
                "/api/v1/admin/holidays/2026-12-29",
                admin,
                Some(json!({"name": "Nghỉ bù", "kind": "holiday"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, after) = app
            .get(
                "/api/v1/calendar/deadline?from=2026-12-28T09:00:00%2B07:00&days=2",
                None,
            )
            .await;
        assert_eq!(after["deadline"], "2026-12-31T23:59:59+07:00");
        let (_, holidays) = app.get("/api/v1/calendar/holidays?year=2026", None).await;
        assert_eq!(
            holidays["announced"],
            json!([{"date": "2026-12-29", "name": "Nghỉ bù", "kind": "holiday", "source": "announced"}])
        );
        assert!(
            holidays["statutory"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["date"] == "2026-02-17"),
            "Tết 2026"
        );

        // Users and API keys.
        let (s, u) = app
            .post("/api/v1/admin/users", admin, json!({"username": "ubnd-kimlong", "password": "mat-khau-dai-9", "display_name": "UBND Kim Long", "role": "agency_staff", "agency": "UBND-19810"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let (s, r) = app
            .post("/api/v1/admin/users", admin, json!({"username": "ubnd-kimlong", "password": "mat-khau-dai-9", "display_name": "x", "role": "citizen"}))
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::CONFLICT,
                Some("username 'ubnd-kimlong' is taken")
            )
        );

        // A password reset: the old password and the user's sessions stop working.
        let uid = u["id"].as_i64().unwrap();
        let (s, t) = app
            .post(
                "/api/v1/auth/token",
                None,
                json!({"username": "ubnd-kimlong", "password": "mat-khau-dai-9"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let old_token = t["access_token"].as_str().unwrap().to_string();
        let (s, r) = app
            .post(
                &format!("/api/v1/admin/users/{uid}/password"),
                admin,
                json!({"password": "ngan"}),
            )
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid password: must be 8-256 characters")
            )
        );
        let (s, _) = app
            .post(
                &format!("/api/v1/admin/users/{uid}/password"),
                Some(&old_token),
                json!({"password": "mat-khau-moi-12"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app
            .post(
                &format!("/api/v1/admin/users/{uid}/password"),
                admin,
                json!({"password": "mat-khau-moi-12"}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/api/v1/me", Some(&old_token)).await.0,
            StatusCode::UNAUTHORIZED
        );
        for (password, expected) in [
            ("mat-khau-dai-9", StatusCode::UNAUTHORIZED),
            ("mat-khau-moi-12", StatusCode::OK),
        ] {
            let (s, _) = app
                .post(
                    "/api/v1/auth/token",
                    None,
                    json!({"username": "ubnd-kimlong", "password": password}),
                )
                .await;
            assert_eq!(s, expected, "{password}");
        }
        let (s, _) = app
            .post(
                "/api/v1/admin/users/999999/password",
                admin,
                json!({"password": "mat-khau-moi-12"}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, k) = app
            .post("/api/v1/admin/api-keys", admin, json!({"name": "Zalo OA"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(k["api_key"].as_str().unwrap().starts_with("dk_"));
        assert!(
            k["key"]["created_at"].as_str().unwrap().ends_with("+07:00"),
            "{k}"
        );
        assert_eq!(k["key"]["revoked_at"], serde_json::Value::Null);
        let key_id = k["key"]["id"].as_i64().unwrap();
        assert!(app
            .store
            .verify_api_key(k["api_key"].as_str().unwrap())
            .await
            .unwrap()
            .is_some());
        let (s, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/admin/api-keys/{key_id}"),
                admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, keys) = app.get("/api/v1/admin/api-keys", admin).await;
        let revoked = keys
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"].as_i64() == Some(key_id))
            .unwrap();
        assert!(
            revoked["revoked_at"].as_str().unwrap().ends_with("+07:00"),
            "{revoked}"
        );
        assert!(app
            .store
            .verify_api_key(k["api_key"].as_str().unwrap())
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn citizens_register_sign_in_and_see_their_own_reports() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (s, u) = app
            .post("/api/v1/auth/register", None, json!({"username": "tran.binh", "password": "mat-khau-cua-binh", "display_name": "Trần Bình", "phone": "0988000111"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        assert_eq!(u["role"], "citizen");
        let (s, r) = app
            .post(
                "/api/v1/auth/token",
                None,
                json!({"username": "tran.binh", "password": "wrong-password"}),
            )
            .await;
        assert_eq!(
            (s, r["detail"].as_str()),
            (
                StatusCode::UNAUTHORIZED,
                Some("wrong username or password, or the token has expired")
            )
        );
        let (s, t) = app
            .post(
                "/api/v1/auth/token",
                None,
                json!({"username": "tran.binh", "password": "mat-khau-cua-binh"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(t["token_type"], "Bearer");
        let token = t["access_token"].as_str().unwrap();
        let (_, me) = app.get("/api/v1/me", Some(token)).await;
        assert_eq!(me["display_name"], "Trần Bình");
        app.street_light("Của người khác").await;
        let (s, body) = app
            .post("/api/v1/reports", Some(token), json!({"category": "VSMT", "description": "Rác ùn ứ ở kiệt 5", "lat": 16.4741, "long": 107.6121, "attributes": {"waste_type": "household"}}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let (_, mine) = app.get("/api/v1/reports?mine=true", Some(token)).await;
        let items = mine["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["reporter"]["name"], "Trần Bình");
        let (s, _) = app
            .post("/api/v1/auth/logout", Some(token), json!({}))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.get("/api/v1/me", Some(token)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}
