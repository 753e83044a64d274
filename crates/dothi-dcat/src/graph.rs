//! Views → RDF triples. Both serializations are written from these triples, so the Turtle and
//! the JSON-LD of a page always state the same graph.
//!
//! No blank nodes: contact points, locations and periods get IRIs minted under their dataset's
//! IRI (`#contact-point`, `#spatial-1`, `#temporal-1`), so the output is stable from one
//! request to the next and harvesters can diff it.

use std::collections::{HashMap, HashSet};

use oxrdf::{Literal, NamedNode, NamedOrBlankNode, Term, Triple};

use crate::view::*;
use crate::vocab::*;
use crate::DcatError;

pub(crate) struct Graph {
    triples: Vec<Triple>,
    seen: HashSet<Triple>,
}

fn n(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

/// An IRI given by the caller: must parse as an absolute IRI (so `<`, `>`, `"`, spaces and
/// other characters that would break out of `<…>` are refused, not escaped) and be http(s).
pub(crate) fn checked_iri(field: &'static str, value: &str) -> Result<NamedNode, DcatError> {
    let invalid = || DcatError::InvalidIri {
        field,
        value: value.to_owned(),
    };
    let node = NamedNode::new(value).map_err(|_| invalid())?;
    let scheme = value
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid());
    }
    Ok(node)
}

fn mailto(field: &'static str, email: &str) -> Result<NamedNode, DcatError> {
    let invalid = || DcatError::InvalidEmail {
        field,
        value: email.to_owned(),
    };
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(invalid());
    }
    NamedNode::new(format!("mailto:{email}")).map_err(|_| invalid())
}

fn moment(m: Moment) -> Literal {
    match m {
        Moment::Instant(t) => {
            Literal::new_typed_literal(dothi_calendar::format_vn(t), n(XSD, "dateTime"))
        }
        Moment::Day(d) => {
            Literal::new_typed_literal(d.format("%Y-%m-%d").to_string(), n(XSD, "date"))
        }
    }
}

fn lang_literal(lang: Lang, value: &str) -> Literal {
    Literal::new_language_tagged_literal_unchecked(value, lang.tag())
}

fn required(field: &'static str, text: &Text) -> Result<(), DcatError> {
    if text.is_empty() {
        return Err(DcatError::Missing { field });
    }
    Ok(())
}

/// `{base}#{fragment}`; the base must not carry a fragment already.
fn minted(field: &'static str, base: &NamedNode, fragment: &str) -> Result<NamedNode, DcatError> {
    if base.as_str().contains('#') {
        return Err(DcatError::InvalidIri {
            field,
            value: base.as_str().to_owned(),
        });
    }
    Ok(NamedNode::new_unchecked(format!(
        "{}#{fragment}",
        base.as_str()
    )))
}

/// The URL of page `page` of a Hydra collection.
pub(crate) fn page_url(collection_url: &str, page: u64) -> String {
    let sep = if collection_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{collection_url}{sep}page={page}")
}

impl Graph {
    pub fn new() -> Self {
        Graph {
            triples: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The triples with each subject's statements together, subjects in the order they were
    /// first described: the Turtle then writes each node once, in reading order.
    pub fn into_triples(self) -> Vec<Triple> {
        let mut first_seen: HashMap<NamedOrBlankNode, usize> = HashMap::new();
        for (i, t) in self.triples.iter().enumerate() {
            first_seen.entry(t.subject.clone()).or_insert(i);
        }
        let mut triples = self.triples;
        triples.sort_by_key(|t| first_seen[&t.subject]);
        triples
    }

    /// Shared nodes (a publisher of many datasets, a licence of many distributions) are
    /// described once: a triple already written is skipped.
    fn add(&mut self, s: &NamedNode, p: NamedNode, o: impl Into<Term>) {
        let t = Triple::new(s.clone(), p, o);
        if self.seen.insert(t.clone()) {
            self.triples.push(t);
        }
    }

    fn a(&mut self, s: &NamedNode, ns: &str, class: &str) {
        self.add(s, n(RDF, "type"), n(ns, class));
    }

    fn text(&mut self, s: &NamedNode, p: NamedNode, text: &Text) {
        for (lang, value) in text.variants() {
            self.add(s, p.clone(), lang_literal(lang, value));
        }
    }

    fn moment(&mut self, s: &NamedNode, p: NamedNode, m: Option<Moment>) {
        if let Some(m) = m {
            self.add(s, p, moment(m));
        }
    }

    fn document(&mut self, s: &NamedNode, p: NamedNode, field: &'static str, url: &str) -> Res {
        let doc = checked_iri(field, url)?;
        self.add(s, p, doc.clone());
        self.a(&doc, FOAF, "Document");
        Ok(())
    }

    /// A concept of a controlled vocabulary, with the English label the vocabulary gives it.
    fn concept(&mut self, concept: &NamedNode, label: &str, scheme: NamedNode) {
        self.a(concept, SKOS, "Concept");
        self.add(concept, n(SKOS, "prefLabel"), lang_literal(Lang::En, label));
        self.add(concept, n(SKOS, "inScheme"), scheme);
    }

    fn languages(&mut self, s: &NamedNode, langs: &[Lang]) {
        for lang in langs {
            let l = n(EU_AUTHORITY, &format!("language/{}", lang.eu_code()));
            self.add(s, n(DCT, "language"), l.clone());
            self.a(&l, DCT, "LinguisticSystem");
        }
    }

    fn agent(&mut self, agent: &Agent) -> Result<NamedNode, DcatError> {
        let iri = checked_iri("publisher.iri", &agent.iri)?;
        required("publisher.name", &agent.name)?;
        self.a(&iri, FOAF, "Agent");
        self.text(&iri, n(FOAF, "name"), &agent.name);
        if let Some(kind) = agent.kind {
            let concept = n(ADMS_PUBLISHER_TYPE, kind.code());
            self.add(&iri, n(DCT, "type"), concept.clone());
            self.a(&concept, SKOS, "Concept");
            self.add(
                &concept,
                n(SKOS, "prefLabel"),
                lang_literal(Lang::En, kind.label()),
            );
            self.add(&concept, n(SKOS, "inScheme"), n(ADMS_PUBLISHER_TYPE, "1.0"));
        }
        if let Some(email) = &agent.email {
            self.add(&iri, n(FOAF, "mbox"), mailto("publisher.email", email)?);
        }
        if let Some(homepage) = &agent.homepage {
            self.document(&iri, n(FOAF, "homepage"), "publisher.homepage", homepage)?;
        }
        Ok(iri)
    }

    fn licence(&mut self, s: &NamedNode, field: &'static str, licence: &Licence) -> Res {
        let iri = checked_iri(field, &licence.iri)?;
        self.add(s, n(DCT, "license"), iri.clone());
        self.a(&iri, DCT, "LicenseDocument");
        self.text(&iri, n(DCT, "title"), &licence.title);
        if let Some(kind) = licence.kind {
            let concept = n(ADMS_LICENCE_TYPE, kind.code());
            self.add(&iri, n(DCT, "type"), concept.clone());
            self.concept(&concept, kind.label(), n(ADMS_LICENCE_TYPE, "1.0"));
        }
        Ok(())
    }

    fn location(&mut self, s: &NamedNode, index: usize, location: &Location) -> Res {
        let iri = match &location.iri {
            Some(iri) => checked_iri("spatial.iri", iri)?,
            None => minted("spatial", s, &format!("spatial-{}", index + 1))?,
        };
        self.add(s, n(DCT, "spatial"), iri.clone());
        self.a(&iri, DCT, "Location");
        self.text(&iri, n(SKOS, "prefLabel"), &location.label);
        for (p, wkt) in [
            ("bbox", &location.bbox_wkt),
            ("centroid", &location.centroid_wkt),
        ] {
            if let Some(wkt) = wkt {
                self.add(
                    &iri,
                    n(DCAT, p),
                    Literal::new_typed_literal(wkt, n(GSP, "wktLiteral")),
                );
            }
        }
        Ok(())
    }

    fn catalog(&mut self, catalog: &Catalog, datasets: &[Dataset]) -> Res {
        let iri = checked_iri("catalog.iri", &catalog.iri)?;
        required("catalog.title", &catalog.title)?;
        required("catalog.description", &catalog.description)?;
        self.a(&iri, DCAT, "Catalog");
        self.text(&iri, n(DCT, "title"), &catalog.title);
        self.text(&iri, n(DCT, "description"), &catalog.description);
        let publisher = checked_iri("publisher.iri", &catalog.publisher.iri)?;
        self.add(&iri, n(DCT, "publisher"), publisher);
        self.moment(&iri, n(DCT, "issued"), catalog.issued);
        self.moment(&iri, n(DCT, "modified"), catalog.modified);
        if let Some(homepage) = &catalog.homepage {
            self.document(&iri, n(FOAF, "homepage"), "catalog.homepage", homepage)?;
        }
        self.languages(&iri, &catalog.languages);
        if let Some(licence) = &catalog.licence {
            self.licence(&iri, "catalog.licence.iri", licence)?;
        }
        for (i, location) in catalog.spatial.iter().enumerate() {
            self.location(&iri, i, location)?;
        }
        for scheme in &catalog.theme_taxonomies {
            let s = checked_iri("catalog.theme_taxonomies.iri", &scheme.iri)?;
            required("catalog.theme_taxonomies.title", &scheme.title)?;
            self.add(&iri, n(DCAT, "themeTaxonomy"), s.clone());
            self.a(&s, SKOS, "ConceptScheme");
            self.text(&s, n(DCT, "title"), &scheme.title);
        }
        for service in &catalog.services {
            let s = checked_iri("catalog.services.iri", &service.iri)?;
            required("catalog.services.title", &service.title)?;
            self.add(&iri, n(DCAT, "service"), s.clone());
            self.a(&s, DCAT, "DataService");
            self.text(&s, n(DCT, "title"), &service.title);
            let url = checked_iri("catalog.services.endpoint_url", &service.endpoint_url)?;
            self.add(&s, n(DCAT, "endpointURL"), url);
            if let Some(description) = &service.endpoint_description {
                let field = "catalog.services.endpoint_description";
                self.add(
                    &s,
                    n(DCAT, "endpointDescription"),
                    checked_iri(field, description)?,
                );
            }
        }
        for dataset in datasets {
            let d = checked_iri("dataset.iri", &dataset.iri)?;
            self.add(&iri, n(DCAT, "dataset"), d);
        }
        self.agent(&catalog.publisher)?;
        Ok(())
    }

    fn paging(&mut self, paging: &Paging) -> Res {
        if paging.page == 0 || paging.items_per_page == 0 {
            return Err(DcatError::InvalidPage { page: paging.page });
        }
        let last = paging.total_items.div_ceil(paging.items_per_page).max(1);
        if paging.page > last {
            return Err(DcatError::PageOutOfRange {
                page: paging.page,
                last,
            });
        }
        let url = |page| page_url(&paging.collection_url, page);
        let iri = checked_iri("paging.collection_url", &url(paging.page))?;
        let int = |v: u64| Literal::new_typed_literal(v.to_string(), n(XSD, "integer"));
        self.a(&iri, HYDRA, "PagedCollection");
        self.add(&iri, n(HYDRA, "totalItems"), int(paging.total_items));
        self.add(&iri, n(HYDRA, "itemsPerPage"), int(paging.items_per_page));
        // Page URLs are plain literals, as ckanext-dcat writes them and harvesters read them.
        let mut pages = vec![("firstPage", 1), ("lastPage", last)];
        if paging.page > 1 {
            pages.push(("previousPage", paging.page - 1));
        }
        if paging.page < last {
            pages.push(("nextPage", paging.page + 1));
        }
        for (p, page) in pages {
            self.add(&iri, n(HYDRA, p), Literal::new_simple_literal(url(page)));
        }
        Ok(())
    }

    pub fn dataset(&mut self, dataset: &Dataset) -> Res {
        let iri = checked_iri("dataset.iri", &dataset.iri)?;
        required("dataset.title", &dataset.title)?;
        required("dataset.description", &dataset.description)?;
        self.a(&iri, DCAT, "Dataset");
        self.text(&iri, n(DCT, "title"), &dataset.title);
        self.text(&iri, n(DCT, "description"), &dataset.description);
        if let Some(id) = &dataset.identifier {
            self.add(&iri, n(DCT, "identifier"), Literal::new_simple_literal(id));
        }
        for keyword in &dataset.keywords {
            if !keyword.value.trim().is_empty() {
                self.add(
                    &iri,
                    n(DCAT, "keyword"),
                    lang_literal(keyword.lang, &keyword.value),
                );
            }
        }
        self.moment(&iri, n(DCT, "issued"), dataset.issued);
        self.moment(&iri, n(DCT, "modified"), dataset.modified);
        if let Some(version) = &dataset.version {
            self.add(
                &iri,
                n(DCAT, "version"),
                Literal::new_simple_literal(version),
            );
        }
        if let Some(page) = &dataset.landing_page {
            self.document(&iri, n(DCAT, "landingPage"), "dataset.landing_page", page)?;
        }
        self.languages(&iri, &dataset.languages);
        if let Some(rights) = dataset.access_rights {
            let code = match rights {
                AccessRights::Public => "PUBLIC",
                AccessRights::Restricted => "RESTRICTED",
                AccessRights::NonPublic => "NON_PUBLIC",
            };
            let r = n(EU_AUTHORITY, &format!("access-right/{code}"));
            self.add(&iri, n(DCT, "accessRights"), r.clone());
            self.a(&r, DCT, "RightsStatement");
        }
        if let Some(frequency) = dataset.frequency {
            let code = match frequency {
                Frequency::Daily => "DAILY",
                Frequency::Weekly => "WEEKLY",
                Frequency::Monthly => "MONTHLY",
                Frequency::Quarterly => "QUARTERLY",
                Frequency::Annual => "ANNUAL",
                Frequency::Irregular => "IRREG",
            };
            let f = n(EU_AUTHORITY, &format!("frequency/{code}"));
            self.add(&iri, n(DCT, "accrualPeriodicity"), f.clone());
            self.a(&f, DCT, "Frequency");
        }
        if let Some(publisher) = &dataset.publisher {
            let p = checked_iri("publisher.iri", &publisher.iri)?;
            self.add(&iri, n(DCT, "publisher"), p);
        }
        if let Some(contact) = &dataset.contact_point {
            let c = minted("dataset.iri", &iri, "contact-point")?;
            self.add(&iri, n(DCAT, "contactPoint"), c.clone());
            self.a(&c, VCARD, "Kind");
            self.a(&c, VCARD, "Organization");
            self.text(&c, n(VCARD, "fn"), &contact.name);
            if let Some(email) = &contact.email {
                self.add(
                    &c,
                    n(VCARD, "hasEmail"),
                    mailto("contact_point.email", email)?,
                );
            }
            if let Some(url) = &contact.url {
                self.add(
                    &c,
                    n(VCARD, "hasURL"),
                    checked_iri("contact_point.url", url)?,
                );
            }
        }
        for theme in &dataset.themes {
            let t = checked_iri("theme.iri", &theme.iri)?;
            required("theme.label", &theme.label)?;
            self.add(&iri, n(DCAT, "theme"), t.clone());
            self.a(&t, SKOS, "Concept");
            self.text(&t, n(SKOS, "prefLabel"), &theme.label);
            if let Some(scheme) = &theme.scheme {
                self.add(
                    &t,
                    n(SKOS, "inScheme"),
                    checked_iri("theme.scheme", scheme)?,
                );
            }
        }
        for (i, location) in dataset.spatial.iter().enumerate() {
            self.location(&iri, i, location)?;
        }
        for (i, period) in dataset.temporal.iter().enumerate() {
            if period.start.is_none() && period.end.is_none() {
                return Err(DcatError::Missing {
                    field: "temporal.start|end",
                });
            }
            let p = minted("dataset.iri", &iri, &format!("temporal-{}", i + 1))?;
            self.add(&iri, n(DCT, "temporal"), p.clone());
            self.a(&p, DCT, "PeriodOfTime");
            self.moment(&p, n(DCAT, "startDate"), period.start);
            self.moment(&p, n(DCAT, "endDate"), period.end);
        }
        let mut distributions = Vec::with_capacity(dataset.distributions.len());
        for distribution in &dataset.distributions {
            let d = checked_iri("distribution.iri", &distribution.iri)?;
            self.add(&iri, n(DCAT, "distribution"), d.clone());
            distributions.push(d);
        }
        if let Some(publisher) = &dataset.publisher {
            self.agent(publisher)?;
        }
        for (d, distribution) in distributions.iter().zip(&dataset.distributions) {
            self.distribution(d, distribution)?;
        }
        Ok(())
    }

    fn distribution(&mut self, iri: &NamedNode, distribution: &Distribution) -> Res {
        self.a(iri, DCAT, "Distribution");
        self.text(iri, n(DCT, "title"), &distribution.title);
        self.text(iri, n(DCT, "description"), &distribution.description);
        let access = checked_iri("distribution.access_url", &distribution.access_url)?;
        self.add(iri, n(DCAT, "accessURL"), access);
        if let Some(url) = &distribution.download_url {
            self.add(
                iri,
                n(DCAT, "downloadURL"),
                checked_iri("distribution.download_url", url)?,
            );
        }
        if let Some(media_type) = &distribution.media_type {
            let valid = media_type.split_once('/').is_some_and(|(t, s)| {
                let token = |x: &str| {
                    !x.is_empty()
                        && x.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
                };
                token(t) && token(s)
            });
            if !valid {
                return Err(DcatError::InvalidMediaType {
                    value: media_type.clone(),
                });
            }
            let m = n(IANA_MEDIA_TYPES, &media_type.to_ascii_lowercase());
            self.add(iri, n(DCAT, "mediaType"), m.clone());
            self.a(&m, DCT, "MediaType");
        }
        if let Some(code) = &distribution.format {
            if code.is_empty()
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(DcatError::InvalidFileType {
                    value: code.clone(),
                });
            }
            let f = n(EU_AUTHORITY, &format!("file-type/{code}"));
            self.add(iri, n(DCT, "format"), f.clone());
            self.a(&f, DCT, "MediaTypeOrExtent");
        }
        if let Some(size) = distribution.byte_size {
            let size = Literal::new_typed_literal(size.to_string(), n(XSD, "nonNegativeInteger"));
            self.add(iri, n(DCAT, "byteSize"), size);
        }
        self.moment(iri, n(DCT, "issued"), distribution.issued);
        self.moment(iri, n(DCT, "modified"), distribution.modified);
        if let Some(licence) = &distribution.licence {
            self.licence(iri, "distribution.licence.iri", licence)?;
        }
        if let Some(availability) = distribution.availability {
            let table = format!("{EU_AUTHORITY}planned-availability");
            let concept = n(&table, &format!("/{}", availability.code()));
            self.add(iri, n(DCATAP, "availability"), concept.clone());
            self.concept(
                &concept,
                availability.label(),
                NamedNode::new_unchecked(table),
            );
        }
        Ok(())
    }

    pub fn catalog_page(&mut self, page: &CatalogPage<'_>) -> Res {
        self.catalog(page.catalog, page.datasets)?;
        self.paging(page.paging)?;
        for dataset in page.datasets {
            self.dataset(dataset)?;
        }
        Ok(())
    }
}

type Res = Result<(), DcatError>;
