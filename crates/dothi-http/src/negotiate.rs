//! Proactive content negotiation on `Accept` (RFC 9110 §12.5.1) for endpoints that offer a
//! fixed list of media types. Written here because no maintained crate in the dependency tree
//! does q-value negotiation (the `mime` crate parses types, not preferences); the NGSI-LD API
//! keeps its own variant, which also answers NGSI-LD's 406 problem.

use axum::http::{header, HeaderMap};

/// Which of `offers` (media types, most preferred by the server first) the client prefers.
/// Each offer takes the quality of the most specific range that matches it (exact type, then
/// `type/*`, then `*/*`), so `q=0` on the exact type refuses it even if a wildcard allows it;
/// ties go to the earlier offer. Without an `Accept` header (or with one that is not text),
/// the first offer. None when the client accepts none of them.
pub fn preferred<'a>(headers: &HeaderMap, offers: &[&'a str]) -> Option<&'a str> {
    let Some(text) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return offers.first().copied();
    };
    let ranges: Vec<(String, f32)> = text
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(1.0);
            (!range.is_empty()).then_some((range, quality))
        })
        .collect();
    let mut best: Option<(f32, &str)> = None;
    for &offer in offers {
        let kind = offer.split('/').next().unwrap_or("");
        let quality = ranges
            .iter()
            .filter_map(|(range, q)| {
                let specificity = if range == offer {
                    2
                } else if range.strip_suffix("/*") == Some(kind) {
                    1
                } else if range == "*/*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map(|(_, q)| q);
        if let Some(q) = quality.filter(|q| *q > 0.0) {
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, offer));
            }
        }
    }
    best.map(|(_, offer)| offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: Option<&str>) -> Option<&'static str> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, a.parse().unwrap());
        }
        preferred(
            &headers,
            &["text/html", "text/turtle", "application/ld+json"],
        )
    }

    #[test]
    fn browsers_get_the_page_and_rdf_clients_their_format() {
        assert_eq!(pick(None), Some("text/html"));
        assert_eq!(pick(Some("*/*")), Some("text/html"));
        // Chromium's Accept for a page.
        assert_eq!(
            pick(Some(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            )),
            Some("text/html")
        );
        assert_eq!(pick(Some("text/turtle")), Some("text/turtle"));
        assert_eq!(
            pick(Some("application/ld+json, text/turtle;q=0.5")),
            Some("application/ld+json")
        );
        // rdflib / ckanext-dcat style lists with weights.
        assert_eq!(
            pick(Some(
                "text/turtle;q=0.9, application/ld+json;q=0.8, */*;q=0.1"
            )),
            Some("text/turtle")
        );
        assert_eq!(
            pick(Some("text/*;q=0.5, application/ld+json")),
            Some("application/ld+json")
        );
        // q=0 on the exact type refuses it even though */* allows the rest.
        assert_eq!(pick(Some("text/html;q=0, */*")), Some("text/turtle"));
        assert_eq!(pick(Some("image/png")), None);
    }
}
