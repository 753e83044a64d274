//! CKAN's organization and group dictionaries in (`organization_create`, `_update`, `_patch`
//! and the same for groups), validated with CKAN's rules, and what an update may change.
//!
//! Organizations that stand for an agency (`agency_id`) take their URL name and their titles
//! from the reference data: `catalog_sync_organizations` follows a renamed agency, and the
//! name is the agency's code, the same on every instance. An update may change their
//! description and image; a different name or title is refused (rename the agency instead),
//! so the catalogue never disagrees with the reference data, and an edit is never silently
//! undone by the next synchronisation. Hand-made organizations and groups change freely.

use serde_json::{Map, Value};

use super::{bilingual, id_and_name, is_web_url, text};
use crate::error::{CatalogError, FieldErrors};
use crate::model::{Group, Organization, State, Translated};

/// What an organization or group dictionary gives. CKAN's `packages`, `users`, `groups` and
/// `extras` of these dictionaries are not read: datasets are filed under groups and
/// organizations by their own `groups` and `owner_org`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupInput {
    pub id: Option<String>,
    pub name: String,
    pub title: Translated,
    pub description: Translated,
    pub image_url: String,
}

/// An organization (`organization: true`) or group dictionary.
pub fn group(map: &Map<String, Value>, organization: bool) -> Result<GroupInput, CatalogError> {
    let mut errors = FieldErrors::new();
    let (id, name) = id_and_name(map, &mut errors);
    let title = bilingual(map, "title", "title_translated", &mut errors);
    let description = bilingual(map, "description", "description_translated", &mut errors);
    if title.vi.chars().count() > 1000 || title.en.chars().count() > 1000 {
        errors.add("title", "Must be at most 1000 characters long");
    }
    let image_url = text(map, "image_url", &mut errors).unwrap_or_default();
    if !image_url.is_empty() && !is_web_url(&image_url) {
        errors.add("image_url", "Please provide a valid URL");
    }
    let kind = if organization {
        "organization"
    } else {
        "group"
    };
    if let Some(t) = text(map, "type", &mut errors) {
        if t != kind {
            errors.add("type", format!("Only the {kind} type is supported"));
        }
    }
    errors.into_result(GroupInput {
        id,
        name,
        title,
        description,
        image_url,
    })
}

/// A new group, or a new organization created by hand (no agency).
pub fn new_group(input: GroupInput, id: String, now: i64) -> Group {
    Group {
        id,
        title: title_or_name(input.title, &input.name),
        name: input.name,
        description: input.description,
        image_url: input.image_url,
        state: State::Active,
        created: now,
    }
}

/// A group after `group_update`: fields not given are cleared, as in CKAN (the title then
/// falls back to the name).
pub fn updated_group(existing: &Group, input: GroupInput) -> Group {
    Group {
        created: existing.created,
        state: existing.state,
        ..new_group(input, existing.id.clone(), existing.created)
    }
}

/// An organization after `organization_update`. Fields not given are cleared, except what an
/// agency's organization takes from the reference data (see the module's notes): there a
/// name or title that differs from the current one is refused, and one not given is kept.
pub fn updated_organization(
    existing: &Organization,
    input: GroupInput,
) -> Result<Organization, CatalogError> {
    let mut errors = FieldErrors::new();
    let (name, title) = match existing.agency_id {
        None => (input.name.clone(), title_or_name(input.title, &input.name)),
        Some(_) => {
            const FROM_AGENCY: &str =
                "Set from the agency in the reference data: change the agency instead";
            if input.name != existing.name {
                errors.add("name", FROM_AGENCY);
            }
            let differs = |given: &str, current: &str| !given.is_empty() && given != current;
            if differs(&input.title.vi, &existing.title.vi) {
                errors.add("title", FROM_AGENCY);
            }
            if differs(&input.title.en, &existing.title.en) {
                errors.add("title_translated", FROM_AGENCY);
            }
            (existing.name.clone(), existing.title.clone())
        }
    };
    errors.into_result(Organization {
        id: existing.id.clone(),
        name,
        title,
        description: input.description,
        image_url: input.image_url,
        agency_id: existing.agency_id,
        state: existing.state,
        created: existing.created,
    })
}

/// CKAN shows the name where a group has no title; the catalogue stores it so.
fn title_or_name(mut title: Translated, name: &str) -> Translated {
    if title.vi.trim().is_empty() {
        title.vi = name.to_string();
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn agency_org() -> Organization {
        Organization {
            id: "o1".into(),
            name: "hepco".into(),
            title: Translated::new("Công ty Điện lực", "Power company"),
            description: Translated::default(),
            image_url: String::new(),
            agency_id: Some(3),
            state: State::Active,
            created: 5,
        }
    }

    #[test]
    fn dictionaries_are_checked_with_ckan_rules() {
        let e = group(
            &obj(json!({"name": "Môi trường", "image_url": "javascript:x", "type": "group"})),
            true,
        )
        .unwrap_err();
        assert_eq!(
            e,
            CatalogError::Validation(FieldErrors(obj(json!({
                "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
                "image_url": ["Please provide a valid URL"],
                "type": ["Only the organization type is supported"],
            }))))
        );
        let e = group(&obj(json!({})), false).unwrap_err();
        assert_eq!(
            e,
            CatalogError::Validation(FieldErrors::one("name", "Missing value"))
        );
    }

    #[test]
    fn an_agency_organization_keeps_its_name_and_titles() {
        let given = group(
            &obj(json!({"name": "hepco", "description": "Mô tả", "title_translated": {"en": "Power company"}})),
            true,
        )
        .unwrap();
        let o = updated_organization(&agency_org(), given).unwrap();
        assert_eq!(o.title, agency_org().title);
        assert_eq!(o.description, Translated::vi("Mô tả"));

        let renamed = group(
            &obj(json!({"name": "evn", "title": "EVN", "title_translated": {"en": "EVN"}})),
            true,
        )
        .unwrap();
        let msg = "Set from the agency in the reference data: change the agency instead";
        assert_eq!(
            updated_organization(&agency_org(), renamed).unwrap_err(),
            CatalogError::Validation(FieldErrors(obj(json!({
                "name": [msg], "title": [msg], "title_translated": [msg]
            }))))
        );
    }

    #[test]
    fn a_hand_made_organization_is_replaced_and_falls_back_to_its_name() {
        let mut existing = agency_org();
        existing.agency_id = None;
        existing.description = Translated::vi("cũ");
        let o = updated_organization(
            &existing,
            group(&obj(json!({"name": "dien-luc"})), true).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (o.name.as_str(), o.title, o.description, o.created),
            (
                "dien-luc",
                Translated::vi("dien-luc"),
                Translated::default(),
                5
            )
        );
    }
}
