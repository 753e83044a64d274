//! Sharing controls of Nghị định 47/2020/NĐ-CP, Chương III Mục 4: another agency's system
//! reaches a shared (non-open) dataset only through a connection account (*tài khoản kết nối*)
//! that is inside its validity period, neither suspended (*tạm ngừng*) nor terminated
//! (*chấm dứt*), and that holds a grant for that dataset and operation; every attempt, allowed
//! or refused, is written to the sharing log (*nhật ký chia sẻ dữ liệu*).
//!
//! This crate decides; it does no I/O, reads no clock and knows no HTTP or SQL. Times are Unix
//! epoch milliseconds, as the store keeps them. Dataset ids are the catalogue's text ids (CKAN
//! ids or names); the catalogue is not known here.

use dothi_domain::DomainError;
use serde::{Deserialize, Serialize};

/// What a consuming system does with a dataset: read its metadata and records through the API,
/// or download a resource file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Read,
    Download,
}

impl Operation {
    pub const ALL: [Operation; 2] = [Operation::Read, Operation::Download];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Download => "download",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("unknown operation '{s}'; expected read or download"),
                )
            })
    }
}

/// Where an account stands. Suspension is temporary and carries its reason; termination is
/// final: a terminated account never grants access again, whatever is done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended { reason: String, since: i64 },
    Terminated { reason: String, at: i64 },
}

impl AccountStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended { .. } => "suspended",
            AccountStatus::Terminated { .. } => "terminated",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            AccountStatus::Active => None,
            AccountStatus::Suspended { reason, .. } | AccountStatus::Terminated { reason, .. } => {
                Some(reason)
            }
        }
    }

    pub fn changed_at(&self) -> Option<i64> {
        match self {
            AccountStatus::Active => None,
            AccountStatus::Suspended { since, .. } => Some(*since),
            AccountStatus::Terminated { at, .. } => Some(*at),
        }
    }

    /// The inverse of (`as_str`, `reason`, `changed_at`), for rows read back from storage.
    pub fn from_parts(status: &str, reason: Option<String>, at: Option<i64>) -> Option<Self> {
        match (status, reason, at) {
            ("active", _, _) => Some(AccountStatus::Active),
            ("suspended", Some(reason), Some(since)) => {
                Some(AccountStatus::Suspended { reason, since })
            }
            ("terminated", Some(reason), Some(at)) => {
                Some(AccountStatus::Terminated { reason, at })
            }
            _ => None,
        }
    }
}

/// A connection account: the consuming agency's system, who answers for it, why it may have the
/// data, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionAccount {
    pub id: i64,
    /// The consuming system, e.g. "Hệ thống thông tin giải quyết TTHC tỉnh".
    pub name: String,
    /// The agency that operates it.
    pub organisation: String,
    /// The officer who answers for the connection (a person: see docs/PRIVACY.md).
    pub contact_officer: String,
    pub contact_email: Option<String>,
    /// Why the data is shared, and on which legal basis (a decision, an agreement).
    pub purpose: String,
    pub legal_basis: String,
    pub valid_from: i64,
    /// None: no end date.
    pub valid_until: Option<i64>,
    pub status: AccountStatus,
}

/// The editable description of an account (everything but its id and status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountFields {
    pub name: String,
    pub organisation: String,
    pub contact_officer: String,
    pub contact_email: Option<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
}

fn required_text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid(
            field,
            "may not contain control characters",
        ));
    }
    Ok(value.to_string())
}

fn check_period(
    from_field: &str,
    until_field: &str,
    from: Option<i64>,
    until: Option<i64>,
) -> Result<(), DomainError> {
    if let (Some(from), Some(until)) = (from, until) {
        if until <= from {
            return Err(DomainError::invalid(
                until_field,
                format!("must be later than {from_field}"),
            ));
        }
    }
    Ok(())
}

impl AccountFields {
    /// The fields trimmed and checked; the first fault is refused with its field's name.
    pub fn validated(self) -> Result<AccountFields, DomainError> {
        let contact_email = match self.contact_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => {
                let e = required_text("contact_email", e, 200)?;
                let ok = e
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                    && !e.contains(char::is_whitespace);
                if !ok {
                    return Err(DomainError::invalid(
                        "contact_email",
                        format!("'{e}' is not an e-mail address"),
                    ));
                }
                Some(e)
            }
        };
        let fields = AccountFields {
            name: required_text("name", &self.name, 200)?,
            organisation: required_text("organisation", &self.organisation, 200)?,
            contact_officer: required_text("contact_officer", &self.contact_officer, 200)?,
            contact_email,
            purpose: required_text("purpose", &self.purpose, 2000)?,
            legal_basis: required_text("legal_basis", &self.legal_basis, 500)?,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        };
        check_period(
            "valid_from",
            "valid_until",
            Some(fields.valid_from),
            fields.valid_until,
        )?;
        Ok(fields)
    }
}

/// A status change an administrator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusChange {
    Suspend { reason: String },
    Resume,
    Terminate { reason: String },
}

impl StatusChange {
    pub fn action(&self) -> &'static str {
        match self {
            StatusChange::Suspend { .. } => "suspend",
            StatusChange::Resume => "resume",
            StatusChange::Terminate { .. } => "terminate",
        }
    }
}

/// The status after `change`, or a conflict: only an active account can be suspended, only a
/// suspended one resumed, and a terminated one nothing at all.
pub fn change_status(
    current: &AccountStatus,
    change: StatusChange,
    now: i64,
) -> Result<AccountStatus, DomainError> {
    let refuse = |change: &StatusChange| {
        DomainError::Conflict(format!(
            "cannot {} a connection account that is {}",
            change.action(),
            current.as_str()
        ))
    };
    match (current, change) {
        (AccountStatus::Terminated { .. }, change) => Err(refuse(&change)),
        (AccountStatus::Active, StatusChange::Suspend { reason }) => Ok(AccountStatus::Suspended {
            reason: required_text("reason", &reason, 1000)?,
            since: now,
        }),
        (AccountStatus::Suspended { .. }, StatusChange::Resume) => Ok(AccountStatus::Active),
        (_, StatusChange::Terminate { reason }) => Ok(AccountStatus::Terminated {
            reason: required_text("reason", &reason, 1000)?,
            at: now,
        }),
        (_, change) => Err(refuse(&change)),
    }
}

/// Access of one account to one dataset, for some operations, optionally within a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub account_id: i64,
    pub dataset_id: String,
    /// Sorted, without repeats, never empty.
    pub operations: Vec<Operation>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

impl Grant {
    pub fn new(
        account_id: i64,
        dataset_id: &str,
        mut operations: Vec<Operation>,
        valid_from: Option<i64>,
        valid_until: Option<i64>,
    ) -> Result<Grant, DomainError> {
        let dataset_id = check_dataset_id(dataset_id)?;
        operations.sort();
        operations.dedup();
        if operations.is_empty() {
            return Err(DomainError::invalid(
                "operations",
                "grant at least one operation: read or download",
            ));
        }
        check_period("valid_from", "valid_until", valid_from, valid_until)?;
        Ok(Grant {
            account_id,
            dataset_id,
            operations,
            valid_from,
            valid_until,
        })
    }
}

/// CKAN dataset ids are UUIDs and names are slugs (lowercase letters, digits, '-' and '_', at
/// most 100 characters); this accepts both, and upper case for other catalogues' ids.
pub fn check_dataset_id(id: &str) -> Result<String, DomainError> {
    let ok = (1..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id.to_string())
    } else {
        Err(DomainError::invalid(
            "dataset_id",
            "must be 1-100 characters: ASCII letters, digits, '-' or '_' (a CKAN id or name)",
        ))
    }
}

/// Why an access was refused. `code` is what the log stores and the API filters on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No account has this credential (never issued, rotated away, or mistyped).
    UnknownCredential,
    NotYetValid {
        valid_from: i64,
    },
    Expired {
        valid_until: i64,
    },
    Suspended {
        reason: String,
    },
    Terminated {
        reason: String,
    },
    /// The account has no grant for this dataset.
    NoGrant,
    GrantNotYetValid {
        valid_from: i64,
    },
    GrantExpired {
        valid_until: i64,
    },
    /// The grant exists but not for this operation.
    OperationNotGranted {
        operation: Operation,
    },
}

impl Refusal {
    pub const CODES: [&'static str; 9] = [
        "unknown_credential",
        "not_yet_valid",
        "expired",
        "suspended",
        "terminated",
        "no_grant",
        "grant_not_yet_valid",
        "grant_expired",
        "operation_not_granted",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownCredential => "unknown_credential",
            Refusal::NotYetValid { .. } => "not_yet_valid",
            Refusal::Expired { .. } => "expired",
            Refusal::Suspended { .. } => "suspended",
            Refusal::Terminated { .. } => "terminated",
            Refusal::NoGrant => "no_grant",
            Refusal::GrantNotYetValid { .. } => "grant_not_yet_valid",
            Refusal::GrantExpired { .. } => "grant_expired",
            Refusal::OperationNotGranted { .. } => "operation_not_granted",
        }
    }

    /// The reason as the consuming system is told it (and as the log keeps it). `time` writes
    /// an instant the way the caller's protocol does (ISO 8601 with +07:00 in dothi).
    pub fn message(&self, time: impl Fn(i64) -> String) -> String {
        match self {
            Refusal::UnknownCredential => {
                "the connection credential is unknown or was replaced".into()
            }
            Refusal::NotYetValid { valid_from } => {
                format!(
                    "the connection account is valid only from {}",
                    time(*valid_from)
                )
            }
            Refusal::Expired { valid_until } => {
                format!("the connection account expired at {}", time(*valid_until))
            }
            Refusal::Suspended { reason } => {
                format!("the connection account is suspended: {reason}")
            }
            Refusal::Terminated { reason } => {
                format!("the connection account was terminated: {reason}")
            }
            Refusal::NoGrant => "the connection account has no access to this dataset".into(),
            Refusal::GrantNotYetValid { valid_from } => format!(
                "access to this dataset is granted only from {}",
                time(*valid_from)
            ),
            Refusal::GrantExpired { valid_until } => {
                format!("access to this dataset ended at {}", time(*valid_until))
            }
            Refusal::OperationNotGranted { operation } => format!(
                "the connection account may not {} this dataset",
                operation.as_str()
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed { account_id: i64 },
    Refused(Refusal),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

/// May the holder of a credential (whose account is `account`, None when no account has that
/// credential) perform `operation` on the dataset known as any of `dataset` (its name and its
/// id: a grant may name either, and one by id survives a rename) at `now`? The account is
/// checked before the grant, so a suspended account is refused as suspended even where it holds
/// no grant: the consuming system learns the first thing it must fix. Where two grants apply
/// (one by name, one by id), either one allowing is enough. A validity period includes its start
/// and excludes its end.
pub fn authorize(
    account: Option<&ConnectionAccount>,
    grants: &[Grant],
    dataset: &[&str],
    operation: Operation,
    now: i64,
) -> Decision {
    let refused = Decision::Refused;
    let Some(account) = account else {
        return refused(Refusal::UnknownCredential);
    };
    match &account.status {
        AccountStatus::Terminated { reason, .. } => {
            return refused(Refusal::Terminated {
                reason: reason.clone(),
            })
        }
        AccountStatus::Suspended { reason, .. } => {
            return refused(Refusal::Suspended {
                reason: reason.clone(),
            })
        }
        AccountStatus::Active => {}
    }
    if now < account.valid_from {
        return refused(Refusal::NotYetValid {
            valid_from: account.valid_from,
        });
    }
    if let Some(until) = account.valid_until.filter(|until| now >= *until) {
        return refused(Refusal::Expired { valid_until: until });
    }
    let mut first_refusal = None;
    for grant in grants
        .iter()
        .filter(|g| g.account_id == account.id && dataset.contains(&g.dataset_id.as_str()))
    {
        match check_grant(grant, operation, now) {
            Ok(()) => {
                return Decision::Allowed {
                    account_id: account.id,
                }
            }
            Err(r) => {
                first_refusal.get_or_insert(r);
            }
        }
    }
    refused(first_refusal.unwrap_or(Refusal::NoGrant))
}

fn check_grant(grant: &Grant, operation: Operation, now: i64) -> Result<(), Refusal> {
    if let Some(from) = grant.valid_from.filter(|from| now < *from) {
        return Err(Refusal::GrantNotYetValid { valid_from: from });
    }
    if let Some(until) = grant.valid_until.filter(|until| now >= *until) {
        return Err(Refusal::GrantExpired { valid_until: until });
    }
    if !grant.operations.contains(&operation) {
        return Err(Refusal::OperationNotGranted { operation });
    }
    Ok(())
}

/// One row of the sharing log: every access attempt, allowed or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub at: i64,
    /// None when the credential matched no account.
    pub account_id: Option<i64>,
    pub dataset_id: String,
    pub resource_id: Option<String>,
    pub operation: Operation,
    /// None when allowed; the refusal's code otherwise.
    pub refusal: Option<&'static str>,
    /// The refusal's message, as the consuming system was told it.
    pub reason: Option<String>,
    /// The client's network address, as the HTTP layer saw it.
    pub client: Option<String>,
    /// The size of what was served (a download's length), when known before serving.
    pub bytes: Option<i64>,
}

impl LogEntry {
    pub fn outcome(&self) -> &'static str {
        if self.refusal.is_none() {
            "allowed"
        } else {
            "refused"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(status: AccountStatus) -> ConnectionAccount {
        ConnectionAccount {
            id: 7,
            name: "LGSP".into(),
            organisation: "Sở TT&TT".into(),
            contact_officer: "Nguyễn Văn A".into(),
            contact_email: None,
            purpose: "Tích hợp".into(),
            legal_basis: "QĐ 1/2026".into(),
            valid_from: 1_000,
            valid_until: Some(5_000),
            status,
        }
    }

    fn grant(ops: Vec<Operation>, from: Option<i64>, until: Option<i64>) -> Vec<Grant> {
        vec![Grant::new(7, "air-quality", ops, from, until).unwrap()]
    }

    fn refusal(d: Decision) -> &'static str {
        match d {
            Decision::Refused(r) => r.code(),
            Decision::Allowed { .. } => "allowed",
        }
    }

    #[test]
    fn every_refusal_is_reached_and_named_precisely() {
        let ok = account(AccountStatus::Active);
        let g = grant(vec![Operation::Read], Some(2_000), Some(4_000));
        let ds = "air-quality";
        let read = Operation::Read;
        assert_eq!(
            refusal(authorize(None, &g, &[ds], read, 3_000)),
            "unknown_credential"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], read, 999)),
            "not_yet_valid"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], read, 5_000)),
            "expired"
        );
        let suspended = account(AccountStatus::Suspended {
            reason: "audit".into(),
            since: 1,
        });
        assert_eq!(
            refusal(authorize(Some(&suspended), &g, &[ds], read, 3_000)),
            "suspended"
        );
        let ended = account(AccountStatus::Terminated {
            reason: "x".into(),
            at: 1,
        });
        assert_eq!(
            refusal(authorize(Some(&ended), &g, &[ds], read, 3_000)),
            "terminated"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &["other"], read, 3_000)),
            "no_grant"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], read, 1_999)),
            "grant_not_yet_valid"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], read, 4_000)),
            "grant_expired"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], Operation::Download, 3_000)),
            "operation_not_granted"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &g, &[ds], read, 2_000)),
            "allowed"
        );
        // Another account's grant is no grant.
        let mut other = ok.clone();
        other.id = 8;
        assert_eq!(
            refusal(authorize(Some(&other), &g, &[ds], read, 3_000)),
            "no_grant"
        );
    }

    #[test]
    fn a_grant_by_id_or_by_name_applies_and_either_allowing_is_enough() {
        let ok = account(AccountStatus::Active);
        let id = "6f1c2a9e-0000-4000-8000-000000000001";
        let by_id = Grant::new(7, id, vec![Operation::Download], None, None).unwrap();
        let by_name = Grant::new(7, "air-quality", vec![Operation::Read], None, None).unwrap();
        let both = [by_name.clone(), by_id.clone()];
        let keys = ["air-quality", id];
        assert_eq!(
            refusal(authorize(
                Some(&ok),
                std::slice::from_ref(&by_id),
                &keys,
                Operation::Download,
                3_000
            )),
            "allowed"
        );
        assert_eq!(
            refusal(authorize(
                Some(&ok),
                &both,
                &keys,
                Operation::Download,
                3_000
            )),
            "allowed"
        );
        assert_eq!(
            refusal(authorize(Some(&ok), &both, &keys, Operation::Read, 3_000)),
            "allowed"
        );
        // Neither allows: the first applicable grant's refusal is given.
        assert_eq!(
            refusal(authorize(
                Some(&ok),
                &[by_id],
                &keys,
                Operation::Read,
                3_000
            )),
            "operation_not_granted"
        );
        // A grant on another dataset's id does not apply.
        assert_eq!(
            refusal(authorize(
                Some(&ok),
                &both,
                &["land-use", "x-1"],
                Operation::Read,
                3_000
            )),
            "no_grant"
        );
    }

    #[test]
    fn termination_is_final_and_suspension_resumes() {
        let now = 10;
        let s = change_status(
            &AccountStatus::Active,
            StatusChange::Suspend {
                reason: " kiểm tra ".into(),
            },
            now,
        )
        .unwrap();
        assert_eq!(
            s,
            AccountStatus::Suspended {
                reason: "kiểm tra".into(),
                since: 10
            }
        );
        assert!(change_status(&s, StatusChange::Suspend { reason: "x".into() }, now).is_err());
        assert_eq!(
            change_status(&s, StatusChange::Resume, now).unwrap(),
            AccountStatus::Active
        );
        let t = change_status(
            &s,
            StatusChange::Terminate {
                reason: "hết hạn".into(),
            },
            now,
        )
        .unwrap();
        let changes = [
            StatusChange::Resume,
            StatusChange::Suspend { reason: "x".into() },
            StatusChange::Terminate { reason: "x".into() },
        ];
        for change in changes {
            let action = change.action();
            assert_eq!(
                change_status(&t, change, now).unwrap_err().to_string(),
                format!("cannot {action} a connection account that is terminated")
            );
        }
        assert_eq!(
            change_status(&AccountStatus::Active, StatusChange::Resume, now)
                .unwrap_err()
                .to_string(),
            "cannot resume a connection account that is active"
        );
    }
}
