//! Shared datasets (Nghị định 47/2020): private datasets whose extra `access_level` is `shared`.
//! Besides those who may read private datasets (their agency, the IOC, administrators), the
//! connection accounts of other agencies' systems read them, with the `ds_…` credential in
//! `Authorization`; every such access is decided and logged by `Store::sharing_authorize`.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{header, Extensions, HeaderMap};
use dothi_catalog::model::Dataset;
use dothi_catalog::CatalogError;
use dothi_sharing::{Decision, Operation};
use dothi_store::sharing::AccessRequest;

use crate::envelope::CkanError;
use crate::Ckan;

/// The extra that makes a private dataset shared.
pub const ACCESS_LEVEL: &str = "access_level";
pub const SHARED: &str = "shared";

/// Shared datasets are private ones (so search, `package_list` and the DCAT-AP export never
/// show them) marked `access_level: shared`.
pub fn is_shared(dataset: &Dataset) -> bool {
    dataset.private
        && dataset
            .extras
            .iter()
            .any(|e| e.key == ACCESS_LEVEL && e.value.trim() == SHARED)
}

/// A connection account's system calling: its credential, sent as CKAN API tokens are (raw or
/// after `Bearer `), and the network address it called from, for the sharing log.
#[derive(Clone, Debug)]
pub struct SharingCaller {
    pub credential: String,
    pub client: Option<String>,
}

impl SharingCaller {
    /// None when the request carries no `ds_…` credential. The address is the TCP peer's (a
    /// proxy in front of the platform would be logged as the client; see docs/OPEN-DATA.md).
    pub fn of(headers: &HeaderMap, extensions: &Extensions) -> Option<SharingCaller> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        token.starts_with("ds_").then(|| SharingCaller {
            credential: token.to_string(),
            client: extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        })
    }
}

/// Asks the sharing controls (which log the access) whether `caller` may perform `operation`
/// on the shared `dataset`. Grants name the dataset by its CKAN name or its id.
pub async fn authorize(
    ckan: &Ckan,
    caller: &SharingCaller,
    dataset: &Dataset,
    resource_id: Option<&str>,
    operation: Operation,
    bytes: Option<i64>,
) -> Result<(), CkanError> {
    let request = AccessRequest {
        dataset_id: dataset.name.clone(),
        dataset_uuid: Some(dataset.id.clone()),
        resource_id: resource_id.map(str::to_string),
        operation,
        client: caller.client.clone(),
        bytes,
    };
    match ckan
        .store
        .sharing_authorize(&caller.credential, request)
        .await
    {
        Ok(Decision::Allowed { .. }) => Ok(()),
        Ok(Decision::Refused(refusal)) => Err(CatalogError::NotAuthorized(refusal.message(|ms| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(dothi_calendar::format_vn)
                .unwrap_or_default()
        }))
        .into()),
        Err(e) => {
            tracing::error!(error = %e, "sharing log unavailable");
            Err(CkanError::Unavailable)
        }
    }
}
