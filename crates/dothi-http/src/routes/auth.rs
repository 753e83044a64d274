//! Sign-in with local accounts, self-registration for citizens, and the caller's profile.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dothi_domain::{Actor, Role};
use dothi_store::auth::NewUser;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::state::{AppState, Caller};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(token))
        .route("/auth/logout", post(logout))
        .route("/auth/register", post(register))
        .route("/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username: String,
    password: String,
}

async fn token(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Json<serde_json::Value>> {
    let (token, user) = state.store.login(&c.username, &c.password).await?;
    Ok(Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.store.settings.token_ttl_hours * 3600,
        "user": user,
    })))
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<StatusCode> {
    caller.require()?;
    if let Some(token) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        state.store.revoke_token(token.trim()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    username: String,
    password: String,
    display_name: String,
    email: Option<String>,
    phone: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<Registration>,
) -> ApiResult<Response> {
    let user = state
        .store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: r.username,
                display_name: r.display_name,
                email: r.email,
                phone: r.phone,
                password: r.password,
                role: Role::Citizen,
                agency_code: None,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn me(caller: Caller) -> ApiResult<Json<dothi_store::auth::User>> {
    Ok(Json(caller.require()?.clone()))
}
