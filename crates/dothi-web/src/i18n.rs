//! The language of a page and the few texts the server itself writes (page titles, the
//! no-JavaScript notice). They come from the same translation files as the front end
//! (`web/src/locales/*.json`), so each text is translated once.
//!
//! The files are flat JSON objects of key → text; a lookup falls back to Vietnamese, then to
//! the key. Written by hand: the front end needs the same plain files, and the server needs
//! only a dozen lookups, which a full Fluent/gettext stack would not make any clearer.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap};

use dothi_http::session::{cookie_value, LANG_COOKIE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The `dothi_lang` cookie (set by the language switch), else the first of `vi`/`en` in
    /// `Accept-Language`, else Vietnamese.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        if let Some(c) = cookie_value(headers, LANG_COOKIE) {
            match c.as_str() {
                "en" => return Lang::En,
                "vi" => return Lang::Vi,
                _ => {}
            }
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for tag in accept.split(',') {
            let tag = tag
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("vi") {
                return Lang::Vi;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Vi
    }
}

type Texts = HashMap<String, String>;

fn table(lang: Lang) -> &'static Texts {
    static VI: OnceLock<Texts> = OnceLock::new();
    static EN: OnceLock<Texts> = OnceLock::new();
    let (cell, src) = match lang {
        Lang::Vi => (&VI, include_str!("../../../web/src/locales/vi/common.json")),
        Lang::En => (&EN, include_str!("../../../web/src/locales/en/common.json")),
    };
    cell.get_or_init(|| serde_json::from_str(src).expect("translation file is a flat JSON object"))
}

/// The text of `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    table(lang)
        .get(key)
        .or_else(|| table(Lang::Vi).get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let vi: std::collections::BTreeSet<_> = table(Lang::Vi).keys().collect();
        let en: std::collections::BTreeSet<_> = table(Lang::En).keys().collect();
        let only_vi: Vec<_> = vi.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&vi).collect();
        assert!(
            only_vi.is_empty() && only_en.is_empty(),
            "missing in en: {only_vi:?}; missing in vi: {only_en:?}"
        );
    }

    #[test]
    fn negotiation_prefers_the_cookie_then_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::negotiate(&h), Lang::Vi);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "en-US,en;q=0.9,vi;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::negotiate(&h), Lang::En);
        h.insert(header::COOKIE, "dothi_lang=vi".parse().unwrap());
        assert_eq!(Lang::negotiate(&h), Lang::Vi);
        assert_eq!(t(Lang::En, "app.name"), "dothi — Huế smart city");
        assert_eq!(t(Lang::Vi, "no.such.key"), "no.such.key");
    }
}
