//! The licence register: CKAN's default list, plus CC BY 4.0 and the two regimes of
//! Nghị định 47/2020 (open government data, and data shared on conditions). The titles are data
//! (`data/licences.json`); the site's language is Vietnamese, so `title` is the Vietnamese
//! title, as CKAN renders it with `ckan.locale_default = vi`.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone, Debug, Deserialize)]
pub struct Licence {
    pub id: String,
    /// English title.
    pub title: String,
    pub title_vi: String,
    pub url: String,
    pub domain_content: bool,
    pub domain_data: bool,
    pub domain_software: bool,
    pub od_conformance: String,
    pub osd_conformance: String,
    pub is_generic: bool,
}

impl Licence {
    /// CKAN's `isopen`: approved by the Open Definition or the Open Source Definition.
    pub fn is_open(&self) -> bool {
        self.od_conformance == "approved" || self.osd_conformance == "approved"
    }

    /// The `license_list` entry.
    pub fn to_json(&self) -> Value {
        json!({
            "domain_content": self.domain_content,
            "domain_data": self.domain_data,
            "domain_software": self.domain_software,
            "family": "",
            "id": self.id,
            "is_generic": self.is_generic,
            "maintainer": "",
            "od_conformance": self.od_conformance,
            "osd_conformance": self.osd_conformance,
            "status": "active",
            "title": self.title_vi,
            "title_translated": {"en": self.title, "vi": self.title_vi},
            "url": self.url,
        })
    }
}

pub fn all() -> &'static [Licence] {
    static LIST: OnceLock<Vec<Licence>> = OnceLock::new();
    LIST.get_or_init(|| {
        serde_json::from_str(include_str!("../data/licences.json"))
            .expect("data/licences.json is a list of licences")
    })
}

pub fn find(id: &str) -> Option<&'static Licence> {
    all().iter().find(|l| l.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn register_holds_ckan_defaults_and_the_vietnamese_regimes() {
        let ids: Vec<&str> = super::all().iter().map(|l| l.id.as_str()).collect();
        for id in [
            "notspecified",
            "cc-by",
            "odc-odbl",
            "other-closed",
            "vn-open-gov-data",
        ] {
            assert!(ids.contains(&id), "{id}");
        }
        assert!(super::find("cc-by-4.0").unwrap().is_open());
        assert!(!super::find("vn-shared-conditional").unwrap().is_open());
    }
}
