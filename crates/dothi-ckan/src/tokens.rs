//! CKAN 2.10's API token actions: `api_token_create`, `api_token_list`, `api_token_revoke`,
//! with ckanext-expire-api-token's optional expiry (`expires_in` × `unit` seconds).
//!
//! A user manages their own tokens, a sysadmin anyone's (`access::may_manage_tokens`). Where
//! CKAN answers 404 for an unknown user before checking who asks, a caller who is not a
//! sysadmin gets the same 403 for an unknown user as for somebody else's, so the actions do
//! not tell which accounts exist (citizens' accounts are private, see `user_show`).

use dothi_catalog::access::{self, Viewer};
use dothi_catalog::CatalogError;
use dothi_store::api_tokens::ApiToken;
use serde_json::{json, Map, Value};

use crate::envelope::{ActionResult, CkanError};
use crate::Ckan;

/// Longest token name, characters.
const NAME_MAX: usize = 200;

fn given(data: &Map<String, Value>, key: &str) -> Option<String> {
    match data.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// CKAN's `get_or_bust`: the values of the keys, or every absent key with "Missing value".
fn get_or_bust<const N: usize>(
    data: &Map<String, Value>,
    keys: [&str; N],
) -> Result<[String; N], CkanError> {
    let mut errors = dothi_catalog::FieldErrors::new();
    let values = keys.map(|key| {
        given(data, key).unwrap_or_else(|| {
            errors.add(key, "Missing value");
            String::new()
        })
    });
    errors.into_result(values).map_err(Into::into)
}

fn requires_user(action: &str) -> CkanError {
    CatalogError::NotAuthorized(format!("Action {action} requires an authenticated user")).into()
}

fn denied() -> CkanError {
    CatalogError::NotAuthorized(String::new()).into()
}

/// The platform user `id_or_name` names, if the viewer may manage their tokens; the
/// refusals as described in the module's notes.
async fn owner(
    ckan: &Ckan,
    viewer: &Viewer,
    action: &str,
    id_or_name: &str,
) -> Result<i64, CkanError> {
    if !viewer.is_signed_in() {
        return Err(requires_user(action));
    }
    let user = ckan
        .store
        .catalog_user(id_or_name)
        .await?
        .map(|u| u.user.id);
    match user {
        Some(id) if access::may_manage_tokens(viewer, id) => Ok(id),
        None if viewer.is_sysadmin() => Err(CatalogError::NotFound("User not found".into()).into()),
        _ => Err(denied()),
    }
}

/// CKAN's `is_positive_integer`.
fn positive(data: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    let n = match data.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match n {
        None => Err("Invalid integer".into()),
        Some(n) if n < 1 => Err("Must be a positive integer".into()),
        Some(n) => Ok(Some(n)),
    }
}

/// The lifetime asked for (ms), from `expires_in` × `unit` seconds; both or neither.
fn lifetime(data: &Map<String, Value>) -> Result<Option<i64>, CkanError> {
    let mut errors = dothi_catalog::FieldErrors::new();
    let expires_in = positive(data, "expires_in").unwrap_or_else(|e| {
        errors.add("expires_in", e);
        None
    });
    let unit = positive(data, "unit").unwrap_or_else(|e| {
        errors.add("unit", e);
        None
    });
    let at = match (expires_in, unit) {
        (Some(n), Some(unit)) => match n
            .checked_mul(unit)
            .and_then(|s| s.checked_mul(1000))
            .filter(|ms| ms.checked_add(dothi_store::time::now_ms()).is_some())
        {
            Some(ms) => Some(ms),
            None => {
                errors.add("expires_in", "The expiry is too far in the future");
                None
            }
        },
        (Some(_), None) if !errors.0.contains_key("unit") => {
            errors.add("unit", "Missing value");
            None
        }
        (None, Some(_)) if !errors.0.contains_key("expires_in") => {
            errors.add("expires_in", "Missing value");
            None
        }
        _ => None,
    };
    errors.into_result(at).map_err(Into::into)
}

pub fn token_dict(t: &ApiToken) -> Value {
    json!({
        "created_at": dothi_catalog::timestamp(t.created_at),
        "expires_at": t.expires_at.map(dothi_catalog::timestamp),
        "id": t.id,
        "last_access": t.last_access.map(dothi_catalog::timestamp),
        "name": t.name,
        "user_id": t.user_id.to_string(),
    })
}

pub async fn create(ckan: &Ckan, viewer: &Viewer, data: &Map<String, Value>) -> ActionResult {
    let [user, name] = get_or_bust(data, ["user", "name"])?;
    let owner = owner(ckan, viewer, "api_token_create", &user).await?;
    let lifetime = lifetime(data);
    let mut errors = dothi_catalog::FieldErrors::new();
    let name = name.trim();
    if name.is_empty() {
        errors.add("name", "Missing value");
    } else if name.chars().count() > NAME_MAX {
        errors.add(
            "name",
            format!("Must be at most {NAME_MAX} characters long"),
        );
    }
    let lifetime = match lifetime {
        Ok(ms) => ms,
        Err(CkanError::Catalog(CatalogError::Validation(more))) => {
            errors.0.extend(more.0);
            None
        }
        Err(other) => return Err(other),
    };
    errors.into_result(())?;
    let (token, _) = ckan.store.create_api_token(owner, name, lifetime).await?;
    Ok(json!({"token": token}))
}

pub async fn list(ckan: &Ckan, viewer: &Viewer, data: &Map<String, Value>) -> ActionResult {
    let Some(user) = given(data, "user_id").or_else(|| given(data, "user")) else {
        return Err(CkanError::missing("user_id"));
    };
    let owner = owner(ckan, viewer, "api_token_list", &user).await?;
    let tokens = ckan.store.api_tokens_of(owner).await?;
    Ok(Value::Array(tokens.iter().map(token_dict).collect()))
}

pub async fn revoke(ckan: &Ckan, viewer: &Viewer, data: &Map<String, Value>) -> ActionResult {
    let token = match given(data, "jti").filter(|j| !j.is_empty()) {
        Some(jti) => ckan.store.api_token(&jti).await?,
        None => {
            let [secret] = get_or_bust(data, ["token"])?;
            ckan.store.api_token_by_secret(&secret).await?
        }
    };
    if !viewer.is_signed_in() {
        return Err(requires_user("api_token_revoke"));
    }
    match token {
        Some(t) if access::may_manage_tokens(viewer, t.user_id) => {
            ckan.store.revoke_api_token(&t.id).await?;
            Ok(Value::Null)
        }
        // As CKAN: a sysadmin revoking a token that does not exist succeeds (nothing to do);
        // anyone else gets the same refusal for an unknown token as for somebody else's.
        None if viewer.is_sysadmin() => Ok(Value::Null),
        _ => Err(denied()),
    }
}
