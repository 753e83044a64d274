//! The actions: each reads CKAN's data dictionary, calls the store, and renders CKAN's
//! dictionaries. The table [`ACTIONS`] is the list of known actions with their help text.

use dothi_catalog::access::{self, Viewer};
use dothi_catalog::input;
use dothi_catalog::input::group as group_input;
use dothi_catalog::render;
use dothi_catalog::search;
use dothi_catalog::CatalogError;
use dothi_store::catalog::{Directory, ResourceTarget};
use serde_json::{json, Map, Value};

use crate::envelope::{ActionResult, CkanError};
use crate::request::ReceivedFile;
use crate::sharing::SharingCaller;
use crate::Ckan;

pub struct Action {
    pub name: &'static str,
    /// Read actions: GET allowed (CKAN's `side_effect_free`).
    pub side_effect_free: bool,
    pub help: &'static str,
}

pub const ACTIONS: &[Action] = &[
    Action { name: "status_show", side_effect_free: true, help: "Return a dictionary with information about the site's configuration." },
    Action { name: "help_show", side_effect_free: true, help: "Return the help string for a particular API action.\n\n:param name: Action function name (eg `user_create`, `package_search`)\n:type name: string\n:returns: The help string for the action function, or None if the function\n          does not have a docstring.\n:rtype: string" },
    Action { name: "package_list", side_effect_free: true, help: "Return a list of the names of the site's public datasets (packages).\n\n:param limit: if given, the list of datasets will be broken into pages of\n    at most ``limit`` datasets per page and only one page will be returned\n    at a time (optional)\n:type limit: int\n:param offset: when ``limit`` is given, the offset to start\n    returning packages from\n:type offset: int\n\n:rtype: list of strings" },
    Action { name: "package_show", side_effect_free: true, help: "Return the metadata of a dataset (package) and its resources.\n\n:param id: the id or name of the dataset\n:type id: string\n\n:rtype: dictionary" },
    Action { name: "package_search", side_effect_free: true, help: "Search for packages satisfying a given search criteria.\n\nParameters: q (free text, field:value, \"phrases\"; diacritics are ignored), fq, fq_list, rows (at most 1000), start, sort (score, metadata_modified, metadata_created, name, title_string with asc/desc), facet, facet.field (a JSON list of organization, groups, tags, res_format, license_id), facet.limit, facet.mincount, include_private.\n\n:returns: a dictionary with count, results, facets, search_facets and sort\n:rtype: dictionary" },
    Action { name: "package_create", side_effect_free: false, help: "Create a new dataset (package).\n\nYou must be authorized to create new datasets in the owning organization (owner_org): its agency's staff, or a sysadmin. Fields: name (required), title, title_translated {vi, en}, notes, notes_translated, owner_org, private, license_id, author, author_email, maintainer, maintainer_email, url, version, tags, groups, extras, resources.\n\n:returns: the newly created dataset\n:rtype: dictionary" },
    Action { name: "package_update", side_effect_free: false, help: "Update a dataset (package).\n\nFields not given are cleared, except the lists resources, tags, groups and extras, which are kept when absent. To change one field, use package_patch.\n\n:param id: the id or name of the dataset to update\n:type id: string\n\n:returns: the updated dataset\n:rtype: dictionary" },
    Action { name: "package_patch", side_effect_free: false, help: "Patch a dataset (package).\n\n:param id: the id or name of the dataset\n:type id: string\n\nThe difference between the update and patch methods is that the patch will perform an update of the provided parameters, while leaving all other parameters unchanged.\n\n:returns: the patched dataset\n:rtype: dictionary" },
    Action { name: "package_delete", side_effect_free: false, help: "Delete a dataset (package).\n\nThis makes the dataset disappear from all web & API views, apart from the trash (its state becomes deleted).\n\n:param id: the id or name of the dataset to delete\n:type id: string" },
    Action { name: "resource_create", side_effect_free: false, help: "Append a resource to a dataset.\n\n:param package_id: id of package that the resource should be added to.\n:type package_id: string\n:param url: url of resource\n:param upload: (optional) a file, sent as multipart/form-data\n:param name, description, format, mimetype, size, hash, resource_type: (optional)\n\n:returns: the newly created resource\n:rtype: dictionary" },
    Action { name: "resource_update", side_effect_free: false, help: "Update a resource. Fields not given are cleared; an upload is kept unless a new file is sent.\n\n:param id: the id of the resource to update\n:type id: string\n\n:returns: the updated resource\n:rtype: dictionary" },
    Action { name: "resource_patch", side_effect_free: false, help: "Patch a resource.\n\n:param id: the id of the resource\n:type id: string\n:param upload: (optional) a new file, sent as multipart/form-data\n\n:returns: the patched resource\n:rtype: dictionary" },
    Action { name: "resource_show", side_effect_free: true, help: "Return the metadata of a resource.\n\n:param id: the id of the resource\n:type id: string\n\n:rtype: dictionary" },
    Action { name: "organization_list", side_effect_free: true, help: "Return a list of the names of the site's organizations (one per agency).\n\n:param sort: name, title or package_count, with asc or desc (default: title asc)\n:param limit, offset: paging (optional)\n:param organizations: a list of names to restrict to (optional)\n:param all_fields: return dictionaries instead of names (optional, default False)\n\n:rtype: list of strings" },
    Action { name: "organization_show", side_effect_free: true, help: "Return the details of an organization.\n\n:param id: the id or name of the organization\n:type id: string\n:param include_datasets: include a truncated list of the org's datasets (optional, default: False)\n\n:rtype: dictionary" },
    Action { name: "group_list", side_effect_free: true, help: "Return a list of the names of the site's groups.\n\n:param sort, limit, offset, groups, all_fields: as organization_list\n\n:rtype: list of strings" },
    Action { name: "group_show", side_effect_free: true, help: "Return the details of a group.\n\n:param id: the id or name of the group\n:type id: string\n:param include_datasets: include a truncated list of the group's datasets (optional, default: False)\n\n:rtype: dictionary" },
    Action { name: "tag_list", side_effect_free: true, help: "Return a list of the site's tags.\n\n:param query: a tag name query to search for, ignoring diacritics (optional)\n:param all_fields: return full tag dictionaries instead of just names (optional, default False)\n\n:rtype: list of strings" },
    Action { name: "license_list", side_effect_free: true, help: "Return the list of licenses available for datasets on the site.\n\n:rtype: list of dictionaries" },
    Action { name: "organization_create", side_effect_free: false, help: "Create a new organization (sysadmins only).\n\nOrganizations of the province's agencies are created from the reference data; this one stands for no agency.\n\n:param name: the name of the organization, a string between 2 and 100 characters long, containing only lowercase alphanumeric characters, - and _\n:type name: string\n:param id: the id of the organization (optional)\n:param title, title_translated {vi, en}: the title (optional)\n:param description, description_translated {vi, en}: the description (optional)\n:param image_url: the URL of an image for the organization (optional)\n\n:returns: the newly created organization\n:rtype: dictionary" },
    Action { name: "organization_update", side_effect_free: false, help: "Update an organization (sysadmins only).\n\nFields not given are cleared. The name and titles of an agency's organization come from the reference data and cannot be changed here; its description and image can.\n\n:param id: the id or name of the organization to update\n:type id: string\n:param name, title, title_translated, description, description_translated, image_url: as organization_create\n\n:returns: the updated organization\n:rtype: dictionary" },
    Action { name: "organization_patch", side_effect_free: false, help: "Patch an organization (sysadmins only): only the given fields change.\n\n:param id: the id or name of the organization to patch\n:type id: string\n\n:returns: the patched organization\n:rtype: dictionary" },
    Action { name: "group_create", side_effect_free: false, help: "Create a new group, a theme datasets are filed under (sysadmins only).\n\n:param name: the name of the group, a string between 2 and 100 characters long, containing only lowercase alphanumeric characters, - and _\n:type name: string\n:param id: the id of the group (optional; derived from the name otherwise)\n:param title, title_translated {vi, en}, description, description_translated, image_url: (optional)\n\n:returns: the newly created group\n:rtype: dictionary" },
    Action { name: "group_update", side_effect_free: false, help: "Update a group (sysadmins only). Fields not given are cleared.\n\n:param id: the id or name of the group to update\n:type id: string\n\n:returns: the updated group\n:rtype: dictionary" },
    Action { name: "group_patch", side_effect_free: false, help: "Patch a group (sysadmins only): only the given fields change.\n\n:param id: the id or name of the group to patch\n:type id: string\n\n:returns: the patched group\n:rtype: dictionary" },
    Action { name: "api_token_create", side_effect_free: false, help: "Create new API Token for current user.\n\n:param user: name or id of the user who owns new API Token\n:type user: string\n:param name: distinctive name for API Token\n:type name: string\n:param expires_in: (optional, with unit) the token expires after expires_in units\n:type expires_in: int\n:param unit: (optional, with expires_in) the unit in seconds: 1, 60, 3600 or 86400, for example\n:type unit: int\n\n:returns: Returns a dict with the key \"token\" containing the encoded token value. It is shown only this once.\n:rtype: dictionary" },
    Action { name: "api_token_list", side_effect_free: true, help: "Return list of all available API Tokens for current user.\n\n:param string user_id: The user ID or name\n\n:returns: collection of all API Tokens (id, name, user_id, created_at, last_access, expires_at; never the token)\n:rtype: list" },
    Action { name: "api_token_revoke", side_effect_free: false, help: "Delete API Token.\n\n:param string token: Token to remove(required if `jti` not specified).\n:param string jti: Id of the token to remove(overrides `token` if specified)." },
    Action { name: "user_show", side_effect_free: true, help: "Return a user account.\n\n:param id: the id or name of the user (optional: without it, the caller's own account)\n:type id: string\n\nCitizens' accounts are shown only to themselves and to sysadmins.\n\n:rtype: dictionary" },
];

pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// A string parameter, or "Missing value" under that name.
fn required(data: &Map<String, Value>, key: &str) -> Result<String, CkanError> {
    match data.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(CkanError::missing(key)),
    }
}

fn optional_string(data: &Map<String, Value>, key: &str) -> Option<String> {
    match data.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// CKAN's `natural_number_validator` on an optional integer.
fn natural(data: &Map<String, Value>, key: &str) -> Result<Option<i64>, CkanError> {
    let n = match data.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        None => Err(CkanError::validation(key, "Invalid integer")),
        Some(n) if n < 0 => Err(CkanError::validation(key, "Must be a natural number")),
        Some(n) => Ok(Some(n)),
    }
}

pub async fn run(
    ckan: &Ckan,
    action: &str,
    viewer: &Viewer,
    data: Map<String, Value>,
    upload: Option<ReceivedFile>,
    sharing: Option<&SharingCaller>,
) -> ActionResult {
    if upload.is_some()
        && !matches!(
            action,
            "resource_create" | "resource_patch" | "resource_update"
        )
    {
        return Err(CkanError::validation("upload", "This action takes no file"));
    }
    match action {
        "status_show" => Ok(status_show(ckan)),
        "help_show" => {
            // CKAN's get_or_bust: an absent name is a validation error, an empty one unknown.
            let name = match data.get("name") {
                None | Some(Value::Null) => return Err(CkanError::missing("name")),
                Some(_) => optional_string(&data, "name").unwrap_or_default(),
            };
            find(&name)
                .map(|a| Value::String(a.help.to_string()))
                .ok_or_else(|| CatalogError::NotFound("Action function not found".into()).into())
        }
        "package_list" => {
            let limit = natural(&data, "limit")?;
            let offset = natural(&data, "offset")?.unwrap_or(0);
            Ok(json!(
                ckan.store.catalog_dataset_names(limit, offset).await?
            ))
        }
        "package_show" => {
            let id = optional_string(&data, "id")
                .or_else(|| optional_string(&data, "name_or_id"))
                .ok_or_else(|| CkanError::missing("name_or_id"))?;
            let (dataset, dir) = match ckan.store.catalog_dataset(viewer, &id).await {
                Err(dothi_store::catalog::CatalogStoreError::Refused(
                    CatalogError::NotAuthorized(message),
                )) => shared_read(ckan, Shared::Dataset(&id), sharing, message).await?,
                other => other?,
            };
            Ok(package(ckan, &dataset, &dir))
        }
        "package_search" => package_search(ckan, viewer, &data).await,
        "package_create" => {
            let input = input::package(&data)?;
            let (dataset, dir) = ckan.store.catalog_create_dataset(viewer, input).await?;
            Ok(package(ckan, &dataset, &dir))
        }
        "package_update" => {
            let id = required(&data, "id").or_else(|_| required(&data, "name"))?;
            let input = input::package(&data)?;
            let (dataset, dir) = ckan
                .store
                .catalog_update_dataset(viewer, &id, input)
                .await?;
            Ok(package(ckan, &dataset, &dir))
        }
        "package_patch" => {
            let id = required(&data, "id")?;
            let (current, dir) = ckan.store.catalog_dataset(viewer, &id).await?;
            let Value::Object(current_dict) = package(ckan, &current, &dir) else {
                return Err(CkanError::internal("a package rendered as a non-object"));
            };
            let merged = input::merge_patch(current_dict, &data);
            let input = input::package(&merged)?;
            let (dataset, dir) = ckan
                .store
                .catalog_update_dataset(viewer, &current.id, input)
                .await?;
            Ok(package(ckan, &dataset, &dir))
        }
        "package_delete" => {
            let id = required(&data, "id")?;
            ckan.store.catalog_delete_dataset(viewer, &id).await?;
            Ok(Value::Null)
        }
        "resource_create" => {
            let package_id = required(&data, "package_id")?;
            let mut data = data;
            if upload.is_some() && optional_string(&data, "id").is_none() {
                data.insert("id".into(), json!(dothi_catalog::new_id()));
            }
            save_resource(
                ckan,
                viewer,
                ResourceTarget::New {
                    package: &package_id,
                },
                data,
                upload,
            )
            .await
        }
        "resource_patch" | "resource_update" => {
            let id = required(&data, "id")?;
            let data = if action == "resource_patch" {
                let (dataset, _) = ckan.store.catalog_dataset_of_resource(viewer, &id).await?;
                let (position, resource) = dataset
                    .resources
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.id == id)
                    .ok_or_else(|| CatalogError::NotFound("Resource was not found.".into()))?;
                let Value::Object(current) =
                    render::resource_dict(resource, position, &dataset.id, &ckan.config.base_url)
                else {
                    return Err(CkanError::internal("a resource rendered as a non-object"));
                };
                input::merge_patch(current, &data)
            } else {
                data
            };
            save_resource(
                ckan,
                viewer,
                ResourceTarget::Existing { id: &id },
                data,
                upload,
            )
            .await
        }
        "resource_show" => {
            let id = required(&data, "id")?;
            let (dataset, _) = match ckan.store.catalog_dataset_of_resource(viewer, &id).await {
                Err(dothi_store::catalog::CatalogStoreError::Refused(
                    CatalogError::NotAuthorized(message),
                )) => shared_read(ckan, Shared::Resource(&id), sharing, message).await?,
                other => other?,
            };
            dataset
                .resources
                .iter()
                .enumerate()
                .find(|(_, r)| r.id == id)
                .map(|(i, r)| render::resource_dict(r, i, &dataset.id, &ckan.config.base_url))
                .ok_or_else(|| CatalogError::NotFound("Resource was not found.".into()).into())
        }
        "organization_list" | "group_list" => {
            list_groups(ckan, action == "organization_list", &data).await
        }
        "organization_show" | "group_show" => {
            show_group(ckan, viewer, action == "organization_show", &data).await
        }
        "tag_list" => {
            let tags = ckan
                .store
                .catalog_tags(
                    optional_string(&data, "query")
                        .or_else(|| optional_string(&data, "q"))
                        .as_deref(),
                )
                .await?;
            if input::boolean(data.get("all_fields")) {
                Ok(json!(tags
                    .iter()
                    .map(|t| render::tag_dict(t))
                    .collect::<Vec<_>>()))
            } else {
                Ok(json!(tags))
            }
        }
        "license_list" => Ok(json!(dothi_catalog::licence::all()
            .iter()
            .map(|l| l.to_json())
            .collect::<Vec<_>>())),
        "user_show" => user_show(ckan, viewer, &data).await,
        "organization_create" | "group_create" => {
            let organization = action == "organization_create";
            may_manage_groups(viewer, action, None)?;
            let input = group_input::group(&data, organization)?;
            let id = if organization {
                ckan.store
                    .catalog_create_organization(viewer, input)
                    .await?
                    .id
            } else {
                ckan.store.catalog_add_group(viewer, input).await?.id
            };
            show_group(ckan, viewer, organization, &id_only(id)).await
        }
        "organization_update" | "organization_patch" | "group_update" | "group_patch" => {
            let organization = action.starts_with("organization");
            let id = required(&data, "id")?;
            may_manage_groups(viewer, action, Some(&id))?;
            let data = if action.ends_with("_patch") {
                let Value::Object(current) =
                    show_group(ckan, viewer, organization, &id_only(id.clone())).await?
                else {
                    return Err(CkanError::internal(
                        "an organization or group rendered as a non-object",
                    ));
                };
                input::merge_patch(current, &data)
            } else {
                data
            };
            let input = group_input::group(&data, organization)?;
            let id = if organization {
                ckan.store
                    .catalog_update_organization(viewer, &id, input)
                    .await?
                    .id
            } else {
                ckan.store
                    .catalog_update_group(viewer, &id, input)
                    .await?
                    .id
            };
            show_group(ckan, viewer, organization, &id_only(id)).await
        }
        "api_token_create" => crate::tokens::create(ckan, viewer, &data).await,
        "api_token_list" => crate::tokens::list(ckan, viewer, &data).await,
        "api_token_revoke" => crate::tokens::revoke(ckan, viewer, &data).await,
        _ => Err(CkanError::BadRequest(format!(
            "Action name not known: {action}"
        ))),
    }
}

fn id_only(id: String) -> Map<String, Value> {
    Map::from_iter([("id".to_string(), Value::String(id))])
}

/// Organizations and groups are written by sysadmins only; refused before the dictionary is
/// validated, with CKAN's messages (the store checks again).
fn may_manage_groups(viewer: &Viewer, action: &str, id: Option<&str>) -> Result<(), CkanError> {
    if access::may_manage_organizations(viewer) {
        return Ok(());
    }
    let message = if !viewer.is_signed_in() {
        format!("Action {action} requires an authenticated user")
    } else {
        let kind = action.split('_').next().unwrap_or("group");
        match id {
            None => format!("User {} not authorized to create {kind}s", viewer.name),
            Some(id) => format!("User {} not authorized to edit {kind} {id}", viewer.name),
        }
    };
    Err(CatalogError::NotAuthorized(message).into())
}

fn status_show(ckan: &Ckan) -> Value {
    json!({
        "ckan_version": crate::CKAN_VERSION,
        "dothi_version": env!("CARGO_PKG_VERSION"),
        "error_emails_to": null,
        "extensions": ["dothi", "fluent"],
        "locale_default": "vi",
        "site_description": ckan.config.site_description,
        "site_title": ckan.config.site_title,
        "site_url": ckan.config.base_url,
    })
}

fn package(ckan: &Ckan, dataset: &dothi_catalog::Dataset, dir: &Directory) -> Value {
    render::package_dict(dataset, &dir.render_context(&ckan.config.base_url))
}

async fn save_resource(
    ckan: &Ckan,
    viewer: &Viewer,
    target: ResourceTarget<'_>,
    data: Map<String, Value>,
    upload: Option<ReceivedFile>,
) -> ActionResult {
    let (resource_input, errors) = input::resource(&data);
    errors.into_result(())?;
    // The file reaches its final name (synced) before the transaction that references it.
    let stored = match upload {
        Some(file) => {
            let id = match &target {
                ResourceTarget::Existing { id } => id.to_string(),
                ResourceTarget::New { .. } => resource_input.id.clone(),
            };
            let stored = file
                .incoming
                .finish(&id)
                .await
                .map_err(crate::request::upload_error)?;
            Some((stored, file.filename))
        }
        None => None,
    };
    let new_key = stored.as_ref().map(|(s, _)| s.key.clone());
    match ckan
        .store
        .catalog_save_resource(viewer, target, resource_input, stored)
        .await
    {
        Ok(saved) => {
            if let Some(old) = &saved.replaced_file {
                ckan.files.remove(old).await;
            }
            let (position, resource) = saved
                .dataset
                .resources
                .iter()
                .enumerate()
                .find(|(_, r)| r.id == saved.resource_id)
                .ok_or_else(|| {
                    CkanError::internal(format!(
                        "saved resource {} is not in dataset {}",
                        saved.resource_id, saved.dataset.id
                    ))
                })?;
            Ok(render::resource_dict(
                resource,
                position,
                &saved.dataset.id,
                &ckan.config.base_url,
            ))
        }
        Err(e) => {
            if let Some(key) = new_key {
                ckan.files.remove(&key).await;
            }
            Err(e.into())
        }
    }
}

async fn package_search(ckan: &Ckan, viewer: &Viewer, data: &Map<String, Value>) -> ActionResult {
    let query = search::parse(data)?;
    let page = ckan.store.catalog_search(viewer, &query).await?;
    let ctx = page.directory.render_context(&ckan.config.base_url);
    let results: Vec<Value> = page
        .datasets
        .iter()
        .map(|d| render::package_dict(d, &ctx))
        .collect();
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for (field, values) in &page.facets {
        let mut counts = Map::new();
        let mut items = vec![];
        for (value, count) in values {
            counts.insert(value.clone(), json!(count));
            let display = match field.as_str() {
                "organization" => page
                    .directory
                    .organization(value)
                    .map(|o| o.title.vi.clone()),
                "groups" => page.directory.group(value).map(|g| g.title.vi.clone()),
                "license_id" => dothi_catalog::licence::find(value).map(|l| l.title_vi.clone()),
                _ => None,
            }
            .unwrap_or_else(|| value.clone());
            items.push(json!({"count": count, "display_name": display, "name": value}));
        }
        facets.insert(field.clone(), Value::Object(counts));
        search_facets.insert(field.clone(), json!({"items": items, "title": field}));
    }
    // Built by hand: `json!` would copy the results value by value.
    let mut result = Map::new();
    result.insert("count".into(), json!(page.count));
    result.insert("facets".into(), Value::Object(facets));
    result.insert("results".into(), Value::Array(results));
    result.insert("search_facets".into(), Value::Object(search_facets));
    result.insert("sort".into(), Value::String(query.sort_text));
    Ok(Value::Object(result))
}

/// `sort` of organization_list/group_list: name, title or package_count, asc or desc.
fn group_sort(data: &Map<String, Value>) -> Result<(String, bool), CkanError> {
    let text = optional_string(data, "sort").unwrap_or_else(|| "title asc".into());
    let mut words = text.split_whitespace();
    let field = words.next().unwrap_or("title").to_string();
    let desc = match words.next() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(CkanError::validation("sort", "Invalid sort direction")),
    };
    if !["name", "title", "package_count"].contains(&field.as_str()) {
        return Err(CkanError::validation(
            "sort",
            "Cannot sort by field `{}`".replace("{}", &field).as_str(),
        ));
    }
    Ok((field, desc))
}

async fn list_groups(ckan: &Ckan, organizations: bool, data: &Map<String, Value>) -> ActionResult {
    let dir = ckan.store.catalog_directory().await?;
    let counts = ckan.store.catalog_package_counts().await?;
    let (field, desc) = group_sort(data)?;
    let limit = natural(data, "limit")?;
    let offset = natural(data, "offset")?.unwrap_or(0) as usize;
    let only: Option<Vec<String>> = match data.get(if organizations {
        "organizations"
    } else {
        "groups"
    }) {
        Some(Value::Array(list)) => Some(
            list.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
        ),
        Some(Value::String(s)) if !s.is_empty() => {
            Some(s.split(',').map(|x| x.trim().to_string()).collect())
        }
        _ => None,
    };
    // (name, folded title, count, dictionary)
    let mut rows: Vec<(String, String, i64, Value)> = if organizations {
        dir.organizations
            .values()
            .filter(|o| o.state == dothi_catalog::State::Active)
            .map(|o| {
                let n = counts.get(&o.id).copied().unwrap_or(0);
                (
                    o.name.clone(),
                    dothi_domain::text::fold(&o.title.vi),
                    n,
                    render::organization_dict(o, n),
                )
            })
            .collect()
    } else {
        dir.groups
            .values()
            .filter(|g| g.state == dothi_catalog::State::Active)
            .map(|g| {
                let n = counts.get(&g.id).copied().unwrap_or(0);
                (
                    g.name.clone(),
                    dothi_domain::text::fold(&g.title.vi),
                    n,
                    render::group_dict(g, n),
                )
            })
            .collect()
    };
    if let Some(only) = &only {
        rows.retain(|r| only.contains(&r.0));
    }
    rows.sort_by(|a, b| {
        let ord = match field.as_str() {
            "name" => a.0.cmp(&b.0),
            "package_count" => a.2.cmp(&b.2),
            _ => a.1.cmp(&b.1),
        }
        .then_with(|| a.0.cmp(&b.0));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    let page = rows
        .into_iter()
        .skip(offset)
        .take(limit.map(|l| l as usize).unwrap_or(usize::MAX));
    if input::boolean(data.get("all_fields")) {
        Ok(json!(page.map(|r| r.3).collect::<Vec<_>>()))
    } else {
        Ok(json!(page.map(|r| r.0).collect::<Vec<_>>()))
    }
}

async fn show_group(
    ckan: &Ckan,
    viewer: &Viewer,
    organization: bool,
    data: &Map<String, Value>,
) -> ActionResult {
    let id = required(data, "id")?;
    let dir = ckan.store.catalog_directory().await?;
    let counts = ckan.store.catalog_package_counts().await?;
    let (mut dict, fq) = if organization {
        let o = dir.organization(&id).ok_or_else(CatalogError::not_found)?;
        let n = counts.get(&o.id).copied().unwrap_or(0);
        (
            render::organization_dict(o, n),
            format!("organization:\"{}\"", o.name),
        )
    } else {
        let g = dir.group(&id).ok_or_else(CatalogError::not_found)?;
        let n = counts.get(&g.id).copied().unwrap_or(0);
        (render::group_dict(g, n), format!("groups:\"{}\"", g.name))
    };
    dict["extras"] = json!([]);
    dict["groups"] = json!([]);
    dict["tags"] = json!([]);
    dict["users"] = json!([]);
    if input::boolean(data.get("include_datasets")) {
        let mut params = Map::new();
        params.insert("fq".into(), json!(fq));
        params.insert("rows".into(), json!(1000));
        params.insert("include_private".into(), json!(true));
        let query = search::parse(&params)?;
        let page = ckan.store.catalog_search(viewer, &query).await?;
        let ctx = page.directory.render_context(&ckan.config.base_url);
        dict["packages"] = json!(page
            .datasets
            .iter()
            .map(|d| render::package_dict(d, &ctx))
            .collect::<Vec<_>>());
    }
    Ok(dict)
}

async fn user_show(ckan: &Ckan, viewer: &Viewer, data: &Map<String, Value>) -> ActionResult {
    let id = match optional_string(data, "id") {
        Some(id) => id,
        None => match viewer.user_id {
            Some(own) => own.to_string(),
            None => return Err(CatalogError::not_found().into()),
        },
    };
    let found = ckan
        .store
        .catalog_user(&id)
        .await?
        .ok_or_else(CatalogError::not_found)?;
    let user = &found.user;
    let own = viewer.user_id == Some(user.id);
    // Citizens are members of the public, not publishers: their accounts stay private.
    let public_profile = user.role != dothi_domain::Role::Citizen && user.active;
    if !(own || viewer.is_sysadmin() || public_profile) {
        return Err(CatalogError::not_found().into());
    }
    let mut dict = json!({
        "about": null,
        "activity_streams_email_notifications": false,
        "created": dothi_catalog::timestamp(found.created),
        "display_name": user.display_name,
        "fullname": user.display_name,
        "id": user.id.to_string(),
        "image_display_url": null,
        "image_url": null,
        "name": user.username,
        "state": if user.active { "active" } else { "deleted" },
        "sysadmin": user.role == dothi_domain::Role::Admin,
    });
    if own || viewer.is_sysadmin() {
        dict["email"] = json!(user.email);
    }
    Ok(dict)
}

/// What a connection account asks to read.
enum Shared<'a> {
    Dataset(&'a str),
    Resource(&'a str),
}

/// A read refused to the platform's own viewer may still be a connection account's read of a
/// shared dataset (`package_show`, `resource_show`): the sharing controls decide and log it.
/// Anything else keeps the refusal it had.
async fn shared_read(
    ckan: &Ckan,
    target: Shared<'_>,
    sharing: Option<&SharingCaller>,
    refusal: String,
) -> Result<
    (
        dothi_catalog::model::Dataset,
        dothi_store::catalog::Directory,
    ),
    CkanError,
> {
    let refused = || CkanError::from(CatalogError::NotAuthorized(refusal.clone()));
    let Some(caller) = sharing else {
        return Err(refused());
    };
    let system = Viewer::system();
    let (dataset, dir, resource) = match target {
        Shared::Dataset(id) => {
            let (dataset, dir) = ckan.store.catalog_dataset(&system, id).await?;
            (dataset, dir, None)
        }
        Shared::Resource(id) => {
            let (dataset, dir) = ckan.store.catalog_dataset_of_resource(&system, id).await?;
            (dataset, dir, Some(id))
        }
    };
    if !crate::sharing::is_shared(&dataset) || dataset.state != dothi_catalog::model::State::Active
    {
        return Err(refused());
    }
    crate::sharing::authorize(
        ckan,
        caller,
        &dataset,
        resource,
        dothi_sharing::Operation::Read,
        None,
    )
    .await?;
    Ok((dataset, dir))
}
