//! Who may use the NGSI-LD API. The ETSI binding defines no security, so dothi applies its
//! own: by default anyone may read context data (it feeds public dashboards and open data),
//! and writing needs an API key (`X-API-Key`, for machine clients) or the bearer token of an
//! IOC operator or administrator. A closed deployment can require credentials for reads too;
//! a conformance run can open everything.

use dothi_domain::Role;

use crate::{Broker, Result};

/// The access policy (`DOTHI_NGSILD_ACCESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// No credentials needed (conformance runs, closed networks).
    Open,
    /// Reads are open; writes need credentials.
    #[default]
    Writes,
    /// Every request needs credentials.
    All,
}

impl Access {
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "open" => Some(Access::Open),
            "writes" => Some(Access::Writes),
            "all" => Some(Access::All),
            _ => None,
        }
    }

    /// Whether a request with this method needs credentials.
    pub fn needs_credentials(self, safe_method: bool) -> bool {
        match self {
            Access::Open => false,
            Access::Writes => !safe_method,
            Access::All => true,
        }
    }
}

impl Broker {
    /// True when the API key or bearer token belongs to a client allowed to write context
    /// data: any active API key, or a signed-in IOC operator or administrator.
    pub async fn authorized(&self, api_key: Option<&str>, bearer: Option<&str>) -> Result<bool> {
        if let Some(key) = api_key {
            if self.store.verify_api_key(key).await?.is_some() {
                return Ok(true);
            }
        }
        if let Some(token) = bearer {
            if let Some(user) = self.store.user_for_token(token).await? {
                return Ok(matches!(user.role, Role::IocOperator | Role::Admin));
            }
        }
        Ok(false)
    }
}
