//! The catalogue's records as CKAN 2.10 dictionaries (`package_show`, `resource_show`,
//! `organization_show`, …), with the ckanext-fluent fields beside CKAN's own.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::licence;
use crate::model::{Dataset, Group, Organization, Resource};
use crate::timestamp;

/// What rendering a dataset needs besides the dataset.
pub struct Context<'a> {
    /// The site's public URL, without a trailing slash.
    pub base_url: &'a str,
    pub organizations: &'a HashMap<String, Organization>,
    pub groups: &'a HashMap<String, Group>,
}

fn opt(v: &Option<String>) -> Value {
    match v {
        Some(s) => Value::String(s.clone()),
        None => Value::Null,
    }
}

fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

/// CKAN's download URL of an uploaded resource.
pub fn download_url(base_url: &str, dataset_id: &str, resource_id: &str, filename: &str) -> String {
    format!("{base_url}/dataset/{dataset_id}/resource/{resource_id}/download/{filename}")
}

pub fn resource_dict(r: &Resource, position: usize, dataset_id: &str, base_url: &str) -> Value {
    let url = if r.is_upload() {
        download_url(base_url, dataset_id, &r.id, &r.url)
    } else {
        r.url.clone()
    };
    json!({
        "cache_last_updated": null,
        "cache_url": null,
        "created": timestamp(r.created),
        "datastore_active": false,
        "description": r.description.vi,
        "description_translated": r.description.to_json(),
        "format": r.format,
        "hash": r.hash,
        "id": r.id,
        "last_modified": r.last_modified.map(timestamp),
        "metadata_modified": timestamp(r.metadata_modified),
        "mimetype": opt(&r.mimetype),
        "mimetype_inner": null,
        "name": r.name.vi,
        "name_translated": r.name.to_json(),
        "package_id": dataset_id,
        "position": position,
        "resource_type": opt(&r.resource_type),
        "size": r.size,
        "state": "active",
        "url": url,
        "url_type": opt(&r.url_type),
    })
}

pub fn tag_dict(name: &str) -> Value {
    json!({
        "display_name": name,
        "id": crate::tag_id(name),
        "name": name,
        "state": "active",
        "vocabulary_id": null,
    })
}

/// The organization as embedded in a dataset.
pub fn organization_summary(o: &Organization) -> Value {
    json!({
        "approval_status": "approved",
        "created": timestamp(o.created),
        "description": o.description.vi,
        "id": o.id,
        "image_url": o.image_url,
        "is_organization": true,
        "name": o.name,
        "state": o.state.as_str(),
        "title": o.title.vi,
        "title_translated": o.title.to_json(),
        "type": "organization",
    })
}

fn group_summary(g: &Group) -> Value {
    json!({
        "description": g.description.vi,
        "display_name": g.title.vi,
        "id": g.id,
        "image_display_url": g.image_url,
        "name": g.name,
        "title": g.title.vi,
    })
}

pub fn package_dict(d: &Dataset, ctx: &Context) -> Value {
    let licence = d.license_id.as_deref().and_then(licence::find);
    let organization = ctx
        .organizations
        .get(&d.owner_org)
        .map(organization_summary)
        .unwrap_or(Value::Null);
    let groups: Vec<Value> = d
        .groups
        .iter()
        .filter_map(|id| ctx.groups.get(id))
        .map(group_summary)
        .collect();
    let resources: Vec<Value> = d
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| resource_dict(r, i, &d.id, ctx.base_url))
        .collect();
    let extras: Vec<Value> = d
        .extras
        .iter()
        .map(|e| json!({"key": e.key, "value": e.value}))
        .collect();
    let tags: Vec<Value> = d.tags.iter().map(|t| tag_dict(t)).collect();
    let mut out = json!({
        "author": opt(&d.author),
        "author_email": opt(&d.author_email),
        "creator_user_id": opt(&d.creator_user_id),
        "id": d.id,
        "isopen": licence.is_some_and(|l| l.is_open()),
        "license_id": opt(&d.license_id),
        "maintainer": opt(&d.maintainer),
        "maintainer_email": opt(&d.maintainer_email),
        "metadata_created": timestamp(d.metadata_created),
        "metadata_modified": timestamp(d.metadata_modified),
        "name": d.name,
        "notes": text_or_null(&d.notes.vi),
        "num_resources": d.resources.len(),
        "num_tags": d.tags.len(),
        "owner_org": d.owner_org,
        "private": d.private,
        "relationships_as_object": [],
        "relationships_as_subject": [],
        "state": d.state.as_str(),
        "title": d.title.vi,
        "type": "dataset",
        "url": opt(&d.url),
        "version": opt(&d.version),
    });
    // The nested values are moved in: inside `json!` each would be copied value by value,
    // which a search page of 100 datasets pays for.
    out["extras"] = Value::Array(extras);
    out["groups"] = Value::Array(groups);
    out["notes_translated"] = d.notes.to_json();
    out["organization"] = organization;
    out["resources"] = Value::Array(resources);
    out["tags"] = Value::Array(tags);
    out["title_translated"] = d.title.to_json();
    if let Some(l) = licence {
        out["license_title"] = json!(l.title_vi);
        if !l.url.is_empty() {
            out["license_url"] = json!(l.url);
        }
    } else if let Some(id) = &d.license_id {
        out["license_title"] = json!(id);
    }
    out
}

/// `organization_show` / the entries of `organization_list` with `all_fields`.
pub fn organization_dict(o: &Organization, package_count: i64) -> Value {
    let mut v = organization_summary(o);
    v["display_name"] = json!(o.title.vi);
    v["description_translated"] = o.description.to_json();
    v["image_display_url"] = json!(o.image_url);
    v["num_followers"] = json!(0);
    v["package_count"] = json!(package_count);
    v
}

pub fn group_dict(g: &Group, package_count: i64) -> Value {
    json!({
        "approval_status": "approved",
        "created": timestamp(g.created),
        "description": g.description.vi,
        "description_translated": g.description.to_json(),
        "display_name": g.title.vi,
        "id": g.id,
        "image_display_url": g.image_url,
        "image_url": g.image_url,
        "is_organization": false,
        "name": g.name,
        "num_followers": 0,
        "package_count": package_count,
        "state": g.state.as_str(),
        "title": g.title.vi,
        "title_translated": g.title.to_json(),
        "type": "group",
    })
}
