//! Namespaces and the EU / IANA code lists the export points into.

pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
pub const DCAT: &str = "http://www.w3.org/ns/dcat#";
pub const DCT: &str = "http://purl.org/dc/terms/";
pub const FOAF: &str = "http://xmlns.com/foaf/0.1/";
pub const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
pub const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
pub const GSP: &str = "http://www.opengis.net/ont/geosparql#";
pub const DCATAP: &str = "http://data.europa.eu/r5r/";

/// The prefixes written in Turtle; the JSON-LD context declares the same ones.
pub const PREFIXES: [(&str, &str); 10] = [
    ("dcat", DCAT),
    ("dcatap", DCATAP),
    ("dct", DCT),
    ("foaf", FOAF),
    ("gsp", GSP),
    ("hydra", HYDRA),
    ("rdf", RDF),
    ("skos", SKOS),
    ("vcard", VCARD),
    ("xsd", XSD),
];

pub const EU_AUTHORITY: &str = "http://publications.europa.eu/resource/authority/";
pub const IANA_MEDIA_TYPES: &str = "http://www.iana.org/assignments/media-types/";
pub const ADMS_PUBLISHER_TYPE: &str = "http://purl.org/adms/publishertype/";
pub const ADMS_LICENCE_TYPE: &str = "http://purl.org/adms/licencetype/";

/// The EU file-type code for a CKAN resource `format` string (case-insensitive), for the
/// formats the portal offers or accepts. `None` for anything else: the export then leaves
/// `dct:format` out rather than inventing a code.
pub fn eu_file_type(ckan_format: &str) -> Option<&'static str> {
    let code = match ckan_format.trim().to_ascii_uppercase().as_str() {
        "CSV" => "CSV",
        "JSON" => "JSON",
        "GEOJSON" => "GEOJSON",
        "JSON-LD" | "JSONLD" => "JSON_LD",
        "XLSX" => "XLSX",
        "XLS" => "XLS",
        "ODS" => "ODS",
        "PDF" => "PDF",
        "XML" => "XML",
        "ZIP" => "ZIP",
        "HTML" => "HTML",
        "TXT" | "TEXT" => "TXT",
        "TTL" | "TURTLE" => "RDF_TURTLE",
        "RDF" | "RDF/XML" => "RDF_XML",
        "KML" => "KML",
        "SHP" => "SHP",
        _ => return None,
    };
    Some(code)
}
