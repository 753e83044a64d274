//! The field-report workflow through the native API, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::{App, BACKENDS};
use serde_json::{json, Value};

fn actions(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn street_light_report_goes_from_intake_to_closed_with_a_rating() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let report = app
            .street_light("Đèn đường trước nhà 12 Nguyễn Sinh Cung không sáng 3 đêm nay")
            .await;
        let id = report["id"].as_i64().unwrap();
        assert_eq!(report["status"], "assigned", "{backend:?}");
        assert_eq!(report["agency"]["code"], "HEPCO");
        assert_eq!(report["commune"]["code"], "19777");
        assert_eq!(report["channel"], "app");
        assert!(report["deadline_at"].as_str().unwrap().ends_with("+07:00"));

        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/accept"),
                Some(&app.hepco),
                json!({"note": "Đã tiếp nhận"}),
            )
            .await;
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("in_progress")),
            "{r}"
        );

        let before = r["deadline_at"].as_str().unwrap().to_string();
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/extension-request"),
                Some(&app.hepco),
                json!({"days": 3, "reason": "Chờ vật tư bóng đèn"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            r["deadline_at"].as_str().unwrap(),
            before,
            "a request alone does not move the deadline"
        );
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/extension-request/approve"),
                Some(&app.ioc),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert!(
            r["deadline_at"].as_str().unwrap() > before.as_str(),
            "approval moves the deadline"
        );
        let (s, ext) = app
            .get(
                &format!("/api/v1/reports/{id}/extensions"),
                Some(&app.hepco),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ext[0]["status"], "approved");
        assert_eq!(ext[0]["days"], 3);
        assert_eq!(ext[0]["new_deadline_at"], r["deadline_at"]);

        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/resolve"),
                Some(&app.hepco),
                json!({"note": "Đã thay bóng đèn mới"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "resolved");
        assert_eq!(r["resolved_on_time"], true);
        assert_eq!(r["status_notes"], "Đã thay bóng đèn mới");

        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/rate"),
                Some(&app.citizen),
                json!({"rating": "satisfied", "comment": "Cảm ơn"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "closed");
        assert_eq!(r["rating"], "satisfied");

        let (_, history) = app
            .get(&format!("/api/v1/reports/{id}/history"), Some(&app.ioc))
            .await;
        assert_eq!(
            actions(&history),
            [
                "create",
                "assign",
                "accept",
                "request_extension",
                "approve_extension",
                "resolve",
                "rate"
            ]
        );
        assert_eq!(history[0]["actor"], "citizen");
        assert_eq!(history[1]["actor"], "system");
        assert_eq!(history[1]["target_agency"], "HEPCO");
        assert_eq!(history[2]["actor"], "hepco");
        assert_eq!(history[4]["actor"], "ioc");

        // The public sees the public part of the history, without account names of citizens
        // and without the internal extension steps.
        let (_, public) = app
            .get(&format!("/api/v1/reports/{id}/history"), None)
            .await;
        assert_eq!(
            actions(&public),
            ["create", "assign", "accept", "resolve", "rate"]
        );
        assert_eq!(public[0]["actor"], "reporter");
    }
}

#[tokio::test]
async fn reporter_identity_is_visible_only_to_ioc_staff_and_the_reporter() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
        let path = format!("/api/v1/reports/{id}");
        for (who, token) in [
            ("anonymous", None),
            ("agency", Some(&app.hepco)),
            ("other citizen", Some(&app.other_citizen)),
        ] {
            let (s, r) = app.get(&path, token.map(|t| t.as_str())).await;
            assert_eq!(s, StatusCode::OK);
            assert!(
                r.get("reporter").is_none(),
                "{who} must not see the reporter: {r}"
            );
        }
        for token in [&app.ioc, &app.admin, &app.citizen] {
            let (_, r) = app.get(&path, Some(token)).await;
            assert_eq!(
                r["reporter"],
                json!({"user_id": app.citizen_id, "name": "Người dùng citizen", "email": "citizen@example.vn", "phone": "0905123456", "device_id": null})
            );
        }
        // Lists follow the same rule.
        let (_, list) = app.get("/api/v1/reports", Some(&app.hepco)).await;
        assert!(list["items"][0].get("reporter").is_none());
        let (_, list) = app.get("/api/v1/reports", Some(&app.ioc)).await;
        assert_eq!(list["items"][0]["reporter"]["name"], "Người dùng citizen");
    }
}

#[tokio::test]
async fn unsatisfied_rating_reopens_the_report_with_a_new_deadline() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Đèn chập chờn").await["id"]
            .as_i64()
            .unwrap();
        app.post(
            &format!("/api/v1/reports/{id}/resolve"),
            Some(&app.hepco),
            json!({"note": "Đã sửa"}),
        )
        .await;
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/rate"),
                Some(&app.citizen),
                json!({"rating": "unsatisfied", "comment": "Vẫn chưa sáng", "reopen": true}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "reopened");
        assert_eq!(r["reopen_count"], 1);
        assert_eq!(r["resolved_at"], Value::Null);
        assert_eq!(r["agency"]["code"], "HEPCO");
        // An acceptable rating cannot reopen.
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/resolve"),
                Some(&app.hepco),
                json!({"note": "Đã thay"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/rate"),
                Some(&app.citizen),
                json!({"rating": "acceptable", "reopen": true}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r["detail"],
            "invalid reopen: only an unsatisfied rating can reopen the report"
        );
    }
}

#[tokio::test]
async fn transfer_hands_the_report_to_another_agency_and_restarts_its_deadline() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Nước tràn lên đèn").await["id"]
            .as_i64()
            .unwrap();
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/transfer"),
                Some(&app.hepco),
                json!({"agency": "HUEWACO", "reason": "Sự cố do vỡ ống nước"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["status"], "transferred");
        assert_eq!(r["agency"]["code"], "HUEWACO");
        // HEPCO has let go of it; HUEWACO now handles it.
        let (s, _) = app
            .post(
                &format!("/api/v1/reports/{id}/accept"),
                Some(&app.hepco),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/accept"),
                Some(&app.huewaco),
                json!({}),
            )
            .await;
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("in_progress"))
        );
        // Transferring to the agency that already has it is refused.
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/transfer"),
                Some(&app.huewaco),
                json!({"agency": "HUEWACO", "reason": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r["detail"],
            "invalid agency: the report is already with that agency"
        );
    }
}

#[tokio::test]
async fn rejection_as_duplicate_names_an_existing_original() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let first = app.street_light("Đèn số 5 không sáng").await["id"]
            .as_i64()
            .unwrap();
        let second = app.street_light("Đèn số 5 không sáng nữa").await;
        let id = second["id"].as_i64().unwrap();
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/reject"),
                Some(&app.ioc),
                json!({"reason": "duplicate"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r["field"], "duplicate_of");
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/reject"),
                Some(&app.ioc),
                json!({"reason": "duplicate", "duplicate_of": first, "note": "Trùng phản ánh"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            (
                r["status"].as_str(),
                r["reject_reason"].as_str(),
                r["duplicate_of"].as_i64()
            ),
            (Some("rejected"), Some("duplicate"), Some(first))
        );
        let (s, r) = app
            .post(
                &format!("/api/v1/reports/{id}/reject"),
                Some(&app.ioc),
                json!({"reason": "out_of_scope"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(
            r["detail"],
            "cannot reject a report whose status is rejected"
        );
    }
}

#[tokio::test]
async fn new_report_near_a_recent_one_of_the_same_category_suggests_it_as_duplicate() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let first = app.street_light("Đèn không sáng").await["id"]
            .as_i64()
            .unwrap();
        let (s, body) = app
            .post(
                "/api/v1/reports",
                Some(&app.other_citizen),
                json!({"category": "CSCC", "description": "Cả dãy đèn tắt", "lat": 16.4744, "long": 107.6122, "attributes": {"lamp_state": "off"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let dups = body["possible_duplicates"].as_array().unwrap();
        assert_eq!(dups.len(), 1, "{body}");
        assert_eq!(dups[0]["id"].as_i64(), Some(first));
        assert!(dups[0]["distance_m"].as_f64().unwrap() < 100.0);
        // Another category at the same place is not a duplicate; so is a place 1 km away.
        let (_, d) = app
            .get(
                "/api/v1/duplicates?category=VSMT&lat=16.4741&long=107.6121",
                None,
            )
            .await;
        assert_eq!(d, json!([]));
        let (_, d) = app
            .get(
                "/api/v1/duplicates?category=CSCC&lat=16.4831&long=107.6121",
                None,
            )
            .await;
        assert_eq!(d, json!([]));
        let (_, d) = app
            .get(
                "/api/v1/duplicates?category=CSCC&lat=16.4741&long=107.6121",
                None,
            )
            .await;
        assert_eq!(d.as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn search_ignores_vietnamese_diacritics() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        app.street_light("Đèn đường Hùng Vương bị tắt").await;
        app.street_light("Cột đèn nghiêng ở Lê Lợi").await;
        for q in ["duong hung vuong", "ĐƯỜNG hùng", "Hung Vuong"] {
            let (s, r) = app
                .get(
                    &format!("/api/v1/reports?q={}", q.replace(' ', "%20")),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK);
            let items = r["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{q}: {r}");
            assert_eq!(items[0]["description"], "Đèn đường Hùng Vương bị tắt");
        }
        let (_, r) = app.get("/api/v1/reports?q=le%20loi", None).await;
        assert_eq!(r["items"][0]["description"], "Cột đèn nghiêng ở Lê Lợi");
    }
}

#[tokio::test]
async fn overdue_report_is_flagged_after_its_last_working_day() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Đèn hỏng lâu ngày").await["id"]
            .as_i64()
            .unwrap();
        let (overdue, _) = app.store.sweep(dothi_store::time::now_ms()).await.unwrap();
        assert_eq!(overdue, 0, "not overdue yet");
        // Thirty days later the deadline (a few working days) has certainly passed.
        let later = dothi_store::time::now_ms() + 30 * 86_400_000;
        let (overdue, _) = app.store.sweep(later).await.unwrap();
        assert_eq!(overdue, 1);
        let (again, _) = app.store.sweep(later).await.unwrap();
        assert_eq!(again, 0, "flagged once");
        let (_, history) = app
            .get(&format!("/api/v1/reports/{id}/history"), Some(&app.ioc))
            .await;
        assert_eq!(actions(&history).last().unwrap(), "overdue");
        let report = app
            .store
            .report(&dothi_domain::Actor::system(), id)
            .await
            .unwrap();
        assert!(report.overdue);
    }
}

#[tokio::test]
async fn resolved_reports_nobody_rates_are_closed_automatically() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let id = app.street_light("Đèn hỏng").await["id"].as_i64().unwrap();
        app.post(
            &format!("/api/v1/reports/{id}/resolve"),
            Some(&app.hepco),
            json!({"note": "Đã sửa"}),
        )
        .await;
        let (_, closed) = app
            .store
            .sweep(dothi_store::time::now_ms() + 8 * 86_400_000)
            .await
            .unwrap();
        assert_eq!(closed, 1);
        let (_, r) = app.get(&format!("/api/v1/reports/{id}"), None).await;
        assert_eq!(r["status"], "closed");
    }
}

#[tokio::test]
async fn hotline_operator_records_a_call_with_the_callers_contact() {
    for backend in BACKENDS {
        let app = App::new(backend).await;
        let (s, body) = app
            .post(
                "/api/v1/reports",
                Some(&app.ioc),
                json!({"category": "CAPNUOC", "description": "Mất nước từ sáng", "address": "Kiệt 12 Phan Đình Phùng, phường Vỹ Dạ",
                       "priority": "urgent", "reporter": {"name": "Bà Lan", "phone": "0914000111"}, "attributes": {"issue": "no_water"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let r = &body["report"];
        assert_eq!(
            (r["channel"].as_str(), r["priority"].as_str()),
            (Some("hotline"), Some("urgent"))
        );
        assert_eq!(
            r["commune"]["code"], "19777",
            "commune found from the address"
        );
        assert_eq!(r["reporter"]["phone"], "0914000111");
        // Citizens cannot claim the hotline channel or enter someone else's contact.
        let (s, r) = app
            .post("/api/v1/reports", Some(&app.citizen), json!({"category": "CAPNUOC", "description": "x", "address": "Huế", "channel": "hotline", "attributes": {"issue": "no_water"}}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r["field"], "channel");
    }
}
