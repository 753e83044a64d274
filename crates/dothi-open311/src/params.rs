//! Request parameters: query strings, form bodies and multipart bodies, with the limits
//! this crate promises (form 1 MiB; multipart up to 5 photos of 10 MiB each).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;

/// Largest urlencoded body, and the budget for all text fields of a multipart body.
pub(crate) const FORM_LIMIT: usize = 1024 * 1024;
/// The GeoReport media extension allows several `media` parts; the store keeps five.
pub(crate) const MAX_MEDIA: usize = dothi_store::reports::MAX_PHOTOS;
pub(crate) const MEDIA_LIMIT: usize = dothi_media::Limits::DEFAULT_MAX_BYTES;
/// Parts beyond this are refused before being read, so a body of thousands of tiny parts
/// cannot keep a worker busy.
const MAX_PARTS: usize = 200;
/// The whole multipart stream: every photo at its limit, the text budget, and room for part
/// headers and boundaries.
pub(crate) const MULTIPART_LIMIT: usize = MAX_MEDIA * MEDIA_LIMIT + FORM_LIMIT + 256 * 1024;

/// Longest echo of client input in an error description.
const ECHO_MAX: usize = 80;

/// Client input quoted in an error message, shortened so errors stay readable.
pub(crate) fn echo(value: &str) -> String {
    if value.chars().count() > ECHO_MAX {
        format!("'{}…'", value.chars().take(ECHO_MAX).collect::<String>())
    } else {
        format!("'{value}'")
    }
}

/// Name/value pairs in arrival order; repeated names are kept because `attribute[x][]`
/// legitimately repeats.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn from_query(query: Option<&str>) -> Result<Params, ApiError> {
        let query = query.unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Params)
            .map_err(|_| ApiError::bad_request("the query string is malformed"))
    }

    fn from_form(body: &[u8]) -> Result<Params, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
        serde_urlencoded::from_str(text).map(Params).map_err(|_| {
            ApiError::bad_request("the request body is not valid application/x-www-form-urlencoded")
        })
    }

    /// A single-valued parameter, trimmed; empty counts as absent because HTML forms and
    /// many clients send every field whether filled in or not. Repeating it is refused
    /// rather than guessing which value was meant.
    pub(crate) fn opt(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "is given more than once"));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub(crate) fn f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.opt(name)? {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    name,
                    format!("{} is not a number", echo(v)),
                )),
            },
        }
    }

    /// An integer within `range`, or `default` when absent.
    pub(crate) fn int_in(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        default: i64,
    ) -> Result<i64, ApiError> {
        match self.opt(name)? {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        name,
                        format!(
                            "{} is not an integer from {} to {}",
                            echo(v),
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }

    pub(crate) fn datetime(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(v) = self.opt(name)? else {
            return Ok(None);
        };
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok();
        // An unencoded '+' in a query string arrives as a space; "…T08:00:00 07:00" can only
        // have meant +07:00, and Vietnamese clients send exactly that offset.
        parse(v)
            .or_else(|| parse(&v.replace(' ', "+")))
            .map(|t| t.with_timezone(&Utc))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    name,
                    format!("{} is not an ISO 8601 date-time with offset, e.g. 2025-03-01T08:00:00+07:00", echo(v)),
                )
            })
    }

    /// A comma-separated list (`service_code=A,B`), empty items dropped.
    pub(crate) fn list(&self, name: &str) -> Result<Vec<&str>, ApiError> {
        Ok(self
            .opt(name)?
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `attribute[CODE]=v` and `attribute[CODE][]=v` answers, grouped by code.
    pub(crate) fn attributes(&self) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &self.0 {
            let Some(rest) = name.strip_prefix("attribute[") else {
                continue;
            };
            let code = match rest.split_once(']') {
                Some((code, "" | "[]")) if !code.is_empty() => code,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "malformed parameter {}; use attribute[CODE] or attribute[CODE][]",
                        echo(name)
                    )))
                }
            };
            out.entry(code.to_string()).or_default().push(value.clone());
        }
        Ok(out)
    }
}

/// A POST body: its parameters and the raw bytes of each `media` file part.
pub(crate) struct Submission {
    pub params: Params,
    pub media: Vec<Vec<u8>>,
}

pub(crate) async fn read_submission(req: Request) -> Result<Submission, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    match content_type.as_deref() {
        Some(ct) if ct.starts_with("multipart/form-data") => read_multipart(req).await,
        None => read_form(req.into_body()).await,
        Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => {
            read_form(req.into_body()).await
        }
        Some(_) => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-www-form-urlencoded or multipart/form-data",
        )),
    }
}

async fn read_form(body: Body) -> Result<Submission, ApiError> {
    let bytes = match Limited::new(body, FORM_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if is_length_limit(e.as_ref()) => {
            return Err(ApiError::too_large(format!(
                "the form body exceeds {FORM_LIMIT} bytes"
            )));
        }
        Err(_) => return Err(ApiError::bad_request("the request body could not be read")),
    };
    Ok(Submission {
        params: Params::from_form(&bytes)?,
        media: Vec::new(),
    })
}

/// Limits may be hit here or by a layer further out (the server's global body limit), so
/// the whole error chain is searched.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!(
            "the multipart body exceeds {MULTIPART_LIMIT} bytes"
        ))
    } else {
        ApiError::bad_request(format!(
            "the multipart/form-data body is malformed: {}",
            e.body_text()
        ))
    }
}

async fn read_multipart(req: Request) -> Result<Submission, ApiError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|_| ApiError::bad_request("the multipart/form-data body has no valid boundary"))?;
    let mut pairs = Vec::new();
    let mut media = Vec::new();
    let mut text_budget = FORM_LIMIT;
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::too_large(format!(
                "the multipart body has more than {MAX_PARTS} parts"
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        let no_file_chosen = field.file_name().is_none_or(str::is_empty);
        if name == "media" {
            if media.len() == MAX_MEDIA {
                return Err(ApiError::too_large(format!(
                    "at most {MAX_MEDIA} media files are accepted per request"
                )));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if bytes.len() + chunk.len() > MEDIA_LIMIT {
                    return Err(ApiError::too_large(format!(
                        "each media file may be at most {MEDIA_LIMIT} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            // Browsers send an empty part for a file input left blank; that is not a photo.
            if !(bytes.is_empty() && no_file_chosen) {
                media.push(bytes);
            }
        } else {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if chunk.len() > text_budget {
                    return Err(ApiError::too_large(format!(
                        "the text fields exceed {FORM_LIMIT} bytes"
                    )));
                }
                text_budget -= chunk.len();
                bytes.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(bytes)
                .map_err(|_| ApiError::invalid(&name, "is not valid UTF-8"))?;
            pairs.push((name, value));
        }
    }
    Ok(Submission {
        params: Params(pairs),
        media,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::from_query(Some(q)).unwrap()
    }

    #[test]
    fn attributes_accept_both_spellings_and_group_values() {
        let p = params("attribute%5Blamp_state%5D=off&attribute[pollution][]=smoke&attribute[pollution][]=dust&x=1");
        let a = p.attributes().unwrap();
        assert_eq!(a["lamp_state"], vec!["off"]);
        assert_eq!(a["pollution"], vec!["smoke", "dust"]);
        let err = params("attribute[x]y=1").attributes().unwrap_err();
        assert_eq!(
            err.description,
            "malformed parameter 'attribute[x]y'; use attribute[CODE] or attribute[CODE][]"
        );
    }

    #[test]
    fn numbers_must_be_finite_and_named_in_errors() {
        assert_eq!(params("lat=16.46").f64("lat").unwrap(), Some(16.46));
        assert_eq!(params("lat=").f64("lat").unwrap(), None);
        assert_eq!(
            params("lat=abc").f64("lat").unwrap_err().description,
            "invalid lat: 'abc' is not a number"
        );
        assert!(params("lat=NaN").f64("lat").is_err());
        assert!(params("lat=inf").f64("lat").is_err());
    }

    #[test]
    fn repeated_single_parameters_are_refused() {
        let err = params("service_code=A&service_code=B")
            .opt("service_code")
            .unwrap_err();
        assert_eq!(
            err.description,
            "invalid service_code: is given more than once"
        );
    }

    #[test]
    fn datetimes_need_an_offset_and_survive_an_unencoded_plus() {
        let t = params("start_date=2025-03-01T08:00:00+07:00")
            .datetime("start_date")
            .unwrap()
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2025-03-01T01:00:00+00:00");
        assert!(params("start_date=2025-03-01T08:00:00Z")
            .datetime("start_date")
            .unwrap()
            .is_some());
        let err = params("end_date=2025-03-01")
            .datetime("end_date")
            .unwrap_err();
        assert_eq!(
            err.description,
            "invalid end_date: '2025-03-01' is not an ISO 8601 date-time with offset, e.g. 2025-03-01T08:00:00+07:00"
        );
    }

    #[test]
    fn echo_shortens_long_input() {
        assert_eq!(echo("abc"), "'abc'");
        assert_eq!(echo(&"x".repeat(200)).chars().count(), ECHO_MAX + 3);
    }
}
