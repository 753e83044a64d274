//! The input of the export: what the catalogue hands over, already decided to be public.
//!
//! These types are this crate's own view, deliberately close to a CKAN package (dataset with
//! resources, organization, tags, groups, licence, Vietnamese and English title/notes), so the
//! catalogue maps onto them field by field. Fields marked *mandatory* make the export fail with
//! [`crate::DcatError`] when empty; *recommended* ones are written whenever they are present.

use chrono::{DateTime, NaiveDate, Utc};

/// The two languages of the portal's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// The BCP 47 tag used on literals.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The code in the EU "language" authority table (ISO 639-3 style, upper case).
    pub fn eu_code(self) -> &'static str {
        match self {
            Lang::Vi => "VIE",
            Lang::En => "ENG",
        }
    }
}

/// A text in Vietnamese and/or English. Empty strings count as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub vi: Option<String>,
    pub en: Option<String>,
}

impl Text {
    pub fn vi(vi: impl Into<String>) -> Self {
        Text {
            vi: Some(vi.into()),
            en: None,
        }
    }

    pub fn vi_en(vi: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            vi: Some(vi.into()),
            en: Some(en.into()),
        }
    }

    /// The non-empty variants, Vietnamese first.
    pub fn variants(&self) -> impl Iterator<Item = (Lang, &str)> {
        [(Lang::Vi, &self.vi), (Lang::En, &self.en)]
            .into_iter()
            .filter_map(|(lang, v)| {
                v.as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| (lang, s))
            })
    }

    pub fn is_empty(&self) -> bool {
        self.variants().next().is_none()
    }
}

/// A keyword (a CKAN tag) in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyword {
    pub lang: Lang,
    pub value: String,
}

/// A point in time or a whole day: `xsd:dateTime` (sent with `+07:00`) or `xsd:date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    Instant(DateTime<Utc>),
    Day(NaiveDate),
}

impl Moment {
    /// From the storage representation (epoch milliseconds); `None` when out of range.
    pub fn from_epoch_ms(ms: i64) -> Option<Moment> {
        DateTime::from_timestamp_millis(ms).map(Moment::Instant)
    }
}

/// `foaf:Agent`: the publisher (a CKAN organization, i.e. an agency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// Mandatory. A stable http(s) IRI of the agency.
    pub iri: String,
    /// Mandatory (`foaf:name`).
    pub name: Text,
    /// Recommended (`dct:type`, from the ADMS publisher type vocabulary).
    pub kind: Option<PublisherType>,
    /// Optional (`foaf:homepage`).
    pub homepage: Option<String>,
    /// Optional (`foaf:mbox`), an office address, never a person's.
    pub email: Option<String>,
}

/// The ADMS publisher types that fit the province's agencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublisherType {
    NationalAuthority,
    RegionalAuthority,
    LocalAuthority,
    PublicBody,
}

impl PublisherType {
    pub(crate) fn code(self) -> &'static str {
        match self {
            PublisherType::NationalAuthority => "NationalAuthority",
            PublisherType::RegionalAuthority => "RegionalAuthority",
            PublisherType::LocalAuthority => "LocalAuthority",
            PublisherType::PublicBody => "PublicBody",
        }
    }

    /// The concept's preferred label in the ADMS vocabulary (vocabulary data, not UI text).
    pub(crate) fn label(self) -> &'static str {
        match self {
            PublisherType::NationalAuthority => "National authority",
            PublisherType::RegionalAuthority => "Regional authority",
            PublisherType::LocalAuthority => "Local authority",
            PublisherType::PublicBody => "Public body",
        }
    }
}

/// `dcat:contactPoint` (`vcard:Kind`): an office, never a person (docs/PRIVACY.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactPoint {
    /// Recommended (`vcard:fn`).
    pub name: Text,
    /// Recommended (`vcard:hasEmail`, written as a `mailto:` IRI).
    pub email: Option<String>,
    /// Optional (`vcard:hasURL`).
    pub url: Option<String>,
}

/// `dct:LicenseDocument`. Prefer the EU licence authority table, e.g.
/// `http://publications.europa.eu/resource/authority/licence/CC_BY_4_0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Licence {
    /// Mandatory.
    pub iri: String,
    /// Optional (`dct:title`), e.g. CKAN's `license_title`.
    pub title: Text,
    /// Recommended (`dct:type`, from the ADMS licence type vocabulary).
    pub kind: Option<LicenceType>,
}

/// The ADMS licence types of the open licences a portal offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenceType {
    PublicDomain,
    Attribution,
    ShareAlike,
}

impl LicenceType {
    pub(crate) fn code(self) -> &'static str {
        match self {
            LicenceType::PublicDomain => "PublicDomain",
            LicenceType::Attribution => "Attribution",
            LicenceType::ShareAlike => "ShareAlike",
        }
    }

    /// The concept's preferred label in the ADMS vocabulary (vocabulary data, not UI text).
    pub(crate) fn label(self) -> &'static str {
        match self {
            LicenceType::PublicDomain => "Public domain",
            LicenceType::Attribution => "Attribution",
            LicenceType::ShareAlike => "Share-alike",
        }
    }
}

/// `dcatap:availability`, from the EU planned-availability table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Temporary,
    Experimental,
    Available,
    Stable,
}

impl Availability {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Availability::Temporary => "TEMPORARY",
            Availability::Experimental => "EXPERIMENTAL",
            Availability::Available => "AVAILABLE",
            Availability::Stable => "STABLE",
        }
    }

    /// The concept's preferred label in the EU table (vocabulary data, not UI text).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Availability::Temporary => "temporary",
            Availability::Experimental => "experimental",
            Availability::Available => "available",
            Availability::Stable => "stable",
        }
    }
}

/// `dcat:DataService`: an API of the portal, e.g. the CKAN Action API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataService {
    /// Mandatory. A stable http(s) IRI of the service.
    pub iri: String,
    /// Mandatory (`dct:title`).
    pub title: Text,
    /// Mandatory (`dcat:endpointURL`), e.g. `{base}/api/3/action/`.
    pub endpoint_url: String,
    /// Recommended (`dcat:endpointDescription`): a machine-readable description.
    pub endpoint_description: Option<String>,
}

/// A concept scheme (`skos:ConceptScheme`), e.g. the EU data themes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConceptScheme {
    pub iri: String,
    /// Mandatory (`dct:title`).
    pub title: Text,
}

/// `dcat:theme` (`skos:Concept`), e.g. a CKAN group mapped to an EU data theme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub iri: String,
    /// Mandatory (`skos:prefLabel`).
    pub label: Text,
    /// Optional (`skos:inScheme`).
    pub scheme: Option<String>,
}

/// `dct:Location`. With no IRI the location gets one minted under the dataset's IRI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub iri: Option<String>,
    /// Optional (`skos:prefLabel`).
    pub label: Text,
    /// Optional (`dcat:bbox`, a WKT polygon in WGS 84 longitude latitude order).
    pub bbox_wkt: Option<String>,
    /// Optional (`dcat:centroid`, a WKT point).
    pub centroid_wkt: Option<String>,
}

/// `dct:PeriodOfTime`; at least one end must be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodOfTime {
    pub start: Option<Moment>,
    pub end: Option<Moment>,
}

/// `dct:accessRights`, from the EU access-right table. Open data is `Public`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessRights {
    Public,
    Restricted,
    NonPublic,
}

/// `dct:accrualPeriodicity`, from the EU frequency table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Annual,
    Irregular,
}

/// `dcat:Distribution`: a CKAN resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// Mandatory. A stable http(s) IRI of the resource (e.g. its page).
    pub iri: String,
    /// Mandatory (`dcat:accessURL`).
    pub access_url: String,
    /// Recommended for files (`dcat:downloadURL`).
    pub download_url: Option<String>,
    /// Optional (`dct:title`).
    pub title: Text,
    /// Recommended (`dct:description`).
    pub description: Text,
    /// Recommended (`dct:format`): a code of the EU file-type table such as `CSV`, `JSON`; see
    /// [`crate::eu_file_type`] for CKAN's format strings.
    pub format: Option<String>,
    /// Recommended (`dcat:mediaType`): an IANA media type such as `text/csv`.
    pub media_type: Option<String>,
    /// Recommended (`dcat:byteSize`).
    pub byte_size: Option<u64>,
    /// Recommended (`dct:license`). CKAN's dataset licence goes on each distribution.
    pub licence: Option<Licence>,
    /// Recommended (`dcatap:availability`).
    pub availability: Option<Availability>,
    pub issued: Option<Moment>,
    pub modified: Option<Moment>,
}

/// `dcat:Dataset`: a CKAN package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Mandatory. A stable http(s) IRI (e.g. `{base}/dataset/{id}`).
    pub iri: String,
    /// Recommended: CKAN's id or name (`dct:identifier`).
    pub identifier: Option<String>,
    /// Mandatory (`dct:title`): CKAN `title` (vi) and `title_en`.
    pub title: Text,
    /// Mandatory (`dct:description`): CKAN `notes` (vi) and `notes_en`.
    pub description: Text,
    /// Recommended (`dct:publisher`): the CKAN organization.
    pub publisher: Option<Agent>,
    /// Recommended (`dcat:contactPoint`).
    pub contact_point: Option<ContactPoint>,
    /// Recommended (`dcat:keyword`): CKAN tags.
    pub keywords: Vec<Keyword>,
    /// Recommended (`dcat:theme`): CKAN groups mapped to concepts.
    pub themes: Vec<Theme>,
    /// Recommended (`dct:spatial`).
    pub spatial: Vec<Location>,
    /// Recommended (`dct:temporal`).
    pub temporal: Vec<PeriodOfTime>,
    /// Optional (`dct:issued`): CKAN `metadata_created`.
    pub issued: Option<Moment>,
    /// Optional (`dct:modified`): CKAN `metadata_modified`.
    pub modified: Option<Moment>,
    /// Optional (`dcat:landingPage`): the dataset's web page.
    pub landing_page: Option<String>,
    /// Optional (`dct:language`).
    pub languages: Vec<Lang>,
    /// Optional (`dct:accessRights`).
    pub access_rights: Option<AccessRights>,
    /// Optional (`dct:accrualPeriodicity`).
    pub frequency: Option<Frequency>,
    /// Optional (`dcat:version`).
    pub version: Option<String>,
    /// Recommended (`dcat:distribution`): CKAN resources.
    pub distributions: Vec<Distribution>,
}

/// `dcat:Catalog`: the portal itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    /// Mandatory. The catalogue's http(s) IRI (e.g. `{base}/catalog`).
    pub iri: String,
    /// Mandatory (`dct:title`).
    pub title: Text,
    /// Mandatory (`dct:description`).
    pub description: Text,
    /// Mandatory (`dct:publisher`).
    pub publisher: Agent,
    /// Recommended (`foaf:homepage`).
    pub homepage: Option<String>,
    /// Recommended (`dct:language`).
    pub languages: Vec<Lang>,
    /// Recommended (`dct:license`): the licence of the catalogue's metadata.
    pub licence: Option<Licence>,
    /// Recommended (`dct:issued`).
    pub issued: Option<Moment>,
    /// Recommended (`dct:modified`).
    pub modified: Option<Moment>,
    /// Recommended (`dct:spatial`).
    pub spatial: Vec<Location>,
    /// Recommended (`dcat:themeTaxonomy`): the schemes the datasets' themes come from.
    pub theme_taxonomies: Vec<ConceptScheme>,
    /// Recommended (`dcat:service`): the portal's APIs.
    pub services: Vec<DataService>,
}

/// Where this page sits in the whole catalogue (Hydra paging, as ckanext-dcat writes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paging {
    /// The collection's URL without the page parameter, e.g. `{base}/catalog.ttl`; `page=N` is
    /// appended with `?` or `&`.
    pub collection_url: String,
    /// 1-based.
    pub page: u64,
    pub items_per_page: u64,
    pub total_items: u64,
}

/// One page of the catalogue: the catalogue and the datasets of that page.
#[derive(Clone, Copy, Debug)]
pub struct CatalogPage<'a> {
    pub catalog: &'a Catalog,
    pub datasets: &'a [Dataset],
    pub paging: &'a Paging,
}
