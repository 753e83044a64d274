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
use crate::session::{
    clear_session_cookie, cookie_value, csrf_token, session_cookie, SESSION_COOKIE,
};
use crate::state::{client_addr, AppState, Caller};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(token))
        .route(
            "/auth/session",
            get(session_show)
                .post(session_create)
                .delete(session_delete),
        )
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
    ext: axum::http::Extensions,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Json<serde_json::Value>> {
    state.limiter.check(&c.username, client_addr(&ext))?;
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

/// Browser sign-in: the same check as `/auth/token`, answered with an `HttpOnly` session cookie
/// and the CSRF token the page must send back on unsafe requests.
async fn session_create(
    State(state): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Response> {
    state.limiter.check(&c.username, client_addr(&ext))?;
    let (token, user) = state.store.login(&c.username, &c.password).await?;
    Ok(session_response(&state, &token, user))
}

/// The answer that starts a browser session (local sign-in and single sign-on alike).
pub fn session_response(state: &AppState, token: &str, user: dothi_store::auth::User) -> Response {
    let max_age = state.store.settings.token_ttl_hours * 3600;
    let cookie = session_cookie(token, max_age, state.config.secure_cookies);
    (
        [(axum::http::header::SET_COOKIE, cookie)],
        Json(json!({"user": user, "csrf_token": csrf_token(token), "expires_in": max_age})),
    )
        .into_response()
}

async fn session_show(
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let user = caller.require()?.clone();
    let csrf = cookie_value(&headers, SESSION_COOKIE).map(|s| csrf_token(&s));
    Ok(Json(json!({"user": user, "csrf_token": csrf})))
}

/// Sign-out: revokes the session token and clears the cookie. Idempotent.
async fn session_delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    if caller.0.is_some() {
        if let Some(session) = cookie_value(&headers, SESSION_COOKIE) {
            state.store.revoke_token(&session).await?;
        }
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            axum::http::header::SET_COOKIE,
            clear_session_cookie(state.config.secure_cookies),
        )],
    )
        .into_response())
}
