//! The web pages of dothi: the citizen portal, the agency inbox, the IOC dashboard and the admin
//! pages.
//!
//! The pages are a Preact application built from `web/` (npm, lockfile, esbuild) and embedded
//! in the binary. They talk only to the public JSON API (`/api/v1`), signed in by the session
//! cookie, and the open-data pages (`/dataset…`) to the public CKAN Action API
//! (`/api/3/action/…`). This crate serves:
//! - one HTML shell per page path, carrying the signed-in user, the CSRF token, the language
//!   and the map settings as JSON (no inline script, so the CSP forbids inline code);
//! - the access rule of each page: a page for a role redirects strangers to the sign-in page and
//!   answers 403 to signed-in users of another role (the API enforces the same on the data);
//! - the built assets under `/assets/`;
//! - single sign-on through an OpenID Connect provider under `/auth/oidc/` (see `oidc`).
//!
//! Invariant: nothing here reads or writes reports; the API does, with its own authorization.

mod assets;
mod i18n;
mod oidc;
mod pages;

use axum::Router;
use dothi_http::{AppState, HttpConfig};
use std::sync::Arc;

pub use i18n::Lang;
pub use oidc::OidcConfig;

/// Settings of the pages; `dothi serve` fills them from its configuration.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Map tiles as an XYZ URL template (`{z}/{x}/{y}`); `None` shows the map without tiles.
    pub tiles_url: Option<String>,
    /// Attribution shown on the map for those tiles.
    pub tiles_attribution: String,
    /// Map centre (latitude, longitude) and zoom at first sight.
    pub map_center: (f64, f64),
    pub map_zoom: u8,
    /// Single sign-on through an OpenID Connect provider; `None` turns it off.
    pub oidc: Option<OidcConfig>,
    /// The machine-readable exports of one dataset (`/dataset/{id}.ttl`, `.jsonld`: the DCAT-AP
    /// router of `dothi_ckan::dataset_exports`). They share the dataset page's path, which axum
    /// cannot route twice, so the page handler passes them on; `None` answers them 404.
    pub dataset_exports: Option<Router>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            tiles_url: Some("https://tile.openstreetmap.org/{z}/{x}/{y}.png".into()),
            tiles_attribution: "© OpenStreetMap contributors".into(),
            map_center: (16.4637, 107.5909),
            map_zoom: 12,
            oidc: None,
            dataset_exports: None,
        }
    }
}

/// The whole HTTP application: the API (see `dothi-http`) and the pages.
pub fn app(store: dothi_store::Store, http: HttpConfig, web: WebConfig) -> Router {
    dothi_http::app_with(store, http, routes(Arc::new(web)))
}

/// The page and asset routes, to merge into the API's router.
pub fn routes(web: Arc<WebConfig>) -> Router<AppState> {
    let sso = oidc::routes(web.oidc.as_ref());
    pages::routes(web).merge(assets::routes()).merge(sso)
}
