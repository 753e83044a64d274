//! DCAT-AP 3 export of the open-data catalogue: a protocol crate that only translates.
//!
//! The catalogue (CKAN datasets with resources, organizations, tags, groups, licences) is mapped
//! by the caller onto this crate's [view types](view), and comes back as Turtle or compact
//! JSON-LD: the catalogue page for `/catalog.ttl` and `/catalog.jsonld`, paged with Hydra the
//! way ckanext-dcat does it, and one dataset for `/dataset/{id}.ttl`. No I/O, no SQL, no HTTP:
//! the caller fetches, pages and serves.
//!
//! # What the views must carry
//!
//! Mandatory in DCAT-AP 3, refused with [`DcatError::Missing`] when empty:
//! - [`Catalog`]: `iri`, `title`, `description`, `publisher` (with `iri` and `name`).
//! - [`Dataset`]: `iri`, `title`, `description`.
//! - [`Distribution`]: `iri`, `access_url`.
//! - [`Agent`]: `iri`, `name`; [`Theme`]: `iri`, `label`; [`ConceptScheme`]: `iri`, `title`;
//!   [`Licence`]: `iri`; [`PeriodOfTime`]: `start` or `end`; [`DataService`]: `iri`, `title`,
//!   `endpoint_url`.
//!
//! Recommended, written whenever present: the catalogue's homepage, languages, licence,
//! issued/modified, spatial coverage, theme taxonomies and services; the dataset's publisher,
//! contact point, keywords, themes, spatial and temporal coverage; the distribution's
//! description, format, licence (with its type) and availability, plus media type and byte
//! size; the agent's type. Every node they point to is typed (e.g.
//! `dct:LicenseDocument`, `foaf:Agent`, `dct:MediaTypeOrExtent`) and concepts carry a
//! `skos:prefLabel`, because the SHACL shapes check classes without fetching vocabularies.
//!
//! IRIs must be absolute http(s) IRIs: anything else (a space, `<`, `>`, `"`, a relative
//! reference) is refused with [`DcatError::InvalidIri`] naming the field, never escaped into a
//! different IRI. Literals are escaped by the Turtle serializer (`oxttl`) and by JSON.
//! Times are sent as `xsd:dateTime` with `+07:00`, days as `xsd:date`.
//!
//! Only public data goes in: the caller passes published, non-private datasets, and contact
//! points are offices (docs/PRIVACY.md), never a person.
//!
//! ```
//! use dothi_dcat::*;
//! let catalog = Catalog {
//!     iri: "https://data.example.vn/catalog".into(),
//!     title: Text::vi_en("Cổng dữ liệu mở", "Open data portal"),
//!     description: Text::vi("Dữ liệu mở của tỉnh"),
//!     publisher: Agent {
//!         iri: "https://data.example.vn/organization/ubnd".into(),
//!         name: Text::vi("UBND tỉnh"),
//!         kind: Some(PublisherType::RegionalAuthority),
//!         homepage: None,
//!         email: None,
//!     },
//!     homepage: None,
//!     languages: vec![Lang::Vi, Lang::En],
//!     licence: None,
//!     issued: None,
//!     modified: None,
//!     spatial: vec![],
//!     theme_taxonomies: vec![],
//!     services: vec![],
//! };
//! let paging = Paging {
//!     collection_url: "https://data.example.vn/catalog.ttl".into(),
//!     page: 1,
//!     items_per_page: 100,
//!     total_items: 0,
//! };
//! let page = CatalogPage { catalog: &catalog, datasets: &[], paging: &paging };
//! let turtle = catalog_page_turtle(&page).unwrap();
//! assert!(turtle.contains("a dcat:Catalog"));
//! ```

mod graph;
mod jsonld;
pub mod view;
mod vocab;

pub use jsonld::CONTEXT;
pub use view::*;
pub use vocab::eu_file_type;

use oxrdf::Triple;
use oxttl::TurtleSerializer;

/// Why a view could not be exported. Each names the offending field, so the caller can log
/// which catalogue record needs fixing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DcatError {
    #[error("{field} is mandatory in DCAT-AP 3 and is empty")]
    Missing { field: &'static str },
    #[error("{field} is not an absolute http(s) IRI: {value:?}")]
    InvalidIri { field: &'static str, value: String },
    #[error("{field} is not an e-mail address: {value:?}")]
    InvalidEmail { field: &'static str, value: String },
    #[error("not an IANA media type (type/subtype): {value:?}")]
    InvalidMediaType { value: String },
    #[error("not a code of the EU file-type table: {value:?}")]
    InvalidFileType { value: String },
    #[error("page and items per page start at 1, got page {page}")]
    InvalidPage { page: u64 },
    #[error("page {page} is past the last page, {last}")]
    PageOutOfRange { page: u64, last: u64 },
    /// The serializer failed (it writes to memory, so this is not expected).
    #[error("writing the document failed: {0}")]
    Write(String),
}

/// Writes `triples` with the prefixes of `vocab::PREFIXES` through one of oxigraph's
/// serializers (`oxttl`'s and `oxrdfxml`'s have the same methods but no common trait).
macro_rules! serialize {
    ($serializer:expr, $triples:expr) => {{
        let failed = |e: &dyn std::fmt::Display| DcatError::Write(e.to_string());
        let mut serializer = $serializer;
        for (prefix, iri) in vocab::PREFIXES {
            serializer = serializer
                .with_prefix(prefix, iri)
                .map_err(|e| failed(&e))?;
        }
        let mut writer = serializer.for_writer(Vec::new());
        for triple in $triples {
            writer.serialize_triple(triple).map_err(|e| failed(&e))?;
        }
        let bytes = writer.finish().map_err(|e| failed(&e))?;
        String::from_utf8(bytes).map_err(|e| failed(&e))
    }};
}

fn turtle(triples: &[Triple]) -> Result<String, DcatError> {
    serialize!(TurtleSerializer::new(), triples)
}

fn rdf_xml(triples: &[Triple]) -> Result<String, DcatError> {
    serialize!(oxrdfxml::RdfXmlSerializer::new(), triples)
}

/// The RDF syntaxes the export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Turtle,
    /// RDF/XML: what most DCAT harvesters ask for first.
    RdfXml,
    /// Compact JSON-LD with the bundled context embedded.
    JsonLd,
}

impl Syntax {
    pub fn media_type(self) -> &'static str {
        match self {
            Syntax::Turtle => "text/turtle",
            Syntax::RdfXml => "application/rdf+xml",
            Syntax::JsonLd => "application/ld+json",
        }
    }

    fn write(self, triples: &[Triple]) -> Result<String, DcatError> {
        match self {
            Syntax::Turtle => turtle(triples),
            Syntax::RdfXml => rdf_xml(triples),
            Syntax::JsonLd => serde_json::to_string_pretty(&jsonld::document(triples))
                .map_err(|e| DcatError::Write(e.to_string())),
        }
    }
}

/// A catalogue page in `syntax`.
pub fn write_catalog_page(page: &CatalogPage<'_>, syntax: Syntax) -> Result<String, DcatError> {
    syntax.write(&page_triples(page)?)
}

/// One dataset with its distributions in `syntax`.
pub fn write_dataset(dataset: &Dataset, syntax: Syntax) -> Result<String, DcatError> {
    syntax.write(&dataset_triples(dataset)?)
}

fn page_triples(page: &CatalogPage<'_>) -> Result<Vec<Triple>, DcatError> {
    let mut graph = graph::Graph::new();
    graph.catalog_page(page)?;
    Ok(graph.into_triples())
}

fn dataset_triples(dataset: &Dataset) -> Result<Vec<Triple>, DcatError> {
    let mut graph = graph::Graph::new();
    graph.dataset(dataset)?;
    Ok(graph.into_triples())
}

/// A catalogue page (`/catalog.ttl`) as Turtle: the catalogue, the Hydra paging, and the page's
/// datasets with their distributions.
pub fn catalog_page_turtle(page: &CatalogPage<'_>) -> Result<String, DcatError> {
    turtle(&page_triples(page)?)
}

/// A catalogue page (`/catalog.jsonld`) as compact JSON-LD with the bundled context embedded.
pub fn catalog_page_jsonld(page: &CatalogPage<'_>) -> Result<serde_json::Value, DcatError> {
    Ok(jsonld::document(&page_triples(page)?))
}

/// One dataset (`/dataset/{id}.ttl`) as Turtle.
pub fn dataset_turtle(dataset: &Dataset) -> Result<String, DcatError> {
    turtle(&dataset_triples(dataset)?)
}

/// One dataset as compact JSON-LD with the bundled context embedded.
pub fn dataset_jsonld(dataset: &Dataset) -> Result<serde_json::Value, DcatError> {
    Ok(jsonld::document(&dataset_triples(dataset)?))
}

/// The URL of page `page` of a collection, as written in the Hydra paging, for the caller's
/// `Link` headers or redirects.
pub fn page_url(collection_url: &str, page: u64) -> String {
    graph::page_url(collection_url, page)
}
