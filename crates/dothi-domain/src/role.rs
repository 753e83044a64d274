use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    AgencyStaff,
    IocOperator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Citizen,
        Role::AgencyStaff,
        Role::IocOperator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::AgencyStaff => "agency_staff",
            Role::IocOperator => "ioc_operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", format!("unknown role '{s}'; expected one of citizen, agency_staff, ioc_operator, admin")))
    }

    /// IOC staff are the only people who see a reporter's identity (Huế's rule, and
    /// Nghị định 13/2023's data-minimisation principle).
    pub fn is_ioc(self) -> bool {
        matches!(self, Role::IocOperator | Role::Admin)
    }
}

/// Who performs an operation. `System` is the platform itself (deadline sweeps, auto-close).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub role: Option<Role>,
    pub agency_id: Option<i64>,
    /// What the history shows as the actor: a username, "api-key:NAME" or "system".
    pub label: String,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            user_id: None,
            role: None,
            agency_id: None,
            label: "system".into(),
        }
    }

    pub fn user(
        user_id: i64,
        role: Role,
        agency_id: Option<i64>,
        label: impl Into<String>,
    ) -> Self {
        Actor {
            user_id: Some(user_id),
            role: Some(role),
            agency_id,
            label: label.into(),
        }
    }

    /// An Open311 client identified only by its API key: it may submit and read, nothing else.
    pub fn api_client(key_name: &str) -> Self {
        Actor {
            user_id: None,
            role: None,
            agency_id: None,
            label: format!("api-key:{key_name}"),
        }
    }

    pub fn is_system(&self) -> bool {
        self.role.is_none() && self.label == "system"
    }

    pub fn is_ioc(&self) -> bool {
        self.is_system() || self.role.is_some_and(Role::is_ioc)
    }

    pub fn is_admin(&self) -> bool {
        self.is_system() || self.role == Some(Role::Admin)
    }

    pub fn can_view_reporter(&self) -> bool {
        self.is_ioc()
    }

    pub fn require_ioc(&self) -> Result<(), DomainError> {
        if self.is_ioc() {
            Ok(())
        } else {
            Err(DomainError::forbidden("only IOC operators may do this"))
        }
    }

    pub fn require_admin(&self) -> Result<(), DomainError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(DomainError::forbidden("only administrators may do this"))
        }
    }
}
