//! The NGSI-LD access policy: reads open, writes need an API key or an operator's token.

mod common;

use axum::http::StatusCode;
use common::{problem, App, BACKENDS};
use dothi_broker::Access;
use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use serde_json::json;

fn user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: name.into(),
        email: None,
        phone: None,
        password: "a-long-enough-password".into(),
        role,
        agency_code: None,
    }
}

#[tokio::test]
async fn writes_need_an_api_key_or_an_operator_token() {
    for backend in BACKENDS {
        let app = App::with_access(backend, Access::Writes).await;
        let store = &app.broker.store;
        let (key, _) = store
            .create_api_key(&Actor::system(), "river sensors")
            .await
            .unwrap();
        let operator = store
            .create_user(&Actor::system(), &user("ioc1", Role::IocOperator))
            .await
            .unwrap();
        let citizen = store
            .create_user(&Actor::system(), &user("dan1", Role::Citizen))
            .await
            .unwrap();
        let operator_token = store.issue_token(operator.id).await.unwrap();
        let citizen_token = store.issue_token(citizen.id).await.unwrap();
        let entity =
            |n: u32| json!({"id": format!("urn:ngsi-ld:Device:{n}"), "type": "Device"}).to_string();
        let post = |headers: Vec<(&'static str, String)>, n: u32| {
            let app = &app;
            async move {
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                app.send(
                    "POST",
                    "/ngsi-ld/v1/entities",
                    &headers,
                    Some(("application/json", entity(n))),
                )
                .await
            }
        };

        let anonymous = post(vec![], 1).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            anonymous.header("www-authenticate"),
            Some("Bearer realm=\"dothi NGSI-LD\"")
        );
        assert_eq!(
            anonymous.body,
            problem(
                "Unauthorized",
                "Unauthorized",
                401,
                "this request needs an API key (X-API-Key) or the bearer token of an IOC operator or administrator"
            )
        );
        let as_citizen = post(
            vec![("authorization", format!("Bearer {citizen_token}"))],
            2,
        )
        .await;
        assert_eq!(
            as_citizen.body,
            problem(
                "Unauthorized",
                "Unauthorized",
                401,
                "the API key or bearer token is not valid for writing context data"
            )
        );
        let wrong_key = post(vec![("x-api-key", "dk_not-a-key".into())], 3).await;
        assert_eq!(wrong_key.status, StatusCode::UNAUTHORIZED);

        let with_key = post(vec![("x-api-key", key.clone())], 4).await;
        assert_eq!(with_key.status, StatusCode::CREATED, "{:?}", with_key.body);
        assert_eq!(
            post(
                vec![("authorization", format!("Bearer {operator_token}"))],
                5
            )
            .await
            .status,
            StatusCode::CREATED
        );
        // Reads stay open: dashboards and open data read context data without credentials.
        let read = app
            .get("/ngsi-ld/v1/entities?type=Device&options=keyValues")
            .await;
        assert_eq!(
            read.body,
            json!([{"id": "urn:ngsi-ld:Device:4", "type": "Device"}, {"id": "urn:ngsi-ld:Device:5", "type": "Device"}])
        );
        assert_eq!(
            app.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:1")
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_closed_broker_refuses_anonymous_reads() {
    let app = App::with_access(dothi_store::Backend::Sqlite, Access::All).await;
    let read = app.get("/ngsi-ld/v1/types").await;
    assert_eq!(read.status, StatusCode::UNAUTHORIZED);
}
