//! DCAT-AP 3 documents of the catalogue: `/catalog.ttl`, `/catalog.jsonld` (paged with Hydra),
//! `/dataset/{id}.ttl` and `/dataset/{id}.jsonld`. This module only maps the catalogue's model
//! (`dothi_catalog::model`) onto `dothi_dcat`'s views; the serializer writes the documents.
//!
//! Only public, active datasets are exported: the catalogue page reads them through the same
//! search as an anonymous `package_search`, and a single dataset is read as an anonymous
//! `package_show` would, so private (and, later, shared) datasets answer 404 here.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use dothi_catalog::access::Viewer;
use dothi_catalog::model::{Dataset, Organization, Resource, State as DatasetState, Translated};
use dothi_catalog::{render, CatalogError};
use dothi_dcat as dcat;
use dothi_store::catalog::{CatalogStoreError, Directory};
use serde::Deserialize;

use crate::Ckan;

/// Datasets per catalogue page, as ckanext-dcat's default (`ckanext.dcat.datasets_per_page`).
pub const ITEMS_PER_PAGE: i64 = 100;

/// The organization of the platform itself (the IOC agency of the reference data): the
/// catalogue's publisher.
pub const PLATFORM_ORGANIZATION: &str = "ioc";

/// The documents' file extensions and their syntax, as ckanext-dcat names them (`.rdf` and
/// `.xml` are both RDF/XML).
pub const EXTENSIONS: &[(&str, dcat::Syntax)] = &[
    ("ttl", dcat::Syntax::Turtle),
    ("jsonld", dcat::Syntax::JsonLd),
    ("rdf", dcat::Syntax::RdfXml),
    ("xml", dcat::Syntax::RdfXml),
];

/// `/catalog.{ttl,jsonld,rdf,xml}`, merged into the CKAN router.
pub(crate) fn catalog_routes() -> Router<Ckan> {
    EXTENSIONS
        .iter()
        .fold(Router::new(), |router, &(extension, syntax)| {
            router.route(
                &format!("/catalog.{extension}"),
                get(move |s: State<Ckan>, q: Query<PageQuery>| catalog(s, q, extension, syntax)),
            )
        })
}

/// `/dataset/{file}` for the export suffixes. Not merged into the CKAN router: the web pages own
/// `/dataset/{name}` (axum cannot route `{id}.ttl` beside `{name}`), and hand the suffixed
/// names to this router.
pub(crate) fn dataset_routes() -> Router<Ckan> {
    Router::new().route("/dataset/{file}", get(dataset))
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "catalogue storage failure");
    plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
}

/// The mapping never hands the serializer an invalid view (IRIs, e-mails and media types are
/// checked here, empty texts get fallbacks), so a refusal is a defect of this module: logged,
/// and answered like an outage (503), never a 500 or a panic.
fn export_failed(e: dcat::DcatError) -> Response {
    tracing::error!(error = %e, "DCAT-AP export refused a catalogue record");
    plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
}

fn respond(syntax: dcat::Syntax, written: Result<String, dcat::DcatError>) -> Response {
    let media_type = match syntax {
        dcat::Syntax::JsonLd => "application/ld+json".to_string(),
        other => format!("{};charset=utf-8", other.media_type()),
    };
    match written {
        Ok(body) => ([(header::CONTENT_TYPE, media_type)], body).into_response(),
        Err(e) => export_failed(e),
    }
}

async fn catalog(
    State(ckan): State<Ckan>,
    Query(q): Query<PageQuery>,
    extension: &'static str,
    syntax: dcat::Syntax,
) -> Response {
    let page: u64 = match q.page.as_deref() {
        None => 1,
        Some(p) => match p.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "page must be a whole number from 1",
                )
            }
        },
    };
    let start = (page - 1).saturating_mul(ITEMS_PER_PAGE as u64);
    let Ok(start) = i64::try_from(start) else {
        return plain(StatusCode::NOT_FOUND, "Not found");
    };
    let found = match public_datasets(&ckan, ITEMS_PER_PAGE, start, "name asc").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // The catalogue was first issued with its oldest dataset and last modified with its newest
    // change.
    let mut bounds = [None, None];
    for (slot, sort) in bounds
        .iter_mut()
        .zip(["metadata_created asc", "metadata_modified desc"])
    {
        match public_datasets(&ckan, 1, 0, sort).await {
            Ok(one) => *slot = one.datasets.into_iter().next(),
            Err(response) => return response,
        }
    }
    let [oldest, newest] = bounds;
    let base = ckan.config.base_url.as_str();
    let total = found.count.max(0) as u64;
    let last = total.div_ceil(ITEMS_PER_PAGE as u64).max(1);
    if page > last {
        return plain(StatusCode::NOT_FOUND, "Not found");
    }
    let mapper = Mapper {
        base,
        dir: &found.directory,
        reference: ckan.store.reference(),
    };
    let mut catalog = mapper.catalog(&ckan.config);
    catalog.issued = oldest.and_then(|d| moment(d.metadata_created));
    catalog.modified = newest.and_then(|d| moment(d.metadata_modified));
    let datasets: Vec<dcat::Dataset> = found.datasets.iter().map(|d| mapper.dataset(d)).collect();
    let paging = dcat::Paging {
        collection_url: format!("{base}/catalog.{extension}"),
        page,
        items_per_page: ITEMS_PER_PAGE as u64,
        total_items: total,
    };
    let write_page = |datasets: &[dcat::Dataset]| {
        let page = dcat::CatalogPage {
            catalog: &catalog,
            datasets,
            paging: &paging,
        };
        dcat::write_catalog_page(&page, syntax)
    };
    match write_page(&datasets) {
        Err(e) => {
            // One record the serializer refuses (a defect of the mapping) must not take the
            // whole catalogue away from harvesters: the page is written without the datasets
            // that fail on their own, each logged.
            tracing::error!(error = %e, page, "DCAT-AP catalogue page refused; retrying without the failing datasets");
            let kept: Vec<dcat::Dataset> = datasets
                .into_iter()
                .filter(|d| match dcat::write_dataset(d, syntax) {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::error!(error = %e, dataset = %d.iri, "DCAT-AP export left a dataset out");
                        false
                    }
                })
                .collect();
            respond(syntax, write_page(&kept))
        }
        written => respond(syntax, written),
    }
}

/// A page of the public, active datasets, as an anonymous `package_search` finds them.
async fn public_datasets(
    ckan: &Ckan,
    rows: i64,
    start: i64,
    sort: &str,
) -> Result<dothi_store::catalog::SearchPage, Response> {
    let mut params = serde_json::Map::new();
    params.insert("q".into(), "*:*".into());
    params.insert("rows".into(), rows.into());
    params.insert("start".into(), start.into());
    params.insert("sort".into(), sort.into());
    // A fixed query of everything: a refusal here is a defect of this module, logged as one.
    let query = dothi_catalog::search::parse(&params).map_err(unavailable)?;
    match ckan
        .store
        .catalog_search(&Viewer::anonymous(), &query)
        .await
    {
        Ok(found) => Ok(found),
        Err(CatalogStoreError::Store(e)) => Err(unavailable(e)),
        Err(CatalogStoreError::Refused(e)) => Err(unavailable(e)),
    }
}

async fn dataset(State(ckan): State<Ckan>, Path(file): Path<String>) -> Response {
    let Some((id, syntax)) = file.rsplit_once('.').and_then(|(id, extension)| {
        EXTENSIONS
            .iter()
            .find(|(e, _)| *e == extension)
            .map(|(_, syntax)| (id, *syntax))
    }) else {
        return plain(StatusCode::NOT_FOUND, "Not found");
    };
    let (found, dir) = match ckan.store.catalog_dataset(&Viewer::anonymous(), id).await {
        Ok(found) => found,
        Err(CatalogStoreError::Store(e)) => return unavailable(e),
        // Private datasets are not told apart from missing ones: the export is public data.
        Err(CatalogStoreError::Refused(
            CatalogError::NotFound(_) | CatalogError::NotAuthorized(_),
        )) => return plain(StatusCode::NOT_FOUND, "Not found"),
        Err(CatalogStoreError::Refused(e)) => {
            tracing::error!(error = ?e, "unexpected refusal of an anonymous read");
            return plain(StatusCode::NOT_FOUND, "Not found");
        }
    };
    if found.private || found.state != DatasetState::Active {
        return plain(StatusCode::NOT_FOUND, "Not found");
    }
    let mapper = Mapper {
        base: ckan.config.base_url.as_str(),
        dir: &dir,
        reference: ckan.store.reference(),
    };
    let view = mapper.dataset(&found);
    respond(syntax, dcat::write_dataset(&view, syntax))
}

/// An absolute http(s) IRI the serializer accepts unchanged, or `None`: links that publishers
/// typed are left out rather than altered.
fn iri(value: &str) -> Option<String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c);
    (!rest.is_empty() && !rest.starts_with('/') && !value.chars().any(bad))
        .then(|| value.to_owned())
}

fn email(value: &str) -> Option<String> {
    let v = value.trim();
    let (local, domain) = v.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c));
    ok.then(|| v.to_owned())
}

/// `type/subtype` with RFC 6838 name characters, parameters dropped.
fn media_type(value: &str) -> Option<String> {
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (t, s) = essence.split_once('/')?;
    let token = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    (token(t) && token(s)).then_some(essence)
}

fn text(t: &Translated) -> dcat::Text {
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    dcat::Text {
        vi: some(&t.vi),
        en: some(&t.en),
    }
}

/// The text, or `fallback` when the catalogue has none: DCAT-AP makes titles and descriptions
/// mandatory where CKAN does not.
fn text_or(t: &Translated, fallback: &Translated) -> dcat::Text {
    let t = text(t);
    if t.is_empty() {
        text(fallback)
    } else {
        t
    }
}

fn moment(ms: i64) -> Option<dcat::Moment> {
    dcat::Moment::from_epoch_ms(ms)
}

/// The EU licence table's entry for the CKAN licences it has, else the register's URL.
fn licence(base: &str, id: &str) -> Option<dcat::Licence> {
    const EU: &str = "http://publications.europa.eu/resource/authority/licence/";
    let registered = dothi_catalog::licence::find(id)?;
    let (eu, kind) = match id {
        "cc-by-4.0" => (Some("CC_BY_4_0"), Some(dcat::LicenceType::Attribution)),
        "cc-zero" => (Some("CC0"), Some(dcat::LicenceType::PublicDomain)),
        "odc-pddl" => (Some("ODC_PDDL"), Some(dcat::LicenceType::PublicDomain)),
        "odc-by" => (Some("ODC_BY"), Some(dcat::LicenceType::Attribution)),
        "odc-odbl" => (Some("ODC_BL"), Some(dcat::LicenceType::ShareAlike)),
        "cc-by" | "uk-ogl" | "other-at" | "vn-open-gov-data" => {
            (None, Some(dcat::LicenceType::Attribution))
        }
        "cc-by-sa" | "gfdl" => (None, Some(dcat::LicenceType::ShareAlike)),
        "other-pd" => (None, Some(dcat::LicenceType::PublicDomain)),
        "notspecified" => return None,
        _ => (None, None),
    };
    let iri = match eu {
        Some(code) => format!("{EU}{code}"),
        // Licences without a page of their own get an IRI of this portal, as ckanext-dcat
        // falls back to the licence id.
        None => iri(&registered.url).unwrap_or_else(|| format!("{base}/licence/{id}")),
    };
    Some(dcat::Licence {
        iri,
        title: dcat::Text::vi_en(registered.title_vi.clone(), registered.title.clone()),
        kind,
    })
}

struct Mapper<'a> {
    base: &'a str,
    dir: &'a Directory,
    reference: std::sync::Arc<dothi_store::reference::Snapshot>,
}

impl Mapper<'_> {
    fn agent(&self, org: &Organization) -> dcat::Agent {
        let agency = org.agency_id.and_then(|id| self.reference.agency(id));
        let kind = agency.map(|a| match a.kind.as_str() {
            "commune_committee" => dcat::PublisherType::LocalAuthority,
            "department" | "ioc" | "police" => dcat::PublisherType::RegionalAuthority,
            _ => dcat::PublisherType::PublicBody,
        });
        dcat::Agent {
            iri: format!("{}/organization/{}", self.base, org.name),
            name: text_or(&org.title, &Translated::vi(org.name.clone())),
            kind,
            homepage: None,
            email: agency.and_then(|a| a.email.as_deref()).and_then(email),
        }
    }

    fn catalog(&self, config: &crate::CkanConfig) -> dcat::Catalog {
        let base = self.base;
        let title = Translated::new(config.site_title.clone(), config.site_title_en.clone());
        let description = Translated::new(
            config.site_description.clone(),
            config.site_description_en.clone(),
        );
        let publisher = match self.dir.organization(PLATFORM_ORGANIZATION) {
            Some(org) => self.agent(org),
            None => dcat::Agent {
                iri: format!("{base}/organization/{PLATFORM_ORGANIZATION}"),
                name: text(&title),
                kind: Some(dcat::PublisherType::RegionalAuthority),
                homepage: None,
                email: None,
            },
        };
        let services = vec![dcat::DataService {
            iri: format!("{base}/api/3/action"),
            title: dcat::Text::vi_en("API CKAN (Action API v3)", "CKAN Action API v3"),
            endpoint_url: format!("{base}/api/3/action/"),
            endpoint_description: Some(format!(
                "{base}/api/3/action/help_show?name=package_search"
            )),
        }];
        dcat::Catalog {
            iri: format!("{base}/catalog"),
            title: text(&title),
            description: text_or(&description, &title),
            publisher,
            homepage: Some(format!("{base}/dataset")),
            languages: vec![dcat::Lang::Vi, dcat::Lang::En],
            // The metadata itself is open data.
            licence: licence(base, "cc-by-4.0"),
            issued: None,
            modified: None,
            spatial: vec![],
            theme_taxonomies: vec![dcat::ConceptScheme {
                iri: format!("{base}/group"),
                title: dcat::Text::vi_en("Chủ đề", "Topics"),
            }],
            services,
        }
    }

    fn dataset(&self, d: &Dataset) -> dcat::Dataset {
        let base = self.base;
        let org = self.dir.organizations.get(&d.owner_org);
        let title = text_or(&d.title, &Translated::vi(d.name.clone()));
        let description = text_or(&d.notes, &d.title);
        let description = if description.is_empty() {
            title.clone()
        } else {
            description
        };
        let licence = d.license_id.as_deref().and_then(|id| licence(base, id));
        let mut languages = vec![dcat::Lang::Vi];
        if !d.title.en.trim().is_empty() || !d.notes.en.trim().is_empty() {
            languages.push(dcat::Lang::En);
        }
        dcat::Dataset {
            iri: format!("{base}/dataset/{}", d.id),
            identifier: Some(d.id.clone()),
            title,
            description,
            publisher: org.map(|o| self.agent(o)),
            contact_point: org.map(|o| dcat::ContactPoint {
                // The office that publishes the dataset, never the person CKAN's maintainer
                // fields may name.
                name: text_or(&o.title, &Translated::vi(o.name.clone())),
                email: o
                    .agency_id
                    .and_then(|id| self.reference.agency(id))
                    .and_then(|a| a.email.as_deref())
                    .and_then(email),
                url: Some(format!("{base}/dataset?organization={}", o.name)),
            }),
            keywords: d
                .tags
                .iter()
                .map(|t| dcat::Keyword {
                    lang: dcat::Lang::Vi,
                    value: t.clone(),
                })
                .collect(),
            themes: d
                .groups
                .iter()
                .filter_map(|id| self.dir.groups.get(id))
                .map(|g| dcat::Theme {
                    iri: format!("{base}/group/{}", g.name),
                    label: text_or(&g.title, &Translated::vi(g.name.clone())),
                    scheme: Some(format!("{base}/group")),
                })
                .collect(),
            spatial: vec![],
            temporal: vec![],
            issued: moment(d.metadata_created),
            modified: moment(d.metadata_modified),
            landing_page: Some(format!("{base}/dataset/{}", d.name)),
            languages,
            access_rights: Some(dcat::AccessRights::Public),
            frequency: None,
            version: d.version.clone().filter(|v| !v.trim().is_empty()),
            distributions: d
                .resources
                .iter()
                .map(|r| self.distribution(d, r, licence.clone()))
                .collect(),
        }
    }

    fn distribution(
        &self,
        d: &Dataset,
        r: &Resource,
        licence: Option<dcat::Licence>,
    ) -> dcat::Distribution {
        let base = self.base;
        let page = format!("{base}/dataset/{}/resource/{}", d.id, r.id);
        let download = r
            .file
            .as_ref()
            .filter(|_| r.is_upload())
            .and_then(|f| iri(&render::download_url(base, &d.id, &r.id, &f.filename)));
        let link = if r.is_upload() { None } else { iri(&r.url) };
        dcat::Distribution {
            access_url: download.clone().or(link).unwrap_or_else(|| page.clone()),
            iri: page,
            download_url: download,
            title: text(&r.name),
            description: text(&r.description),
            format: dcat::eu_file_type(&r.format).map(str::to_owned),
            media_type: r.mimetype.as_deref().and_then(media_type),
            byte_size: r.size.and_then(|s| u64::try_from(s).ok()),
            licence,
            availability: None,
            issued: moment(r.created),
            modified: moment(r.last_modified.unwrap_or(r.metadata_modified)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_iris_the_serializer_accepts_unchanged_are_kept() {
        assert_eq!(iri("https://a.vn/x?y=1"), Some("https://a.vn/x?y=1".into()));
        for bad in [
            "ftp://a.vn",
            "https://",
            "https:///x",
            "https://a.vn/a b",
            "/x",
            "http://a\"b",
        ] {
            assert_eq!(iri(bad), None, "{bad}");
        }
        assert_eq!(
            media_type("text/csv; charset=utf-8"),
            Some("text/csv".into())
        );
        assert_eq!(media_type("csv"), None);
        assert_eq!(email("so@hue.gov.vn"), Some("so@hue.gov.vn".into()));
        assert_eq!(email("không có"), None);
    }
}
