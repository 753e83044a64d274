//! The report life cycle. Every status change goes through [`plan`], which says whether the
//! actor may take the action from the current status and what the next status is.

use serde::{Deserialize, Serialize};

use crate::{Actor, DomainError, Role};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Result<Self, DomainError> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(DomainError::invalid(
                        $field,
                        format!("unknown value '{}'; expected one of {}", other, [$($s),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Where a report is in its life cycle.
    Status, "status" {
        Received = "received",
        Assigned = "assigned",
        InProgress = "in_progress",
        Transferred = "transferred",
        Resolved = "resolved",
        Closed = "closed",
        Rejected = "rejected",
        Reopened = "reopened",
    }
);

string_enum!(
    /// Normal (thường) or urgent (khẩn cấp) handling track.
    Priority, "priority" { Normal = "normal", Urgent = "urgent" }
);

string_enum!(
    /// How the report reached the platform.
    Channel, "channel" {
        App = "app",
        Web = "web",
        Hotline = "hotline",
        Email = "email",
        Zalo = "zalo",
        Facebook = "facebook",
        Open311 = "open311",
    }
);

string_enum!(
    RejectReason, "reason" {
        OutOfScope = "out_of_scope",
        Duplicate = "duplicate",
        InsufficientInformation = "insufficient_information",
    }
);

string_enum!(
    /// The citizen's verdict: hài lòng / chấp nhận được / không hài lòng.
    Rating, "rating" {
        Satisfied = "satisfied",
        Acceptable = "acceptable",
        Unsatisfied = "unsatisfied",
    }
);

impl Status {
    /// Statuses in which an agency still owes an answer, so the deadline runs.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Received
                | Status::Assigned
                | Status::InProgress
                | Status::Transferred
                | Status::Reopened
        )
    }

    /// Open311 only knows `open` and `closed`.
    pub fn open311(self) -> &'static str {
        if self.is_open() {
            "open"
        } else {
            "closed"
        }
    }

    pub fn open_statuses() -> Vec<Status> {
        Status::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect()
    }
}

string_enum!(
    /// Everything that can happen to a report. Each action is recorded in the history.
    Action, "action" {
        Create = "create",
        Assign = "assign",
        Accept = "accept",
        Transfer = "transfer",
        RequestExtension = "request_extension",
        ApproveExtension = "approve_extension",
        RefuseExtension = "refuse_extension",
        Resolve = "resolve",
        Reject = "reject",
        Rate = "rate",
        Reopen = "reopen",
        Close = "close",
        MarkOverdue = "overdue",
    }
);

/// What the store needs to know about a report to decide on an action.
#[derive(Clone, Debug)]
pub struct ReportFacts {
    pub status: Status,
    pub agency_id: Option<i64>,
    pub reporter_user_id: Option<i64>,
}

/// Decide whether `actor` may take `action` on a report, and return the next status.
/// `Rate` returns `Closed`; the caller turns it into `Reopened` when the citizen asks.
pub fn plan(actor: &Actor, action: Action, report: &ReportFacts) -> Result<Status, DomainError> {
    use Status::*;
    let from = report.status;
    let handling = [Assigned, InProgress, Transferred, Reopened];
    let (allowed_from, next): (&[Status], Status) = match action {
        Action::Create => (&[], Received),
        Action::Assign => (
            &[Received, Assigned, InProgress, Transferred, Reopened],
            Assigned,
        ),
        Action::Accept => (&[Assigned, Transferred, Reopened], InProgress),
        Action::Transfer => (&handling, Transferred),
        Action::RequestExtension | Action::ApproveExtension | Action::RefuseExtension => {
            (&handling, from)
        }
        Action::Resolve => (&handling, Resolved),
        Action::Reject => (
            &[Received, Assigned, InProgress, Transferred, Reopened],
            Rejected,
        ),
        Action::Rate => (&[Resolved], Closed),
        Action::Reopen => (&[Resolved, Closed, Rejected], Reopened),
        Action::Close => (&[Resolved, Rejected], Closed),
        Action::MarkOverdue => (
            &[Received, Assigned, InProgress, Transferred, Reopened],
            from,
        ),
    };
    authorize(actor, action, report)?;
    if !allowed_from.contains(&from) {
        return Err(DomainError::InvalidTransition {
            from: from.to_string(),
            action: action.to_string(),
        });
    }
    Ok(next)
}

fn authorize(actor: &Actor, action: Action, report: &ReportFacts) -> Result<(), DomainError> {
    let handling_agency = actor.role == Some(Role::AgencyStaff)
        && actor.agency_id.is_some()
        && actor.agency_id == report.agency_id;
    let reporter = actor.user_id.is_some() && actor.user_id == report.reporter_user_id;
    let ok = match action {
        Action::Create => true,
        Action::Assign | Action::ApproveExtension | Action::RefuseExtension | Action::Close => {
            actor.is_ioc()
        }
        Action::Accept | Action::Transfer | Action::Resolve | Action::Reject => {
            actor.is_ioc() || handling_agency
        }
        Action::RequestExtension => handling_agency,
        Action::Rate | Action::Reopen => actor.is_ioc() || reporter,
        Action::MarkOverdue => actor.is_system(),
    };
    if ok {
        Ok(())
    } else {
        let who = match action {
            Action::RequestExtension => "only the agency handling the report",
            Action::Accept | Action::Transfer | Action::Resolve | Action::Reject => {
                "only the agency handling the report or the IOC"
            }
            Action::Rate | Action::Reopen => "only the reporter or the IOC",
            Action::MarkOverdue => "only the platform",
            _ => "only IOC operators",
        };
        Err(DomainError::forbidden(format!(
            "{who} may {action} this report"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: Status) -> ReportFacts {
        ReportFacts {
            status,
            agency_id: Some(7),
            reporter_user_id: Some(100),
        }
    }

    fn staff(agency: i64) -> Actor {
        Actor::user(1, Role::AgencyStaff, Some(agency), "staff")
    }

    fn ioc() -> Actor {
        Actor::user(2, Role::IocOperator, None, "ioc")
    }

    fn citizen(id: i64) -> Actor {
        Actor::user(id, Role::Citizen, None, "citizen")
    }

    #[test]
    fn handling_agency_accepts_and_resolves() {
        assert_eq!(
            plan(&staff(7), Action::Accept, &facts(Status::Assigned)),
            Ok(Status::InProgress)
        );
        assert_eq!(
            plan(&staff(7), Action::Resolve, &facts(Status::InProgress)),
            Ok(Status::Resolved)
        );
    }

    #[test]
    fn other_agency_cannot_touch_the_report() {
        for action in [
            Action::Accept,
            Action::Resolve,
            Action::Transfer,
            Action::Reject,
            Action::RequestExtension,
        ] {
            let err = plan(&staff(8), action, &facts(Status::Assigned)).unwrap_err();
            assert!(
                matches!(err, DomainError::Forbidden(_)),
                "{action}: {err:?}"
            );
        }
    }

    #[test]
    fn only_ioc_approves_extensions_and_assigns() {
        assert!(plan(
            &staff(7),
            Action::ApproveExtension,
            &facts(Status::InProgress)
        )
        .is_err());
        assert_eq!(
            plan(&ioc(), Action::ApproveExtension, &facts(Status::InProgress)),
            Ok(Status::InProgress)
        );
        assert_eq!(
            plan(&ioc(), Action::Assign, &facts(Status::Received)),
            Ok(Status::Assigned)
        );
        assert!(plan(&citizen(100), Action::Assign, &facts(Status::Received)).is_err());
    }

    #[test]
    fn only_the_reporter_rates_and_only_after_resolution() {
        assert_eq!(
            plan(&citizen(100), Action::Rate, &facts(Status::Resolved)),
            Ok(Status::Closed)
        );
        assert!(matches!(
            plan(&citizen(101), Action::Rate, &facts(Status::Resolved)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            plan(&citizen(100), Action::Rate, &facts(Status::InProgress)),
            Err(DomainError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn closed_reports_can_only_be_reopened() {
        for action in [
            Action::Accept,
            Action::Resolve,
            Action::Transfer,
            Action::Reject,
            Action::Assign,
        ] {
            assert!(
                plan(&ioc(), action, &facts(Status::Closed)).is_err(),
                "{action}"
            );
        }
        assert_eq!(
            plan(&citizen(100), Action::Reopen, &facts(Status::Closed)),
            Ok(Status::Reopened)
        );
    }

    #[test]
    fn open311_status_is_open_or_closed() {
        assert_eq!(Status::Transferred.open311(), "open");
        assert_eq!(Status::Resolved.open311(), "closed");
        assert_eq!(Status::Rejected.open311(), "closed");
    }

    #[test]
    fn parse_rejects_unknown_values_with_the_allowed_list() {
        let err = Priority::parse("high").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid priority: unknown value 'high'; expected one of normal, urgent"
        );
        assert_eq!(Channel::parse("zalo"), Ok(Channel::Zalo));
    }
}
