//! Page paths, who may open each, and the HTML shell that boots the front end.

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use dothi_domain::Role;
use dothi_http::session::{cookie_value, csrf_token, SESSION_COOKIE};
use dothi_http::state::Caller;
use dothi_http::AppState;
use serde_json::json;

use crate::i18n::{t, Lang};
use crate::WebConfig;

/// Who may open a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Anyone signed in.
    SignedIn,
    /// Agency staff, IOC operators and administrators.
    Agency,
    /// IOC operators and administrators.
    Ioc,
    Admin,
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::SignedIn => true,
            Access::Agency => matches!(role, Role::AgencyStaff | Role::IocOperator | Role::Admin),
            Access::Ioc => role.is_ioc(),
            Access::Admin => role == Role::Admin,
        }
    }
}

/// Every page: its path (axum syntax), the front-end page it boots, and its access rule.
pub const PAGES: &[(&str, &str, Access)] = &[
    ("/login", "login", Access::Public),
    ("/register", "register", Access::Public),
    ("/reports/{id}", "report", Access::Public),
    ("/report", "report-new", Access::SignedIn),
    ("/my", "my", Access::SignedIn),
    ("/inbox", "inbox", Access::Agency),
    ("/inbox/{id}", "inbox-report", Access::Agency),
    ("/ioc", "ioc", Access::Ioc),
    // The sharing log of Nghị định 47/2020: IOC operators supervise the exchanges (the API
    // lets them read and export the log; the accounts stay with administrators).
    ("/ioc/sharing-log", "sharing-log", Access::Ioc),
    ("/admin", "admin", Access::Admin),
    ("/admin/{section}", "admin", Access::Admin),
    // The open-data portal, public: the CKAN API it reads decides who sees private datasets.
    ("/dataset", "datasets", Access::Public),
    ("/dataset/{name}", "dataset", Access::Public),
];

/// Machine-readable exports of one dataset (`/dataset/{id}.ttl`, DCAT-AP) share the dataset
/// page's path segment: axum's router cannot tell `{name}.ttl` from `{name}`, so the page
/// handler must not answer them with the page.
const DATASET_EXPORT_SUFFIXES: &[&str] = &[".ttl", ".jsonld", ".rdf", ".xml"];

pub fn routes(web: Arc<WebConfig>) -> Router<AppState> {
    let mut router = Router::new().route("/", get(home));
    for &(path, page, access) in PAGES {
        router = router.route(
            path,
            get(
                move |state: State<AppState>,
                      web: Extension<Arc<WebConfig>>,
                      caller: Caller,
                      uri: OriginalUri,
                      headers: HeaderMap| async move {
                    if page == "dataset" {
                        return dataset_page(&state, &web, caller, &uri, headers).await;
                    }
                    serve_page(&state, &web, caller, &uri, &headers, page, access)
                },
            ),
        );
    }
    router.layer(Extension(web))
}

/// `/`: the citizen portal for browsers, the service description for API clients.
async fn home(
    state: State<AppState>,
    web: Extension<Arc<WebConfig>>,
    caller: Caller,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !wants_html {
        return Json(dothi_http::root_json()).into_response();
    }
    serve_page(
        &state,
        &web,
        caller,
        &uri,
        &headers,
        "portal",
        Access::Public,
    )
}

fn is_dataset_export(uri: &OriginalUri) -> bool {
    DATASET_EXPORT_SUFFIXES
        .iter()
        .any(|suffix| uri.path().ends_with(suffix))
}

/// The DCAT-AP media types of a dataset (`/dataset/{id}` with `Accept: text/turtle`, as
/// ckanext-dcat's content negotiation), after the page's own, which wins ties (`*/*`).
const DATASET_OFFERS: &[(&str, &str)] = &[
    ("text/html", ""),
    ("text/turtle", ".ttl"),
    ("application/ld+json", ".jsonld"),
    ("application/rdf+xml", ".rdf"),
];

/// `/dataset/{name}`: the page, or its DCAT-AP document when the suffix or the `Accept` header
/// asks for one. Every answer varies with `Accept`, so caches keep them apart.
async fn dataset_page(
    state: &AppState,
    web: &WebConfig,
    caller: Caller,
    uri: &OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut response = if is_dataset_export(uri) {
        dataset_export(web, uri.0.clone(), headers).await
    } else {
        let offers: Vec<&str> = DATASET_OFFERS.iter().map(|(media, _)| *media).collect();
        let suffix = dothi_http::negotiate::preferred(&headers, &offers)
            .and_then(|media| DATASET_OFFERS.iter().find(|(m, _)| *m == media))
            .map(|(_, suffix)| *suffix);
        match suffix {
            Some(suffix) if !suffix.is_empty() && web.dataset_exports.is_some() => {
                let path = format!("{}{suffix}", uri.path());
                let target = match uri.query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                match target.parse() {
                    Ok(target) => dataset_export(web, target, headers).await,
                    Err(_) => (StatusCode::NOT_FOUND, "Not found").into_response(),
                }
            }
            _ => serve_page(state, web, caller, uri, &headers, "dataset", Access::Public),
        }
    };
    let vary = match response
        .headers()
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => format!("{v}, Accept"),
        None => "Accept".to_string(),
    };
    if let Ok(vary) = HeaderValue::from_str(&vary) {
        response.headers_mut().insert(header::VARY, vary);
    }
    response
}

/// Hands `/dataset/{id}.ttl` and the other export suffixes to the exports' router, with the
/// path, query and headers.
async fn dataset_export(web: &WebConfig, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let Some(exports) = web.dataset_exports.clone() else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let mut request = axum::extract::Request::new(axum::body::Body::empty());
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    match tower::ServiceExt::oneshot(exports, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn serve_page(
    state: &AppState,
    web: &WebConfig,
    caller: Caller,
    uri: &OriginalUri,
    headers: &HeaderMap,
    page: &str,
    access: Access,
) -> Response {
    let lang = Lang::negotiate(headers);
    let user = caller.0;
    let (page, status) = match (&user, access) {
        (None, Access::Public) => (page, StatusCode::OK),
        (None, _) => {
            let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            return Redirect::to(&format!("/login?next={}", encode(next))).into_response();
        }
        (Some(u), _) if access.allows(u.role) => (page, StatusCode::OK),
        (Some(_), _) => ("forbidden", StatusCode::FORBIDDEN),
    };
    let reference = state.store.reference();
    let user_json = user.as_ref().map(|u| {
        let agency = u.agency_id.and_then(|id| reference.agency(id));
        json!({
            "id": u.id,
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "agency_id": u.agency_id,
            "agency_code": agency.map(|a| a.code.clone()),
            "agency_name": agency.map(|a| a.name.clone()),
        })
    });
    let csrf = user
        .as_ref()
        .and_then(|_| cookie_value(headers, SESSION_COOKIE))
        .map(|s| csrf_token(&s));
    let mut boot = json!({
        "page": page,
        "lang": lang.code(),
        "user": user_json,
        "csrf": csrf,
        "config": {
            "tiles": web.tiles_url.as_ref().map(|url| json!({
                "url": url,
                "attribution": web.tiles_attribution,
            })),
            "center": [web.map_center.0, web.map_center.1],
            "zoom": web.map_zoom,
        },
    });
    if let Some(oidc) = &web.oidc {
        boot["config"]["sso"] = json!({"label": oidc.label});
    }
    let title = format!(
        "{} · {}",
        t(lang, &format!("page.{page}.title")),
        t(lang, "app.name")
    );
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n\
         <title>{title}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"/assets/style.css\">\n\
         <script type=\"module\" src=\"/assets/app.js\"></script>\n</head>\n<body>\n\
         <script id=\"boot\" type=\"application/json\">{boot}</script>\n\
         <div id=\"app\"><noscript><p class=\"noscript\">{noscript}</p></noscript></div>\n\
         </body>\n</html>\n",
        lang = lang.code(),
        title = escape_html(&title),
        boot = script_json(&boot),
        noscript = escape_html(&t(lang, "app.noscript")),
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(web)).expect("ASCII policy"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    response
}

/// Scripts only from this site; images also from the tile server.
fn content_security_policy(web: &WebConfig) -> String {
    let tiles = web
        .tiles_url
        .as_deref()
        .and_then(|u| {
            let (scheme, rest) = u.split_once("://")?;
            let host = rest.split('/').next()?;
            Some(format!(" {scheme}://{}", host.replace("{s}", "*")))
        })
        // Only a plain origin may enter the policy: no spaces, separators or non-ASCII from a
        // mistyped setting (which would also make the header invalid).
        .filter(|origin| {
            origin[1..]
                .chars()
                .all(|c| c.is_ascii_graphic() && c != ';' && c != ',' && c != '\'')
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:{tiles}; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// JSON safe inside a `<script>` element: `<` never appears literally, so neither
/// `</script>` nor `<!--` can end or confuse the element.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
