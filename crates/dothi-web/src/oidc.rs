//! Single sign-on through an OpenID Connect provider (Huế's Hue-S, or any other): dothi is the
//! relying party, with the authorization code flow, PKCE (S256), `state` and `nonce`.
//!
//! - `GET /auth/oidc/login?next=/path` sends the browser to the provider (303). The PKCE
//!   verifier, the nonce and `next` wait in memory under the `state` for ten minutes; the state
//!   also goes into a short-lived `HttpOnly`, `SameSite=Lax` cookie, so a callback is accepted
//!   only in the browser that started the sign-in (no login CSRF).
//! - `GET /auth/oidc/callback?code&state` (or `error`) checks the state against the cookie and
//!   the waiting entry (used once), exchanges the code with the PKCE verifier, verifies the ID
//!   token (signature by the provider's JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`), reads
//!   the userinfo endpoint, maps the provider account to a user (see
//!   `dothi_store::identity`), and starts a session exactly like a local sign-in.
//!
//! Invariants:
//! - Every failure answers 303 to `/login?sso_error=<code>`; none is a 500, and the provider's
//!   words never reach the page (they are logged).
//! - The server starts whether the provider answers or not: discovery is tried at start-up and
//!   again at the next sign-in. The provider metadata and keys are refreshed after an hour,
//!   and at once (at most every 5 s) when an ID token is signed by an unknown key.
//! - The HTTP client follows no redirects (SSRF) and gives up after 10 s.
//! - `next` is followed only when it is a path on this site.
//!
//! The waiting sign-ins are per process: behind a load balancer, several instances need sticky
//! sessions for `/auth/oidc/` (or a single instance for sign-on).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use dothi_domain::{DomainError, Role};
use dothi_http::session::{cookie_value, session_cookie};
use dothi_http::AppState;
use dothi_store::identity::OidcClaims;
use dothi_store::StoreError;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdTokenClaims, CoreJsonWebKey,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::url::form_urlencoded;
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey,
    JwsSigningAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};

/// The cookie that binds a waiting sign-in to the browser that started it.
pub const STATE_COOKIE: &str = "dothi_oidc";
const COOKIE_PATH: &str = "/auth/oidc";
/// How long a sign-in may take at the provider.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Waiting sign-ins kept at most; past that the oldest is forgotten.
const MAX_PENDING: usize = 10_000;
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// ID tokens come only from the provider's token endpoint, so an unknown key is the provider's
/// own doing; this only keeps a misbehaving provider from being asked at every sign-in.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of single sign-on; `dothi serve` fills them from `DOTHI_OIDC_*`.
#[derive(Clone)]
pub struct OidcConfig {
    /// The provider's issuer identifier, exactly as in its discovery document.
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Text of the sign-in button ("Đăng nhập bằng {label}").
    pub label: String,
    /// Scopes asked for; `openid` is always asked for.
    pub scopes: Vec<String>,
}

impl OidcConfig {
    /// Checks the settings; `scopes` is a space- or comma-separated list.
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
        label: &str,
        scopes: &str,
    ) -> Result<Self, String> {
        let issuer = issuer.trim();
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| format!("the OpenID Connect issuer '{issuer}' is not a URL: {e}"))?;
        if !matches!(url.url().scheme(), "https" | "http") {
            return Err(format!(
                "the OpenID Connect issuer '{issuer}' must be an https URL"
            ));
        }
        if client_id.trim().is_empty() {
            return Err("single sign-on needs a client id (DOTHI_OIDC_CLIENT_ID)".into());
        }
        let label = label.trim();
        Ok(OidcConfig {
            issuer: issuer.to_string(),
            client_id: client_id.trim().to_string(),
            client_secret: client_secret
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            label: if label.is_empty() { "Hue-S" } else { label }.to_string(),
            scopes: scopes
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "(hidden)"),
            )
            .field("label", &self.label)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why a sign-on failed; the code goes to the sign-in page as `sso_error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The provider cannot be reached or its discovery document is unusable.
    Unavailable,
    /// The callback's state does not belong to this browser.
    State,
    /// No waiting sign-in for this state (too old, used, or forgotten by a restart).
    Expired,
    /// The person refused at the provider.
    Denied,
    /// The provider answered with an error.
    Provider,
    /// The code exchange failed.
    Token,
    /// The ID token failed verification.
    IdToken,
    /// The user is deactivated.
    Inactive,
    /// The account could not be found or created.
    Account,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Failure::Unavailable => "unavailable",
            Failure::State => "state",
            Failure::Expired => "expired",
            Failure::Denied => "denied",
            Failure::Provider => "provider",
            Failure::Token => "token",
            Failure::IdToken => "id_token",
            Failure::Inactive => "inactive",
            Failure::Account => "account",
        }
    }
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Provider {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

struct Pending {
    verifier: String,
    nonce: Nonce,
    next: Option<String>,
    expires: Instant,
}

/// The relying party: settings, HTTP client, cached provider metadata and waiting sign-ins.
pub(crate) struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    pending: Mutex<HashMap<String, Pending>>,
}

/// The sign-on routes. Without configuration they only send the browser back to the sign-in
/// page.
pub fn routes(config: Option<&OidcConfig>) -> Router<AppState> {
    let Some(config) = config else {
        return Router::new()
            .route("/auth/oidc/login", get(not_configured))
            .route("/auth/oidc/callback", get(not_configured));
    };
    let oidc = Arc::new(Oidc::new(config.clone()));
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let oidc = oidc.clone();
        runtime.spawn(async move {
            if oidc.provider(false).await.is_ok() {
                tracing::info!(issuer = %oidc.config.issuer, "single sign-on ready");
            }
        });
    }
    Router::new()
        .route("/auth/oidc/login", get(login))
        .route("/auth/oidc/callback", get(callback))
        .layer(Extension(oidc))
}

async fn not_configured() -> Response {
    redirect("/login?sso_error=not_configured", vec![])
}

impl Oidc {
    fn new(config: OidcConfig) -> Self {
        let http = reqwest::Client::builder()
            // Following redirects would open the client to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(HTTP_TIMEOUT)
            .user_agent(concat!("dothi/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client with rustls");
        Oidc {
            config,
            http,
            provider: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The provider metadata (with its keys), discovered when missing or older than an hour,
    /// or when `refresh` asks and the last discovery is older than 5 s. A failed refresh keeps
    /// the metadata already known.
    async fn provider(&self, refresh: bool) -> Result<Arc<Provider>, Failure> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref() {
            let age = p.fetched.elapsed();
            let fresh = if refresh {
                age < MIN_REFRESH_INTERVAL
            } else {
                age < METADATA_MAX_AGE
            };
            if fresh {
                return Ok(p.clone());
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: the issuer is not a URL");
            Failure::Unavailable
        })?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                tracing::info!(
                    issuer = %self.config.issuer,
                    keys = metadata.jwks().keys().len(),
                    refresh,
                    "single sign-on: provider discovered"
                );
                let p = Arc::new(Provider {
                    metadata,
                    fetched: Instant::now(),
                });
                *cached = Some(p.clone());
                Ok(p)
            }
            Err(e) => {
                tracing::warn!(
                    issuer = %self.config.issuer,
                    error = %error_chain(&e),
                    "single sign-on: provider discovery failed; trying again at the next sign-in"
                );
                cached.clone().ok_or(Failure::Unavailable)
            }
        }
    }

    fn client(&self, provider: &Provider, base_url: &str) -> Result<Client, Failure> {
        let redirect = RedirectUrl::new(format!("{base_url}/auth/oidc/callback")).map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: the public URL makes no redirect URI");
            Failure::Unavailable
        })?;
        let methods = provider.metadata.token_endpoint_auth_methods_supported();
        let auth_type = match methods {
            Some(m)
                if !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && m.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        Ok(CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type))
    }

    fn remember(&self, state: String, pending: Pending) {
        let mut map = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_PENDING {
            let now = Instant::now();
            map.retain(|_, p| p.expires > now);
            if map.len() >= MAX_PENDING {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, p)| p.expires)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(state, pending);
    }

    /// The waiting sign-in of this callback, taken out (a state is used once). The state must
    /// be the one in this browser's cookie.
    fn take(&self, state: Option<&str>, cookie: Option<&str>) -> Result<Pending, Failure> {
        let (Some(state), Some(cookie)) = (state, cookie) else {
            return Err(Failure::State);
        };
        if !constant_time_eq(state.as_bytes(), cookie.as_bytes()) {
            return Err(Failure::State);
        }
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(state)
            .ok_or(Failure::Expired)?;
        if pending.expires <= Instant::now() {
            return Err(Failure::Expired);
        }
        Ok(pending)
    }

    /// Exchanges the code, verifies the ID token and reads the userinfo endpoint: the issuer,
    /// the subject and what the provider says about the person.
    async fn authenticate(
        &self,
        base_url: &str,
        code: &str,
        pending: Pending,
    ) -> Result<(String, String, OidcClaims), Failure> {
        let provider = self.provider(false).await?;
        let client = self.client(&provider, base_url)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| {
                tracing::warn!(error = %e, "single sign-on: the provider has no token endpoint");
                Failure::Unavailable
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %error_chain(&e), "single sign-on: code exchange failed");
                Failure::Token
            })?;
        let id_token = response.id_token().ok_or_else(|| {
            tracing::warn!("single sign-on: the token response has no ID token");
            Failure::Token
        })?;

        let verified = id_token
            .claims(&client.id_token_verifier(), &pending.nonce)
            .cloned();
        // An unknown signing key: the provider may have rotated its keys since discovery.
        let (claims, client) = match verified {
            Ok(claims) => (claims, client),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let provider = self.provider(true).await?;
                let client = self.client(&provider, base_url)?;
                let claims = id_token
                    .claims(&client.id_token_verifier(), &pending.nonce)
                    .cloned()
                    .map_err(|e| id_token_failure(&e))?;
                (claims, client)
            }
            Err(e) => return Err(id_token_failure(&e)),
        };
        if let Some(expected) = claims.access_token_hash() {
            let verifier = client.id_token_verifier();
            let token = response.access_token();
            let actual = id_token.signing_alg().ok().and_then(|alg| {
                if alg.uses_shared_secret() {
                    // HS256/384/512: keyed by the client secret (the verifier allowed it only
                    // because there is one).
                    let secret = self.config.client_secret.clone()?;
                    let key = CoreJsonWebKey::new_symmetric(secret.into_bytes());
                    AccessTokenHash::from_token(token, alg, &key).ok()
                } else {
                    let key = id_token.signing_key(&verifier).ok()?;
                    AccessTokenHash::from_token(token, alg, key).ok()
                }
            });
            if actual.as_ref() != Some(expected) {
                tracing::warn!("single sign-on: the access token does not match at_hash");
                return Err(Failure::IdToken);
            }
        }

        let subject = claims.subject().clone();
        let userinfo: Option<CoreUserInfoClaims> =
            match client.user_info(response.access_token().clone(), Some(subject.clone())) {
                Err(_) => None, // the provider has no userinfo endpoint
                Ok(request) => match request.request_async(&self.http).await {
                    Ok(info) => Some(info),
                    Err(e) => {
                        tracing::warn!(
                            error = %error_chain(&e),
                            "single sign-on: userinfo failed; using the ID token's claims only"
                        );
                        None
                    }
                },
            };
        Ok((
            claims.issuer().as_str().to_string(),
            subject.as_str().to_string(),
            merge_claims(&claims, userinfo.as_ref()),
        ))
    }
}

fn id_token_failure(e: &ClaimsVerificationError) -> Failure {
    tracing::warn!(error = %error_chain(e), "single sign-on: the ID token is refused");
    Failure::IdToken
}

/// What the provider says about the person, from one set of claims.
struct Said {
    name: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    email_verified: bool,
    phone: Option<String>,
}

macro_rules! said {
    ($c:expr) => {
        Said {
            name: $c
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
            preferred_username: $c.preferred_username().map(|u| u.as_str().to_string()),
            email: $c.email().map(|e| e.as_str().to_string()),
            email_verified: $c.email_verified() == Some(true),
            phone: $c.phone_number().map(|p| p.as_str().to_string()),
        }
    };
}

/// The ID token's claims, completed by the userinfo endpoint's. An e-mail address counts as
/// verified only by the same set of claims that carries it.
fn merge_claims(id: &CoreIdTokenClaims, info: Option<&CoreUserInfoClaims>) -> OidcClaims {
    let id = said!(id);
    let info = info.map(|i| said!(i.standard_claims()));
    let (email, email_verified) = match (&id.email, &info) {
        (Some(e), _) => (Some(e.clone()), id.email_verified),
        (None, Some(i)) => (i.email.clone(), i.email_verified),
        (None, None) => (None, false),
    };
    let or_info = |mine: Option<String>, pick: fn(&Said) -> Option<String>| {
        mine.or_else(|| info.as_ref().and_then(pick))
    };
    OidcClaims {
        name: or_info(id.name, |i| i.name.clone()),
        preferred_username: or_info(id.preferred_username, |i| i.preferred_username.clone()),
        email,
        email_verified,
        phone: or_info(id.phone, |i| i.phone.clone()),
    }
}

/// `GET /auth/oidc/login?next=/path`: to the provider.
async fn login(
    State(state): State<AppState>,
    Extension(oidc): Extension<Arc<Oidc>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_query(query.as_deref());
    let next = params.get("next").and_then(|n| safe_next(n));
    let provider = match oidc.provider(false).await {
        Ok(p) => p,
        Err(f) => return fail(f, next.as_deref(), vec![]),
    };
    let client = match oidc.client(&provider, &state.config.base_url) {
        Ok(c) => c,
        Err(f) => return fail(f, next.as_deref(), vec![]),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in oidc.config.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let state_value = csrf.secret().clone();
    oidc.remember(
        state_value.clone(),
        Pending {
            verifier: verifier.secret().clone(),
            nonce,
            next,
            expires: Instant::now() + PENDING_TTL,
        },
    );
    let cookie = state_cookie(&state_value, PENDING_TTL.as_secs(), &state);
    redirect(url.as_str(), vec![cookie])
}

/// `GET /auth/oidc/callback?code&state` (or `?error&state`): back from the provider.
async fn callback(
    State(state): State<AppState>,
    Extension(oidc): Extension<Arc<Oidc>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_query(query.as_deref());
    let cookie = cookie_value(&headers, STATE_COOKIE);
    let clear = state_cookie("", 0, &state);
    let pending = match oidc.take(params.get("state").map(String::as_str), cookie.as_deref()) {
        Ok(p) => p,
        Err(f) => {
            tracing::warn!(
                reason = f.code(),
                "single sign-on: a callback without a matching sign-in"
            );
            return fail(f, None, vec![clear]);
        }
    };
    let next = pending.next.clone();
    // RFC 9207: a provider that names itself must be the one this sign-in went to.
    if let Some(iss) = params.get("iss") {
        if iss != &oidc.config.issuer {
            tracing::warn!(iss, "single sign-on: a callback from another issuer");
            return fail(Failure::Provider, next.as_deref(), vec![clear]);
        }
    }
    if let Some(error) = params.get("error") {
        tracing::info!(
            error,
            description = params.get("error_description").map(String::as_str),
            "single sign-on: the provider answered with an error"
        );
        let f = if error == "access_denied" {
            Failure::Denied
        } else {
            Failure::Provider
        };
        return fail(f, next.as_deref(), vec![clear]);
    }
    let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
        return fail(Failure::Provider, next.as_deref(), vec![clear]);
    };
    let (issuer, subject, claims) = match oidc
        .authenticate(&state.config.base_url, code, pending)
        .await
    {
        Ok(found) => found,
        Err(f) => return fail(f, next.as_deref(), vec![clear]),
    };
    let user = match state
        .store
        .find_or_create_oidc_user(&issuer, &subject, &claims)
        .await
    {
        Ok(user) => user,
        Err(StoreError::Domain(DomainError::Forbidden(_))) => {
            tracing::info!(issuer, "single sign-on refused: the user is deactivated");
            return fail(Failure::Inactive, next.as_deref(), vec![clear]);
        }
        Err(e) => {
            tracing::warn!(error = %e, issuer, "single sign-on: no user for the account");
            return fail(Failure::Account, next.as_deref(), vec![clear]);
        }
    };
    let token = match state.store.issue_token(user.id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: issuing the session failed");
            return fail(Failure::Account, next.as_deref(), vec![clear]);
        }
    };
    let max_age = state.store.settings.token_ttl_hours * 3600;
    let session = session_cookie(&token, max_age, state.config.secure_cookies);
    let target = next.unwrap_or_else(|| home(user.role).to_string());
    redirect(&target, vec![clear, session])
}

/// Where a user lands after signing in without a `next`.
fn home(role: Role) -> &'static str {
    match role {
        Role::Admin | Role::IocOperator => "/ioc",
        Role::AgencyStaff => "/inbox",
        Role::Citizen => "/my",
    }
}

fn fail(failure: Failure, next: Option<&str>, cookies: Vec<HeaderValue>) -> Response {
    let mut location = format!("/login?sso_error={}", failure.code());
    if let Some(next) = next {
        location.push_str("&next=");
        location.extend(form_urlencoded::byte_serialize(next.as_bytes()));
    }
    redirect(&location, cookies)
}

fn redirect(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/login")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    for cookie in cookies {
        h.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The state cookie (`max_age` 0 removes it).
fn state_cookie(value: &str, max_age: u64, state: &AppState) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{STATE_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("state cookie is ASCII")
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `next` only when it is a path on this site: starts with one '/', printable ASCII, no '\'
/// (browsers read `/\host` as `//host`).
fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2000
        && next
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'\\');
    ok.then(|| next.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error and its sources, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_path_on_this_site() {
        assert_eq!(safe_next("/my").as_deref(), Some("/my"));
        assert_eq!(
            safe_next("/reports/12?tab=history").as_deref(),
            Some("/reports/12?tab=history")
        );
        for bad in [
            "",
            "my",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a b",
            "/\u{e9}",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn config_is_checked_and_the_secret_stays_out_of_logs() {
        let c = OidcConfig::new(
            " https://id.hue.gov.vn ",
            "dothi",
            Some("s3cret"),
            "",
            "openid profile,email",
        )
        .unwrap();
        assert_eq!(c.issuer, "https://id.hue.gov.vn");
        assert_eq!(c.label, "Hue-S");
        assert_eq!(c.scopes, ["openid", "profile", "email"]);
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(OidcConfig::new("not a url", "dothi", None, "x", "openid").is_err());
        assert!(OidcConfig::new("ftp://id.example", "dothi", None, "x", "openid").is_err());
        assert!(OidcConfig::new("https://id.example", " ", None, "x", "openid").is_err());
    }

    #[test]
    fn failures_go_back_to_the_sign_in_page() {
        let r = fail(Failure::Denied, Some("/reports/3?x=1"), vec![]);
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "/login?sso_error=denied&next=%2Freports%2F3%3Fx%3D1"
        );
    }

    #[test]
    fn a_state_is_used_once_and_only_with_its_cookie() {
        let oidc =
            Oidc::new(OidcConfig::new("https://id.example", "dothi", None, "x", "openid").unwrap());
        let pending = |next: &str| Pending {
            verifier: "v".into(),
            nonce: Nonce::new("n".into()),
            next: Some(next.into()),
            expires: Instant::now() + PENDING_TTL,
        };
        oidc.remember("s1".into(), pending("/a"));
        assert_eq!(oidc.take(Some("s1"), None).err(), Some(Failure::State));
        assert_eq!(
            oidc.take(Some("s1"), Some("s2")).err(),
            Some(Failure::State)
        );
        assert_eq!(oidc.take(None, Some("s1")).err(), Some(Failure::State));
        assert_eq!(
            oidc.take(Some("s1"), Some("s1")).unwrap().next.as_deref(),
            Some("/a")
        );
        assert_eq!(
            oidc.take(Some("s1"), Some("s1")).err(),
            Some(Failure::Expired)
        );
        let mut old = pending("/old");
        old.expires = Instant::now() - Duration::from_secs(1);
        oidc.remember("s3".into(), old);
        assert_eq!(
            oidc.take(Some("s3"), Some("s3")).err(),
            Some(Failure::Expired)
        );
        for i in 0..MAX_PENDING + 5 {
            oidc.remember(format!("k{i}"), pending("/x"));
        }
        assert_eq!(oidc.pending.lock().unwrap().len(), MAX_PENDING);
    }
}
