//! CKAN's dataset and resource dictionaries in, validated; with CKAN's messages so that
//! clients written for CKAN (and people used to it) recognise every refusal.
//!
//! Values may come from JSON or from a multipart form (where everything is a string), so
//! booleans and numbers are read the way CKAN's validators read them.

use serde_json::{Map, Value};

pub mod group;

use crate::error::{CatalogError, FieldErrors};
use crate::licence;
use crate::model::{Dataset, Extra, Resource, State, StoredFile, Translated};

pub const NAME_MIN: usize = 2;
pub const NAME_MAX: usize = 100;
pub const TAG_MIN: usize = 2;
pub const TAG_MAX: usize = 100;

/// Core fields of a dataset: an extra may not take one of these names.
const CORE_FIELDS: &[&str] = &[
    "id",
    "name",
    "title",
    "notes",
    "owner_org",
    "private",
    "state",
    "license_id",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "url",
    "version",
    "tags",
    "groups",
    "extras",
    "resources",
    "type",
    "title_translated",
    "notes_translated",
];

/// A dataset as a request gives it (`package_create`, `package_update`): the model's
/// [`Dataset`] holding the request's fields, with what only the store knows left for
/// [`build_dataset`] to fill (`owner_org`, `groups`, `state`, `creator_user_id`, the times;
/// `id` is empty when the request gave none), and what the request named by reference or
/// left out.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageInput {
    pub dataset: Dataset,
    /// The organization's id or name, as given; the store resolves it.
    pub owner_org: Option<String>,
    /// Group ids or names, as given; `None` when the request did not mention them.
    pub groups: Option<Vec<String>>,
    pub state: Option<State>,
    /// The lists the request gave: an update keeps the others as the dataset had them, as
    /// CKAN does for tags, groups, extras and resources.
    pub given: GivenLists,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GivenLists {
    pub tags: bool,
    pub extras: bool,
    pub resources: bool,
}

/// A string field: strings as they are, numbers and booleans as text, null and "" as absent.
fn text(map: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(_) => {
            errors.add(key, "Must be a string");
            None
        }
    }
}

/// CKAN's `boolean_validator`: true, yes, t, y, 1 (any case) are true; anything else false.
pub fn boolean(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "yes" | "t" | "y" | "1"
            )
        }
        _ => false,
    }
}

/// A fluent field (`title_translated`): an object `{"vi": …, "en": …}`, or that object as a
/// JSON string (multipart forms).
fn translated(map: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<Translated> {
    let value = match map.get(key) {
        None | Some(Value::Null) => return None,
        Some(Value::String(s)) if s.is_empty() => return None,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v) => v,
            Err(_) => {
                errors.add(
                    key,
                    "Expected a dictionary of languages, e.g. {\"vi\": …, \"en\": …}",
                );
                return None;
            }
        },
        Some(v) => v.clone(),
    };
    let Value::Object(langs) = value else {
        errors.add(
            key,
            "Expected a dictionary of languages, e.g. {\"vi\": …, \"en\": …}",
        );
        return None;
    };
    let mut out = Translated::default();
    for (lang, text) in langs {
        let Value::String(text) = text else {
            errors.add(key, format!("The {lang} text must be a string"));
            continue;
        };
        match lang.as_str() {
            "vi" => out.vi = text,
            "en" => out.en = text,
            other => errors.add(
                key,
                format!("Unsupported language \"{other}\": use vi or en"),
            ),
        }
    }
    Some(out)
}

/// The Vietnamese text lives twice (`title` and `title_translated.vi`); the fluent field
/// wins when both are given, and either alone fills the other.
fn bilingual(
    map: &Map<String, Value>,
    plain: &str,
    fluent: &str,
    errors: &mut FieldErrors,
) -> Translated {
    let vi = text(map, plain, errors);
    match translated(map, fluent, errors) {
        Some(mut t) => {
            if t.vi.is_empty() {
                t.vi = vi.unwrap_or_default();
            }
            t
        }
        None => Translated::vi(vi.unwrap_or_default()),
    }
}

/// CKAN's `name_validator` (the URL name of datasets, organizations and groups).
pub fn check_name(name: &str, field: &str, errors: &mut FieldErrors) {
    if ["new", "edit", "search"].contains(&name) {
        errors.add(field, "That name cannot be used");
    } else if name.chars().count() < NAME_MIN {
        errors.add(
            field,
            format!("Must be at least {NAME_MIN} characters long"),
        );
    } else if name.chars().count() > NAME_MAX {
        errors.add(
            field,
            format!("Name must be a maximum of {NAME_MAX} characters long"),
        );
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        errors.add(
            field,
            "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_",
        );
    }
}

/// CKAN's tag rules: 2-100 characters, letters, digits, spaces and `-_.`.
fn check_tag(tag: &str, errors: &mut FieldErrors) {
    let n = tag.chars().count();
    if n < TAG_MIN {
        errors.add(
            "name",
            format!("Tag \"{tag}\" length is less than minimum {TAG_MIN}"),
        );
    }
    if n > TAG_MAX {
        errors.add(
            "name",
            format!("Tag \"{tag}\" length is more than maximum {TAG_MAX}"),
        );
    }
    if !tag
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_' || c == '.')
    {
        errors.add(
            "name",
            format!("Tag \"{tag}\" must be alphanumeric characters or symbols: -_."),
        );
    }
}

fn check_email(field: &str, value: &Option<String>, errors: &mut FieldErrors) {
    if let Some(v) = value {
        let ok = v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !v.contains(char::is_whitespace)
        });
        if !ok {
            errors.add(field, format!("Email {v} is not a valid format"));
        }
    }
}

/// Ids given by clients end up in URLs and file names: 1-100 ASCII letters, digits, `-`, `_`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An absolute http(s) URL without spaces.
pub fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// CKAN's `clean_format`: known formats in their canonical spelling, others as given.
pub fn clean_format(format: &str) -> String {
    let f = format.trim().trim_start_matches('.');
    let canonical = match f.to_ascii_lowercase().as_str() {
        "csv" | "text/csv" => "CSV",
        "json" | "application/json" => "JSON",
        "geojson" | "application/geo+json" => "GeoJSON",
        "jsonld" | "json-ld" | "application/ld+json" => "JSON-LD",
        "xlsx" => "XLSX",
        "xls" => "XLS",
        "xml" | "application/xml" | "text/xml" => "XML",
        "pdf" | "application/pdf" => "PDF",
        "zip" | "application/zip" => "ZIP",
        "txt" | "text/plain" => "TXT",
        "html" | "text/html" => "HTML",
        "ttl" | "turtle" | "text/turtle" => "TTL",
        "rdf" => "RDF",
        "kml" => "KML",
        "shp" => "SHP",
        "ods" => "ODS",
        "docx" => "DOCX",
        "parquet" => "Parquet",
        "api" => "API",
        _ => return f.to_string(),
    };
    canonical.to_string()
}

/// CKAN's `if_empty_guess_format`: the format from the URL's extension when none is given.
pub fn guess_format(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() && ext.len() <= 8 => {
            let cleaned = clean_format(ext);
            if cleaned.chars().any(|c| c.is_ascii_uppercase()) {
                cleaned
            } else {
                String::new()
            }
        }
        _ => String::new(),
    }
}

/// The MIME type of the common formats (CKAN guesses it from the file name).
pub fn mimetype_for(filename: &str) -> Option<String> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    let m = match ext.as_str() {
        "csv" => "text/csv",
        "json" => "application/json",
        "geojson" => "application/geo+json",
        "jsonld" => "application/ld+json",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "ttl" => "text/turtle",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => return None,
    };
    Some(m.to_string())
}

/// CKAN's `munge_filename`: the last path segment, with only URL-safe characters left.
pub fn munge_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let folded = dothi_domain::text::fold(last).replace(' ', "-");
    let mut out: String = folded
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    out = out.trim_start_matches('.').to_string();
    if out.chars().count() > 100 {
        out = out
            .chars()
            .rev()
            .take(100)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
    }
    if out.is_empty() {
        "file".into()
    } else {
        out
    }
}

/// A resource dictionary, as the model's [`Resource`] with its bookkeeping (`created`,
/// `last_modified`, `metadata_modified`, `file`) left for [`build_resource`]; `id` is empty
/// when the request gave none.
pub fn resource(map: &Map<String, Value>) -> (Resource, FieldErrors) {
    let mut errors = FieldErrors::new();
    let id = text(map, "id", &mut errors);
    if id.as_deref().is_some_and(|id| !is_valid_id(id)) {
        errors.add("id", "Invalid id: use 1-100 letters, digits, - or _");
    }
    let url = text(map, "url", &mut errors)
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let url_type = text(map, "url_type", &mut errors);
    if let Some(t) = &url_type {
        if t != "upload" {
            errors.add(
                "url_type",
                "Only \"upload\" or an empty value are supported",
            );
        }
    }
    if url_type.is_none() && !url.is_empty() && !is_web_url(&url) {
        errors.add("url", "Please provide a valid URL");
    }
    let format = match text(map, "format", &mut errors) {
        Some(f) => clean_format(&f),
        None => guess_format(&url),
    };
    if format.chars().count() > 100 {
        errors.add("format", "Must be at most 100 characters long");
    }
    let size = match map.get("size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add("size", "Invalid integer");
                None
            }
        },
        Some(_) => {
            errors.add("size", "Invalid integer");
            None
        }
    };
    if size.is_some_and(|s| s < 0) {
        errors.add("size", "Must be a natural number");
    }
    let draft = Resource {
        id: id.unwrap_or_default(),
        name: bilingual(map, "name", "name_translated", &mut errors),
        description: bilingual(map, "description", "description_translated", &mut errors),
        url,
        url_type,
        format,
        mimetype: text(map, "mimetype", &mut errors),
        size,
        hash: text(map, "hash", &mut errors).unwrap_or_default(),
        resource_type: text(map, "resource_type", &mut errors),
        created: 0,
        last_modified: None,
        metadata_modified: 0,
        file: None,
    };
    (draft, errors)
}

fn list_of_objects<'a>(
    value: &'a Value,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<Vec<&'a Map<String, Value>>> {
    let Value::Array(items) = value else {
        errors.add(field, "Not a list");
        return None;
    };
    let mut out = vec![];
    for item in items {
        match item {
            Value::Object(m) => out.push(m),
            _ => {
                errors.add(field, "Not a dictionary");
                return None;
            }
        }
    }
    Some(out)
}

/// The `id` (optional) and `name` (required, CKAN's name rules) of a dataset, organization
/// or group dictionary.
fn id_and_name(map: &Map<String, Value>, errors: &mut FieldErrors) -> (Option<String>, String) {
    let id = text(map, "id", errors);
    if id.as_deref().is_some_and(|id| !is_valid_id(id)) {
        errors.add("id", "Invalid id: use 1-100 letters, digits, - or _");
    }
    let name = text(map, "name", errors).unwrap_or_default();
    if name.is_empty() {
        errors.add("name", "Missing value");
    } else {
        check_name(&name, "name", errors);
    }
    (id, name)
}

/// A dataset dictionary (`package_create`, `package_update`).
pub fn package(map: &Map<String, Value>) -> Result<PackageInput, CatalogError> {
    let mut errors = FieldErrors::new();
    let (id, name) = id_and_name(map, &mut errors);
    let mut title = bilingual(map, "title", "title_translated", &mut errors);
    if title.vi.trim().is_empty() {
        title.vi = name.clone();
    }
    if title.vi.chars().count() > 1000 || title.en.chars().count() > 1000 {
        errors.add("title", "Must be at most 1000 characters long");
    }
    let notes = bilingual(map, "notes", "notes_translated", &mut errors);
    let license_id = text(map, "license_id", &mut errors);
    if let Some(l) = &license_id {
        if licence::find(l).is_none() {
            errors.add("license_id", "License not found");
        }
    }
    let author_email = text(map, "author_email", &mut errors);
    let maintainer_email = text(map, "maintainer_email", &mut errors);
    check_email("author_email", &author_email, &mut errors);
    check_email("maintainer_email", &maintainer_email, &mut errors);
    let url = text(map, "url", &mut errors);
    if let Some(u) = &url {
        if !is_web_url(u) {
            errors.add("url", "Please provide a valid URL");
        }
    }
    let state = match text(map, "state", &mut errors).as_deref() {
        None => None,
        Some("active") => Some(State::Active),
        Some("deleted") => Some(State::Deleted),
        Some(_) => {
            errors.add("state", "Must be active or deleted");
            None
        }
    };
    if let Some(t) = text(map, "type", &mut errors) {
        if t != "dataset" {
            errors.add("type", "Only the dataset type is supported");
        }
    }

    // Tags: a list of {"name": …}, or CKAN's comma-separated `tag_string`.
    let tags = match (map.get("tags"), map.get("tag_string")) {
        (Some(v), _) if !v.is_null() => list_of_objects(v, "tags", &mut errors).map(|items| {
            let mut item_errors = vec![];
            let mut names = vec![];
            for item in items {
                let mut e = FieldErrors::new();
                match text(item, "name", &mut e) {
                    Some(n) => {
                        let n = n.trim().to_string();
                        check_tag(&n, &mut e);
                        names.push(n);
                    }
                    None => e.add("name", "Missing value"),
                }
                item_errors.push(e);
            }
            errors.add_items("tags", item_errors);
            names
        }),
        (_, Some(Value::String(s))) => {
            let mut e = FieldErrors::new();
            let names: Vec<String> = s
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            for n in &names {
                check_tag(n, &mut e);
            }
            if let Some(Value::Array(list)) = e.0.remove("name") {
                for m in list {
                    if let Value::String(m) = m {
                        errors.add("tag_string", m);
                    }
                }
            }
            Some(names)
        }
        _ => None,
    }
    .map(|mut names| {
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    });

    let groups = match map.get("groups") {
        Some(v) if !v.is_null() => list_of_objects(v, "groups", &mut errors).map(|items| {
            let mut refs = vec![];
            let mut item_errors = vec![];
            for item in items {
                let mut e = FieldErrors::new();
                match text(item, "id", &mut e).or_else(|| text(item, "name", &mut e)) {
                    Some(r) => refs.push(r),
                    None => e.add("name", "Missing value"),
                }
                item_errors.push(e);
            }
            errors.add_items("groups", item_errors);
            refs
        }),
        _ => None,
    };

    let extras = match map.get("extras") {
        Some(v) if !v.is_null() => list_of_objects(v, "extras", &mut errors).map(|items| {
            let mut out: Vec<Extra> = vec![];
            let mut item_errors = vec![];
            for item in items {
                let mut e = FieldErrors::new();
                let key = text(item, "key", &mut e);
                let value = match item.get("value") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                match key {
                    None => e.add("key", "Missing value"),
                    Some(k) if CORE_FIELDS.contains(&k.as_str()) => {
                        e.add("key", "There is a schema field with the same name")
                    }
                    Some(k) if out.iter().any(|x| x.key == k) => {
                        e.add("key", format!("Duplicate key \"{k}\""))
                    }
                    Some(k) => out.push(Extra { key: k, value }),
                }
                item_errors.push(e);
            }
            errors.add_items("extras", item_errors);
            out
        }),
        _ => None,
    };

    let resources = match map.get("resources") {
        Some(v) if !v.is_null() => list_of_objects(v, "resources", &mut errors).map(|items| {
            let mut out = vec![];
            let mut item_errors = vec![];
            for item in items {
                let (r, e) = resource(item);
                out.push(r);
                item_errors.push(e);
            }
            errors.add_items("resources", item_errors);
            out
        }),
        _ => None,
    };

    let owner_org = text(map, "owner_org", &mut errors);
    let given = GivenLists {
        tags: tags.is_some(),
        extras: extras.is_some(),
        resources: resources.is_some(),
    };
    let dataset = Dataset {
        id: id.unwrap_or_default(),
        name,
        title,
        notes,
        owner_org: String::new(),
        private: boolean(map.get("private")),
        state: State::Active,
        license_id,
        author: text(map, "author", &mut errors),
        author_email,
        maintainer: text(map, "maintainer", &mut errors),
        maintainer_email,
        url,
        version: text(map, "version", &mut errors),
        tags: tags.unwrap_or_default(),
        groups: vec![],
        extras: extras.unwrap_or_default(),
        resources: resources.unwrap_or_default(),
        creator_user_id: None,
        metadata_created: 0,
        metadata_modified: 0,
    };
    errors.into_result(PackageInput {
        dataset,
        owner_org,
        groups,
        state,
        given,
    })
}

/// `package_patch`/`resource_patch`: the current dictionary with the given keys replaced.
/// A patch of `title` alone also replaces `title_translated.vi` (and `notes` likewise), so
/// the two copies of the Vietnamese text never disagree.
pub fn merge_patch(
    mut current: Map<String, Value>,
    patch: &Map<String, Value>,
) -> Map<String, Value> {
    for (plain, fluent) in [
        ("title", "title_translated"),
        ("notes", "notes_translated"),
        ("name", "name_translated"),
        ("description", "description_translated"),
    ] {
        if patch.contains_key(plain) && !patch.contains_key(fluent) {
            if let Some(Value::Object(t)) = current.get_mut(fluent) {
                t.insert("vi".into(), patch[plain].clone());
            }
        }
    }
    for (k, v) in patch {
        current.insert(k.clone(), v.clone());
    }
    current
}

/// The new state of a resource: the request's `draft` over the existing one (matched by id).
pub fn build_resource(draft: Resource, existing: Option<&Resource>, now: i64) -> Resource {
    let mut r = draft;
    if r.id.is_empty() {
        r.id = existing.map(|e| e.id.clone()).unwrap_or_else(crate::new_id);
    }
    // An upload keeps its file while it stays an upload; the URL given back for it is the
    // download URL, whose last segment is the file name.
    r.file = if r.is_upload() {
        existing.and_then(|e| e.file.clone())
    } else {
        None
    };
    if r.is_upload() {
        r.url = match &r.file {
            Some(f) => f.filename.clone(),
            None => munge_filename(&r.url),
        };
        r.size = existing.and_then(|e| e.size).or(r.size);
        if r.file.is_some() {
            r.hash = existing.map(|e| e.hash.clone()).unwrap_or_default();
        }
    }
    r.mimetype = r
        .mimetype
        .or_else(|| existing.and_then(|e| e.mimetype.clone()));
    r.created = existing.map(|e| e.created).unwrap_or(now);
    r.last_modified = existing.and_then(|e| e.last_modified);
    r.metadata_modified = now;
    r
}

/// A file just stored for a resource: the resource becomes an upload of that file.
pub fn attach_file(resource: &mut Resource, file: StoredFile, size: i64, sha256: String, now: i64) {
    resource.url = file.filename.clone();
    resource.url_type = Some("upload".into());
    if resource.format.is_empty() {
        resource.format = guess_format(&file.filename);
    }
    resource.mimetype = mimetype_for(&file.filename).or(resource.mimetype.take());
    resource.size = Some(size);
    resource.hash = sha256;
    resource.last_modified = Some(now);
    resource.metadata_modified = now;
    resource.file = Some(file);
}

/// What the store resolved for a dataset write.
pub struct Resolved {
    pub owner_org: String,
    pub groups: Vec<String>,
    pub creator_user_id: Option<String>,
    pub now: i64,
}

/// The dataset after a create (`existing` = None) or an update. Lists the request did not
/// mention are kept from the existing dataset; scalar fields are replaced, as in CKAN.
pub fn build_dataset(
    input: PackageInput,
    existing: Option<&Dataset>,
    resolved: Resolved,
) -> Dataset {
    let now = resolved.now;
    let PackageInput {
        dataset: mut d,
        state,
        given,
        ..
    } = input;
    d.resources = if given.resources {
        d.resources
            .into_iter()
            .map(|r| {
                let before = existing.and_then(|e| e.resource(&r.id));
                build_resource(r, before, now)
            })
            .collect()
    } else {
        existing.map(|e| e.resources.clone()).unwrap_or_default()
    };
    if !given.tags {
        d.tags = existing.map(|e| e.tags.clone()).unwrap_or_default();
    }
    if !given.extras {
        d.extras = existing.map(|e| e.extras.clone()).unwrap_or_default();
    }
    match existing {
        Some(e) => {
            d.id = e.id.clone();
            // An update keeps the state unless it names one (so a dump loaded with
            // "state": "active" restores a deleted dataset, as in CKAN).
            d.state = state.unwrap_or(e.state);
            d.creator_user_id = e.creator_user_id.clone();
            d.metadata_created = e.metadata_created;
        }
        None => {
            if d.id.is_empty() {
                d.id = crate::new_id();
            }
            d.state = State::Active;
            d.creator_user_id = resolved.creator_user_id;
            d.metadata_created = now;
        }
    }
    d.owner_org = resolved.owner_org;
    d.groups = resolved.groups;
    d.metadata_modified = now;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_follow_ckan_rules() {
        let err = |name: &str| {
            let mut e = FieldErrors::new();
            check_name(name, "name", &mut e);
            e.0.get("name").cloned()
        };
        assert_eq!(err("chat-luong-khong-khi_2026"), None);
        assert_eq!(
            err("a"),
            Some(json!(["Must be at least 2 characters long"]))
        );
        assert_eq!(
            err(&"x".repeat(101)),
            Some(json!(["Name must be a maximum of 100 characters long"]))
        );
        assert_eq!(
            err("Chất lượng"),
            Some(json!([
                "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
            ]))
        );
        assert_eq!(err("new"), Some(json!(["That name cannot be used"])));
    }

    #[test]
    fn invalid_package_gets_ckan_shaped_errors_per_field_and_item() {
        let e = package(&obj(json!({
            "name": "",
            "license_id": "nope",
            "tags": [{"name": "môi trường"}, {"name": "x"}, {"name": "a/b"}],
            "resources": [{"url": "http://ok.vn/a.csv"}, {"url": "not a url"}],
            "extras": [{"key": "title", "value": "x"}]
        })))
        .unwrap_err();
        let CatalogError::Validation(e) = e else {
            panic!()
        };
        assert_eq!(
            Value::Object(e.0),
            json!({
                "name": ["Missing value"],
                "license_id": ["License not found"],
                "tags": [{}, {"name": ["Tag \"x\" length is less than minimum 2"]},
                         {"name": ["Tag \"a/b\" must be alphanumeric characters or symbols: -_."]}],
                "resources": [{}, {"url": ["Please provide a valid URL"]}],
                "extras": [{"key": ["There is a schema field with the same name"]}]
            })
        );
    }

    #[test]
    fn vietnamese_title_fills_the_fluent_field_and_back() {
        let p = package(&obj(json!({"name": "ds", "title": "Chất lượng nước"}))).unwrap();
        assert_eq!(p.dataset.title, Translated::new("Chất lượng nước", ""));
        let p = package(&obj(json!({
            "name": "ds",
            "title_translated": "{\"vi\": \"Nước\", \"en\": \"Water\"}"
        })))
        .unwrap();
        assert_eq!(p.dataset.title, Translated::new("Nước", "Water"));
        let p = package(&obj(json!({"name": "ds"}))).unwrap();
        assert_eq!(p.dataset.title.vi, "ds");
    }

    #[test]
    fn formats_are_canonical_and_guessed_from_the_url() {
        assert_eq!(clean_format("csv"), "CSV");
        assert_eq!(clean_format(".geojson"), "GeoJSON");
        assert_eq!(guess_format("https://x.vn/data/air.xlsx?v=2"), "XLSX");
        assert_eq!(guess_format("https://x.vn/api"), "");
        assert_eq!(
            munge_filename("C:\\tmp\\Báo cáo tháng 1.csv"),
            "bao-cao-thang-1.csv"
        );
    }

    #[test]
    fn patch_of_the_vietnamese_title_updates_the_fluent_copy() {
        let current = obj(json!({"title": "Cũ", "title_translated": {"vi": "Cũ", "en": "Old"}}));
        let merged = merge_patch(current, &obj(json!({"title": "Mới"})));
        assert_eq!(
            merged["title_translated"],
            json!({"vi": "Mới", "en": "Old"})
        );
    }
}
