//! Who may read and write what in the catalogue: CKAN's roles mapped onto the platform's.
//! Administrators are CKAN sysadmins; agency staff are editors of their agency's organization;
//! IOC operators read everything, private datasets included, and write nothing.
//!
//! Every decision about private datasets is [`may_read`]; the sharing controls of
//! Nghị định 47/2020 (connection accounts, per-dataset grants) extend that one function.

use dothi_domain::{Actor, Role};

use crate::model::{Dataset, Organization, State};

/// The caller as the catalogue sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The platform user id, if signed in.
    pub user_id: Option<i64>,
    /// CKAN's user name ("" for anonymous, as CKAN prints it in refusals).
    pub name: String,
    pub role: Option<Role>,
    pub agency_id: Option<i64>,
}

impl Viewer {
    pub fn anonymous() -> Self {
        Viewer {
            user_id: None,
            name: String::new(),
            role: None,
            agency_id: None,
        }
    }

    /// The platform itself (demo data, generators): a sysadmin.
    pub fn system() -> Self {
        Viewer {
            user_id: None,
            name: "system".into(),
            role: Some(Role::Admin),
            agency_id: None,
        }
    }

    pub fn from_actor(actor: &Actor) -> Self {
        if actor.is_system() {
            return Viewer::system();
        }
        Viewer {
            user_id: actor.user_id,
            name: if actor.user_id.is_some() {
                actor.label.clone()
            } else {
                String::new()
            },
            role: actor.role,
            agency_id: actor.agency_id,
        }
    }

    pub fn is_sysadmin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    pub fn is_signed_in(&self) -> bool {
        self.user_id.is_some() || self.is_sysadmin()
    }

    /// Editor (CKAN's capacity) of the organization: its agency's staff, and sysadmins.
    pub fn edits(&self, org: &Organization) -> bool {
        self.is_sysadmin()
            || (self.role == Some(Role::AgencyStaff)
                && self.agency_id.is_some()
                && self.agency_id == org.agency_id)
    }

    /// Reads every private dataset of the organization.
    pub fn reads_private_of(&self, org: &Organization) -> bool {
        self.edits(org) || self.role == Some(Role::IocOperator)
    }
}

/// May the viewer see this dataset? Public active datasets: everyone. Private ones: the owning
/// organization's staff, the IOC and administrators. Deleted ones: those who may edit them.
pub fn may_read(viewer: &Viewer, dataset: &Dataset, org: &Organization) -> bool {
    if dataset.state == State::Deleted {
        return viewer.edits(org);
    }
    !dataset.private || viewer.reads_private_of(org)
}

/// May the viewer create, change or delete datasets of this organization?
pub fn may_edit(viewer: &Viewer, org: &Organization) -> bool {
    viewer.edits(org)
}

/// May the viewer create, list or revoke the API tokens of the platform user `owner`? A user
/// manages their own; sysadmins anyone's (as in CKAN).
pub fn may_manage_tokens(viewer: &Viewer, owner: i64) -> bool {
    viewer.is_sysadmin() || viewer.user_id == Some(owner)
}

/// May the viewer create organizations and groups, or change them? Sysadmins only: CKAN's
/// `ckan.auth.user_create_organizations` and `user_create_groups` are off, and organizations
/// stand for agencies, whose staff edit datasets, not the organization itself.
pub fn may_manage_organizations(viewer: &Viewer) -> bool {
    viewer.is_sysadmin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Organization, Translated};

    fn org(agency: i64) -> Organization {
        Organization {
            id: "o".into(),
            name: "sxd".into(),
            title: Translated::vi("Sở Xây dựng"),
            description: Translated::default(),
            image_url: String::new(),
            agency_id: Some(agency),
            state: State::Active,
            created: 0,
        }
    }

    fn viewer(role: Role, agency: Option<i64>) -> Viewer {
        Viewer {
            user_id: Some(1),
            name: "u".into(),
            role: Some(role),
            agency_id: agency,
        }
    }

    #[test]
    fn private_datasets_are_read_by_their_agency_the_ioc_and_admins_only() {
        let o = org(7);
        assert!(viewer(Role::AgencyStaff, Some(7)).reads_private_of(&o));
        assert!(!viewer(Role::AgencyStaff, Some(8)).reads_private_of(&o));
        assert!(viewer(Role::IocOperator, None).reads_private_of(&o));
        assert!(viewer(Role::Admin, None).reads_private_of(&o));
        assert!(!viewer(Role::Citizen, None).reads_private_of(&o));
        assert!(!Viewer::anonymous().reads_private_of(&o));
    }

    #[test]
    fn only_the_agency_and_admins_edit() {
        let o = org(7);
        assert!(may_edit(&viewer(Role::AgencyStaff, Some(7)), &o));
        assert!(!may_edit(&viewer(Role::IocOperator, None), &o));
        assert!(!may_edit(&viewer(Role::AgencyStaff, Some(8)), &o));
        assert!(may_edit(&Viewer::system(), &o));
    }

    #[test]
    fn users_manage_their_own_tokens_and_sysadmins_everyones() {
        assert!(may_manage_tokens(&viewer(Role::Citizen, None), 1));
        assert!(!may_manage_tokens(&viewer(Role::AgencyStaff, Some(7)), 2));
        assert!(may_manage_tokens(&viewer(Role::Admin, None), 2));
        assert!(!may_manage_tokens(&Viewer::anonymous(), 1));
        assert!(!may_manage_organizations(&viewer(
            Role::AgencyStaff,
            Some(7)
        )));
        assert!(may_manage_organizations(&viewer(Role::Admin, None)));
    }
}
