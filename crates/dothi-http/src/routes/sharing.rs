//! The admin API of the sharing controls (Nghị định 47/2020, Chương III Mục 4): connection
//! accounts and their lifecycle, credentials, per-dataset grants, the sharing log (JSON pages
//! and a CSV export) and the audit of admin changes. Administrators only.
//!
//! Consuming systems never call these routes: the catalogue's protocol layer checks their
//! credential with `Store::sharing_authorize`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use dothi_domain::Actor;
use dothi_sharing::{check_dataset_id, AccountFields, Grant, Operation, StatusChange};
use dothi_store::sharing::{AccountRecord, AuditRow, GrantRecord, LogFilter, LogRow, LOG_PAGE_MAX};
use dothi_store::{Store, StoreError};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::{AppState, Caller};
use crate::views::ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/sharing/accounts",
            get(list_accounts).post(create_account),
        )
        .route(
            "/admin/sharing/accounts/{id}",
            get(show_account).patch(update_account),
        )
        .route(
            "/admin/sharing/accounts/{id}/suspend",
            post(
                |s: State<AppState>, c: Caller, p: ApiPath<i64>, j: ReasonBody| {
                    change_with_reason(s, c, p, j, |reason| StatusChange::Suspend { reason })
                },
            ),
        )
        .route("/admin/sharing/accounts/{id}/resume", post(resume))
        .route(
            "/admin/sharing/accounts/{id}/terminate",
            post(
                |s: State<AppState>, c: Caller, p: ApiPath<i64>, j: ReasonBody| {
                    change_with_reason(s, c, p, j, |reason| StatusChange::Terminate { reason })
                },
            ),
        )
        .route("/admin/sharing/accounts/{id}/credential", post(rotate))
        .route("/admin/sharing/accounts/{id}/grants", get(list_grants))
        .route(
            "/admin/sharing/accounts/{id}/grants/{dataset_id}",
            put(put_grant).delete(revoke_grant),
        )
        .route("/admin/sharing/log", get(log_page))
        .route("/admin/sharing/log.csv", get(log_csv))
        .route("/admin/sharing/audit", get(audit_page))
}

fn admin(caller: &Caller) -> ApiResult<Actor> {
    let actor = caller.require()?.actor();
    actor.require_admin()?;
    Ok(actor)
}

/// The sharing log is read by the operations centre (IOC operators and administrators).
fn operator(caller: &Caller) -> ApiResult<Actor> {
    let actor = caller.require()?.actor();
    actor.require_ioc()?;
    Ok(actor)
}

/// An ISO 8601 date-time with an offset, as epoch milliseconds. Years are kept to four digits
/// so that every time the API writes back is ISO 8601 too.
fn instant(field: &str, value: &str) -> ApiResult<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(value)
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("'{value}' is not an ISO 8601 date-time with offset"),
            )
        })?
        .with_timezone(&chrono::Utc);
    if !(1900..=9998).contains(&chrono::Datelike::year(&t)) {
        return Err(ApiError::invalid(
            field,
            "the year must be between 1900 and 9998",
        ));
    }
    Ok(t.timestamp_millis())
}

fn opt_instant(field: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value.map(|v| instant(field, v)).transpose()
}

/// `Some(None)` when the field is present as null, `None` when absent (for PATCH).
fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn account_view(r: &AccountRecord) -> Value {
    let a = &r.account;
    json!({
        "id": a.id,
        "name": a.name,
        "organisation": a.organisation,
        "contact_officer": a.contact_officer,
        "contact_email": a.contact_email,
        "purpose": a.purpose,
        "legal_basis": a.legal_basis,
        "valid_from": ts(a.valid_from),
        "valid_until": a.valid_until.map(ts),
        "status": a.status.as_str(),
        "status_reason": a.status.reason(),
        "status_changed_at": a.status.changed_at().map(ts),
        "credential_prefix": r.credential_prefix,
        "credential_created_at": r.credential_created_at.map(ts),
        "created_at": ts(r.created_at),
        "modified_at": ts(r.modified_at),
    })
}

fn grant_view(g: &GrantRecord) -> Value {
    json!({
        "dataset_id": g.grant.dataset_id,
        "operations": g.grant.operations,
        "valid_from": g.grant.valid_from.map(ts),
        "valid_until": g.grant.valid_until.map(ts),
        "created_at": ts(g.created_at),
        "modified_at": ts(g.modified_at),
    })
}

fn log_view(r: &LogRow) -> Value {
    let e = &r.entry;
    json!({
        "id": r.id,
        "at": ts(e.at),
        "account_id": e.account_id,
        "account_name": r.account_name,
        "organisation": r.organisation,
        "dataset_id": e.dataset_id,
        "resource_id": e.resource_id,
        "operation": e.operation,
        "outcome": e.outcome(),
        "refusal": e.refusal,
        "reason": e.reason,
        "client": e.client,
        "bytes": e.bytes,
    })
}

fn audit_view(r: &AuditRow) -> Value {
    json!({
        "id": r.id,
        "at": ts(r.at),
        "actor": r.actor,
        "account_id": r.account_id,
        "action": r.action,
        "detail": r.detail,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountInput {
    name: String,
    organisation: String,
    contact_officer: String,
    contact_email: Option<String>,
    purpose: String,
    legal_basis: String,
    /// Default: now.
    valid_from: Option<String>,
    valid_until: Option<String>,
}

async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let fields = AccountFields {
        name: input.name,
        organisation: input.organisation,
        contact_officer: input.contact_officer,
        contact_email: input.contact_email,
        purpose: input.purpose,
        legal_basis: input.legal_basis,
        valid_from: opt_instant("valid_from", input.valid_from.as_deref())?
            .unwrap_or_else(dothi_store::time::now_ms),
        valid_until: opt_instant("valid_until", input.valid_until.as_deref())?,
    };
    let (token, record) = state.store.sharing_create_account(&actor, fields).await?;
    let location = format!("/api/v1/admin/sharing/accounts/{}", record.account.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({"account": account_view(&record), "credential": token})),
    )
        .into_response())
}

async fn list_accounts(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let accounts = state.store.sharing_accounts(&actor).await?;
    Ok(Json(Value::Array(
        accounts.iter().map(account_view).collect(),
    )))
}

async fn show_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    Ok(Json(account_view(
        &state.store.sharing_account(&actor, id).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountPatch {
    name: Option<String>,
    organisation: Option<String>,
    contact_officer: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    contact_email: Option<Option<String>>,
    purpose: Option<String>,
    legal_basis: Option<String>,
    valid_from: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    valid_until: Option<Option<String>>,
}

async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let a = state.store.sharing_account(&actor, id).await?.account;
    let fields = AccountFields {
        name: patch.name.unwrap_or(a.name),
        organisation: patch.organisation.unwrap_or(a.organisation),
        contact_officer: patch.contact_officer.unwrap_or(a.contact_officer),
        contact_email: patch.contact_email.unwrap_or(a.contact_email),
        purpose: patch.purpose.unwrap_or(a.purpose),
        legal_basis: patch.legal_basis.unwrap_or(a.legal_basis),
        valid_from: opt_instant("valid_from", patch.valid_from.as_deref())?.unwrap_or(a.valid_from),
        valid_until: match patch.valid_until {
            None => a.valid_until,
            Some(v) => opt_instant("valid_until", v.as_deref())?,
        },
    };
    let record = state
        .store
        .sharing_update_account(&actor, id, fields)
        .await?;
    Ok(Json(account_view(&record)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonInput {
    reason: String,
}

type ReasonBody = ApiJson<ReasonInput>;

async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    change: StatusChange,
) -> ApiResult<Json<Value>> {
    let actor = admin(caller)?;
    let record = state
        .store
        .sharing_change_status(&actor, id, change)
        .await?;
    Ok(Json(account_view(&record)))
}

/// Suspend or terminate: a change that needs a reason (the account's holder is told it).
async fn change_with_reason(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ReasonBody,
    make: fn(String) -> StatusChange,
) -> ApiResult<Json<Value>> {
    change(&state, &caller, id, make(input.reason)).await
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    change(&state, &caller, id, StatusChange::Resume).await
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let (token, record) = state.store.sharing_rotate_credential(&actor, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"account": account_view(&record), "credential": token})),
    )
        .into_response())
}

async fn list_grants(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let grants = state.store.sharing_grants(&actor, id).await?;
    Ok(Json(Value::Array(grants.iter().map(grant_view).collect())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantInput {
    operations: Vec<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

async fn put_grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, dataset_id)): ApiPath<(i64, String)>,
    ApiJson(input): ApiJson<GrantInput>,
) -> ApiResult<Response> {
    let actor = admin(&caller)?;
    let operations = input
        .operations
        .iter()
        .map(|o| Operation::parse("operations", o))
        .collect::<Result<Vec<_>, _>>()?;
    let grant = Grant::new(
        id,
        &dataset_id,
        operations,
        opt_instant("valid_from", input.valid_from.as_deref())?,
        opt_instant("valid_until", input.valid_until.as_deref())?,
    )?;
    let (record, created) = state.store.sharing_put_grant(&actor, &grant).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(grant_view(&record))).into_response())
}

async fn revoke_grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, dataset_id)): ApiPath<(i64, String)>,
) -> ApiResult<StatusCode> {
    let actor = admin(&caller)?;
    state
        .store
        .sharing_revoke_grant(&actor, id, &dataset_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    account: Option<i64>,
    dataset: Option<String>,
    from: Option<String>,
    to: Option<String>,
    outcome: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
    lang: Option<String>,
}

impl LogQuery {
    fn filter(&self) -> ApiResult<LogFilter> {
        let allowed = match self.outcome.as_deref() {
            None => None,
            Some("allowed") => Some(true),
            Some("refused") => Some(false),
            Some(other) => {
                return Err(ApiError::invalid(
                    "outcome",
                    format!("'{other}' is not an outcome; expected allowed or refused"),
                ))
            }
        };
        let dataset_id = self.dataset.as_deref().map(check_dataset_id).transpose()?;
        let from = opt_instant("from", self.from.as_deref())?;
        let to = opt_instant("to", self.to.as_deref())?;
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                return Err(ApiError::invalid("to", "must be later than from"));
            }
        }
        Ok(LogFilter {
            account_id: self.account,
            dataset_id,
            from,
            to,
            allowed,
        })
    }

    fn limit(&self) -> ApiResult<i64> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=LOG_PAGE_MAX).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {LOG_PAGE_MAX}"),
            )),
        }
    }
}

async fn log_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<Value>> {
    let actor = operator(&caller)?;
    if q.lang.is_some() {
        return Err(ApiError::invalid(
            "lang",
            "only the CSV export takes a language",
        ));
    }
    let (filter, limit) = (q.filter()?, q.limit()?);
    let rows = state
        .store
        .sharing_log(&actor, &filter, q.before, limit)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({
        "items": rows.iter().map(log_view).collect::<Vec<_>>(),
        "next_before": next,
    })))
}

#[derive(Clone, Copy)]
enum Lang {
    Vi,
    En,
}

impl Lang {
    fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    fn headers(self) -> [&'static str; 12] {
        [
            self.t("Thời gian", "Time"),
            self.t("Mã tài khoản kết nối", "Account id"),
            self.t("Tài khoản kết nối", "Connection account"),
            self.t("Cơ quan", "Organisation"),
            self.t("Bộ dữ liệu", "Dataset"),
            self.t("Tài nguyên", "Resource"),
            self.t("Thao tác", "Operation"),
            self.t("Kết quả", "Outcome"),
            self.t("Mã lý do", "Reason code"),
            self.t("Lý do", "Reason"),
            self.t("Địa chỉ máy khách", "Client address"),
            self.t("Số byte", "Bytes"),
        ]
    }

    fn row(self, r: &LogRow) -> [String; 12] {
        let e = &r.entry;
        let opt = |v: Option<String>| v.unwrap_or_default();
        [
            ts(e.at),
            opt(e.account_id.map(|i| i.to_string())),
            opt(r.account_name.clone()),
            opt(r.organisation.clone()),
            e.dataset_id.clone(),
            opt(e.resource_id.clone()),
            match e.operation {
                Operation::Read => self.t("Đọc", "Read"),
                Operation::Download => self.t("Tải xuống", "Download"),
            }
            .into(),
            if e.refusal.is_none() {
                self.t("Cho phép", "Allowed")
            } else {
                self.t("Từ chối", "Refused")
            }
            .into(),
            opt(e.refusal.map(str::to_string)),
            opt(e.reason.clone()),
            opt(e.client.clone()),
            opt(e.bytes.map(|b| b.to_string())),
        ]
    }
}

/// UTF-8 byte order mark: Excel then reads the file as UTF-8 (Vietnamese diacritics).
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_lines<const N: usize>(
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<Vec<u8>, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(row).map_err(std::io::Error::other)?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// The whole filtered log, oldest page last as in the JSON pages (newest first), streamed one
/// page at a time so a month of a province's exchanges does not sit in memory.
async fn log_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Response> {
    let actor = operator(&caller)?;
    let lang = match q.lang.as_deref() {
        None | Some("vi") => Lang::Vi,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::invalid(
                "lang",
                format!("'{other}' is not a language of the exports; expected vi or en"),
            ))
        }
    };
    if q.limit.is_some() || q.before.is_some() {
        return Err(ApiError::invalid(
            if q.limit.is_some() { "limit" } else { "before" },
            "the CSV export is the whole filtered log; page the JSON log instead",
        ));
    }
    let filter = q.filter()?;
    // The first page is read before answering, so a storage failure is a 503, not a cut file.
    let first = state
        .store
        .sharing_log(&actor, &filter, None, LOG_PAGE_MAX)
        .await?;
    let mut head = BOM.to_vec();
    let written = csv_lines([lang.headers().map(str::to_string)])
        .and_then(|h| Ok([h, csv_lines(first.iter().map(|r| lang.row(r)))?].concat()));
    head.extend(
        written
            .map_err(|e| ApiError::from(StoreError::Internal(format!("sharing log CSV: {e}"))))?,
    );
    let after = (first.len() as i64 == LOG_PAGE_MAX)
        .then(|| first.last().map(|r| r.id))
        .flatten();
    let rest = rest_of_log(state.store.clone(), actor, filter, lang, after);
    let head = futures_util::stream::once(async move { Ok(Bytes::from(head)) });
    let body = Body::from_stream(futures_util::StreamExt::chain(head, rest));
    let disposition = lang.t(
        "attachment; filename=\"nhat-ky-chia-se-du-lieu.csv\"",
        "attachment; filename=\"sharing-log.csv\"",
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static(disposition),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

fn rest_of_log(
    store: Store,
    actor: Actor,
    filter: LogFilter,
    lang: Lang,
    before: Option<i64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(before, move |before| {
        let (store, actor, filter) = (store.clone(), actor.clone(), filter.clone());
        async move {
            let before = before?;
            match store
                .sharing_log(&actor, &filter, Some(before), LOG_PAGE_MAX)
                .await
            {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() as i64 == LOG_PAGE_MAX)
                        .then(|| rows.last().map(|r| r.id))
                        .flatten();
                    match csv_lines(rows.iter().map(|r| lang.row(r))) {
                        Ok(bytes) => Some((Ok(Bytes::from(bytes)), next)),
                        Err(e) => Some((Err(e), None)),
                    }
                }
                // The status line is sent: cut the body so the client sees an incomplete file.
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    account: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let actor = admin(&caller)?;
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=LOG_PAGE_MAX).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {LOG_PAGE_MAX}"),
            ))
        }
    };
    let rows = state
        .store
        .sharing_audit(&actor, q.account, q.before, limit)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({
        "items": rows.iter().map(audit_view).collect::<Vec<_>>(),
        "next_before": next,
    })))
}
