//! Shared datasets (Nghị định 47/2020): private datasets whose extra `access_level` is `shared`.
//! Besides those who may read private datasets (their agency, the IOC, administrators), the
//! connection accounts of other agencies' systems read them, with the `ds_…` credential in
//! `Authorization`; every such access is decided and logged by `Store::sharing_authorize`.

use axum::http::{header, HeaderMap};
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

/// A connection account's credential, sent as CKAN API tokens are: raw or after `Bearer `.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    token.starts_with("ds_").then(|| token.to_string())
}

/// Asks the sharing controls (which log the access) whether `credential` may perform
/// `operation` on the shared `dataset`. Grants name the dataset by its CKAN name.
pub async fn authorize(
    ckan: &Ckan,
    credential: &str,
    dataset: &Dataset,
    resource_id: Option<&str>,
    operation: Operation,
    bytes: Option<i64>,
) -> Result<(), CkanError> {
    let request = AccessRequest {
        dataset_id: dataset.name.clone(),
        resource_id: resource_id.map(str::to_string),
        operation,
        client: None,
        bytes,
    };
    match ckan.store.sharing_authorize(credential, request).await {
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
