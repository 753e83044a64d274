//! What the catalogue stores. A dataset is one document (its resources inside it), so that a
//! write is one row and a read needs no join; organizations and groups are referenced by id
//! and rendered from their own records, so renaming one never leaves stale copies behind.

use serde::{Deserialize, Serialize};

/// A text in Vietnamese and English. Vietnamese is the text of record: `title`/`notes` in the
/// CKAN dictionaries are the Vietnamese text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translated {
    #[serde(default)]
    pub vi: String,
    #[serde(default)]
    pub en: String,
}

impl Translated {
    pub fn vi(text: impl Into<String>) -> Self {
        Translated {
            vi: text.into(),
            en: String::new(),
        }
    }

    pub fn new(vi: impl Into<String>, en: impl Into<String>) -> Self {
        Translated {
            vi: vi.into(),
            en: en.into(),
        }
    }

    /// The ckanext-fluent shape: `{"en": …, "vi": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"en": self.en, "vi": self.vi})
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Active,
    Deleted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Deleted => "deleted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    pub key: String,
    pub value: String,
}

/// A file the catalogue holds for an uploaded resource. Never rendered: clients see CKAN's
/// download URL instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Path under the data directory's `resources/` folder.
    pub key: String,
    /// The file name of the download URL (already made URL-safe).
    pub filename: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: Translated,
    pub description: Translated,
    /// For links, the URL; for uploads, the file name (the URL is rebuilt when rendered, as
    /// CKAN does, so it follows the site's address).
    pub url: String,
    /// `Some("upload")` for files held by the catalogue.
    pub url_type: Option<String>,
    pub format: String,
    pub mimetype: Option<String>,
    pub size: Option<i64>,
    pub hash: String,
    pub resource_type: Option<String>,
    pub created: i64,
    pub last_modified: Option<i64>,
    pub metadata_modified: i64,
    pub file: Option<StoredFile>,
}

impl Resource {
    pub fn is_upload(&self) -> bool {
        self.url_type.as_deref() == Some("upload")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub title: Translated,
    pub notes: Translated,
    /// The owning organization's id.
    pub owner_org: String,
    pub private: bool,
    pub state: State,
    pub license_id: Option<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub maintainer: Option<String>,
    pub maintainer_email: Option<String>,
    pub url: Option<String>,
    pub version: Option<String>,
    pub tags: Vec<String>,
    /// Ids of the groups the dataset belongs to.
    pub groups: Vec<String>,
    pub extras: Vec<Extra>,
    pub resources: Vec<Resource>,
    /// The platform user id (as text) of whoever created it.
    pub creator_user_id: Option<String>,
    pub metadata_created: i64,
    pub metadata_modified: i64,
}

impl Dataset {
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// The words free-text search finds the dataset by, diacritics-folded, each with whether
    /// it occurs in the title and in the description: names, titles and descriptions in both
    /// languages, the organization's title, tags, resource names, descriptions and formats,
    /// and extras' values.
    pub fn search_words(&self, organization_title: &str) -> Vec<SearchWord> {
        let mut found: std::collections::BTreeMap<String, SearchWord> = Default::default();
        let mut add = |text: &str, in_title: bool, in_notes: bool| {
            for w in crate::search::words(text) {
                let entry = found.entry(w.clone()).or_insert(SearchWord {
                    word: w,
                    in_title: false,
                    in_notes: false,
                });
                entry.in_title |= in_title;
                entry.in_notes |= in_notes;
            }
        };
        add(&self.name, false, false);
        add(&self.title.vi, true, false);
        add(&self.title.en, true, false);
        add(&self.notes.vi, false, true);
        add(&self.notes.en, false, true);
        add(organization_title, false, false);
        for t in &self.tags {
            add(t, false, false);
        }
        for r in &self.resources {
            add(&r.name.vi, false, false);
            add(&r.name.en, false, false);
            add(&r.description.vi, false, false);
            add(&r.description.en, false, false);
            add(&r.format, false, false);
        }
        for e in &self.extras {
            add(&e.value, false, false);
        }
        found.into_values().collect()
    }

    /// The facet terms of the dataset: `(field, value)` pairs that `fq` filters and facets
    /// count. Organization and group values are their names, given by the caller.
    pub fn facet_terms(&self, organization: &str, groups: &[String]) -> Vec<(String, String)> {
        let mut terms = vec![("organization".to_string(), organization.to_string())];
        if let Some(l) = &self.license_id {
            terms.push(("license_id".into(), l.clone()));
        }
        for t in &self.tags {
            terms.push(("tags".into(), t.clone()));
        }
        for g in groups {
            terms.push(("groups".into(), g.clone()));
        }
        for r in &self.resources {
            if !r.format.is_empty() {
                terms.push(("res_format".into(), r.format.clone()));
            }
        }
        terms.sort();
        terms.dedup();
        terms
    }
}

/// A word of a dataset's text, for the search index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchWord {
    pub word: String,
    pub in_title: bool,
    pub in_notes: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub title: Translated,
    pub description: Translated,
    pub image_url: String,
    /// The agency of the reference data this organization stands for.
    pub agency_id: Option<i64>,
    pub state: State,
    pub created: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub title: Translated,
    pub description: Translated,
    pub image_url: String,
    pub state: State,
    pub created: i64,
}
