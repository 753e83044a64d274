//! The CKAN Action API v3 (`/api/3/action/{action}`, also `/api/action/{action}`) over the
//! open-data catalogue, and CKAN's download URLs of uploaded resources
//! (`/dataset/{id}/resource/{resource_id}/download/{filename}`), so that tools written for
//! CKAN portals (the `ckanapi` CLI, harvesters) work against the platform.
//!
//! Architecture invariant: it only translates. Handlers read CKAN's data dictionary, call
//! `dothi_store::Store`'s catalogue functions, and render with `dothi_catalog::render`; access
//! rules live in `dothi_catalog::access`. Every response is built by `envelope::respond`.

pub mod actions;
pub mod dcat;
pub mod envelope;
pub mod request;
pub mod sharing;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use dothi_store::catalog_files::ResourceFiles;
use dothi_store::Store;

/// The CKAN release whose Action API this one follows (reported by `status_show`).
pub const CKAN_VERSION: &str = "2.10.0";

/// Settings of the CKAN layer; `dothi serve` fills them from its configuration.
#[derive(Clone, Debug)]
pub struct CkanConfig {
    /// Public base URL, without a trailing slash (help and download URLs).
    pub base_url: String,
    /// The platform's data directory; uploaded resources go to its `resources/` folder.
    pub data_dir: PathBuf,
    /// Largest uploaded resource file, bytes.
    pub max_upload_bytes: u64,
    /// Largest JSON or form body of an action, bytes.
    pub max_json_bytes: usize,
    /// The portal's name and description (Vietnamese): `status_show`, and the DCAT-AP
    /// catalogue's title and description.
    pub site_title: String,
    pub site_description: String,
    /// The same in English, for the DCAT-AP catalogue.
    pub site_title_en: String,
    pub site_description_en: String,
}

impl Default for CkanConfig {
    fn default() -> Self {
        CkanConfig {
            base_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            max_upload_bytes: 1024 * 1024 * 1024,
            max_json_bytes: 16 * 1024 * 1024,
            site_title: "Cổng dữ liệu mở".into(),
            site_description: String::new(),
            site_title_en: "Open data portal".into(),
            site_description_en: String::new(),
        }
    }
}

#[derive(Clone)]
pub struct Ckan {
    pub store: Store,
    pub config: Arc<CkanConfig>,
    pub files: ResourceFiles,
}

impl Ckan {
    pub fn new(store: Store, config: CkanConfig) -> Ckan {
        Ckan {
            store,
            files: ResourceFiles::new(&config.data_dir),
            config: Arc::new(config),
        }
    }
}

/// The CKAN routes and the DCAT-AP catalogue (`/catalog.ttl`, `/catalog.jsonld`), with their own
/// body limit (uploads are larger than the native API's). The per-dataset DCAT-AP documents are
/// in [`dataset_exports`].
pub fn router(store: Store, config: CkanConfig) -> Router {
    let limit = (config.max_upload_bytes as usize)
        .saturating_add(1024 * 1024)
        .max(config.max_json_bytes);
    let ckan = Ckan::new(store, config);
    Router::new()
        .merge(dcat::catalog_routes())
        .route("/api/3/action/{action}", any(action))
        .route("/api/action/{action}", any(action))
        .route("/api/3", get(api_version))
        .route(
            "/dataset/{id}/resource/{resource_id}/download/{filename}",
            get(download),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ckan)
}

/// `/dataset/{id}.ttl` and `/dataset/{id}.jsonld` (DCAT-AP), as a router of its own that must
/// not be merged beside the web page route `/dataset/{name}` (axum refuses the overlap): the page
/// handler passes the requests whose name ends in an export suffix to it.
pub fn dataset_exports(store: Store, config: CkanConfig) -> Router {
    dcat::dataset_routes().with_state(Ckan::new(store, config))
}

async fn api_version() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        r#"{"version": 3}"#,
    )
        .into_response()
}

async fn action(State(ckan): State<Ckan>, Path(name): Path<String>, req: Request) -> Response {
    let base = ckan.config.base_url.clone();
    let Some(known) = actions::find(&name) else {
        return envelope::bad_request(&format!("Action name not known: {name}"));
    };
    let viewer = match request::viewer(&ckan.store, req.headers(), known.side_effect_free).await {
        Ok(v) => v,
        Err(e) => return envelope::respond(&base, &name, Err(e)),
    };
    let sharing_caller = sharing::SharingCaller::of(req.headers(), req.extensions());
    // Nobody streams a file to disk before being known: uploads need a signed-in caller.
    if !known.side_effect_free && !viewer.is_signed_in() && request::is_multipart(req.headers()) {
        let refusal = dothi_catalog::CatalogError::NotAuthorized(format!(
            "Action {name} requires an authenticated user"
        ));
        return envelope::respond(&base, &name, Err(refusal.into()));
    }
    let request = match request::read(&ckan, req, known.side_effect_free).await {
        Ok(r) => r,
        Err(e) => return envelope::respond(&base, &name, Err(e)),
    };
    let mut data = request.data;
    // JSONP is not offered; the parameter is dropped as CKAN drops it from the data.
    data.remove("callback");
    let result = actions::run(
        &ckan,
        &name,
        &viewer,
        data,
        request.upload,
        sharing_caller.as_ref(),
    )
    .await;
    envelope::respond(&base, &name, result)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
        text,
    )
        .into_response()
}

/// A refused download: a connection account may still download a shared dataset's file. A
/// refusal is CKAN's 403 Authorization Error with the decision's message.
async fn shared_download(
    ckan: &Ckan,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    resource_id: &str,
) -> Result<
    (
        dothi_catalog::model::Dataset,
        dothi_store::catalog::Directory,
    ),
    Response,
> {
    let refused = || plain(StatusCode::FORBIDDEN, "Unauthorized to read resource");
    let Some(caller) = sharing::SharingCaller::of(headers, extensions) else {
        return Err(refused());
    };
    let (dataset, dir) = match ckan
        .store
        .catalog_dataset_of_resource(&dothi_catalog::access::Viewer::system(), resource_id)
        .await
    {
        Ok(found) => found,
        Err(dothi_store::catalog::CatalogStoreError::Store(e)) => {
            tracing::error!(error = %e, "catalogue storage failure");
            return Err(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
            ));
        }
        Err(_) => return Err(refused()),
    };
    if !sharing::is_shared(&dataset) || dataset.state != dothi_catalog::model::State::Active {
        return Err(refused());
    }
    let size = dataset.resource(resource_id).and_then(|r| r.size);
    let decision = sharing::authorize(
        ckan,
        &caller,
        &dataset,
        Some(resource_id),
        dothi_sharing::Operation::Download,
        size,
    )
    .await;
    match decision {
        Ok(()) => Ok((dataset, dir)),
        Err(e) => Err(envelope::respond(
            &ckan.config.base_url,
            "resource_show",
            Err(e),
        )),
    }
}

/// An uploaded resource's file, streamed from disk. Served as an attachment, never sniffed:
/// the file is whatever a publisher uploaded, and must not run as a page of this site.
async fn download(
    State(ckan): State<Ckan>,
    Path((id, resource_id, _filename)): Path<(String, String, String)>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
) -> Response {
    let viewer = match request::viewer(&ckan.store, &headers, true).await {
        Ok(v) => v,
        Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
    };
    let (dataset, _) = match ckan
        .store
        .catalog_dataset_of_resource(&viewer, &resource_id)
        .await
    {
        Ok(found) => found,
        Err(dothi_store::catalog::CatalogStoreError::Refused(
            dothi_catalog::CatalogError::NotAuthorized(_),
        )) => match shared_download(&ckan, &headers, &extensions, &resource_id).await {
            Ok(found) => found,
            Err(response) => return response,
        },
        Err(dothi_store::catalog::CatalogStoreError::Refused(_)) => {
            return plain(StatusCode::NOT_FOUND, "Resource not found")
        }
        Err(dothi_store::catalog::CatalogStoreError::Store(e)) => {
            tracing::error!(error = %e, "catalogue storage failure");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");
        }
    };
    let file = dataset
        .resource(&resource_id)
        .filter(|_| dataset.id == id || dataset.name == id)
        .and_then(|r| r.file.clone().map(|f| (r.clone(), f)));
    let Some((resource, stored)) = file else {
        return plain(StatusCode::NOT_FOUND, "Resource data not found");
    };
    let Some(path) = ckan.files.path(&stored.key) else {
        return plain(StatusCode::NOT_FOUND, "Resource data not found");
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "resource file missing");
            return plain(StatusCode::NOT_FOUND, "Resource data not found");
        }
    };
    let length = file.metadata().await.map(|m| m.len()).ok();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    let mut res = Response::new(body);
    let h = res.headers_mut();
    let mime = resource
        .mimetype
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    if let Some(n) = length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", stored.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    res
}
