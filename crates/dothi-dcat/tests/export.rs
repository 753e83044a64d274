//! The export through its public functions, asserting whole documents.

mod fixture;

use chrono::{NaiveDate, TimeZone, Utc};
use dothi_dcat::*;
use serde_json::json;

fn agency() -> Agent {
    Agent {
        iri: "https://data.example.vn/organization/so-xay-dung".into(),
        name: Text::vi("Sở Xây dựng"),
        kind: None,
        homepage: None,
        email: None,
    }
}

/// Only the mandatory properties, and texts that need escaping.
fn minimal_catalog() -> Catalog {
    Catalog {
        iri: "https://data.example.vn/catalog".into(),
        title: Text::vi("Cổng dữ liệu mở"),
        description: Text::vi("Dòng một\nDòng \"hai\" \\ ba"),
        publisher: agency(),
        homepage: None,
        languages: vec![],
        licence: None,
        issued: None,
        modified: None,
        spatial: vec![],
        theme_taxonomies: vec![],
        services: vec![],
    }
}

fn minimal_dataset() -> Dataset {
    Dataset {
        iri: "https://data.example.vn/dataset/cau-duong".into(),
        identifier: None,
        title: Text::vi_en("Cầu đường", "Bridges & roads <2026>"),
        description: Text::vi("Đoạn \"hỏng\" > 5 m"),
        publisher: None,
        contact_point: None,
        keywords: vec![],
        themes: vec![],
        spatial: vec![],
        temporal: vec![PeriodOfTime {
            start: Some(Moment::Instant(
                Utc.with_ymd_and_hms(2026, 1, 31, 17, 0, 0).unwrap(),
            )),
            end: None,
        }],
        issued: None,
        modified: Some(Moment::Day(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())),
        landing_page: None,
        languages: vec![],
        access_rights: None,
        frequency: None,
        version: None,
        distributions: vec![Distribution {
            iri: "https://data.example.vn/dataset/cau-duong/resource/1".into(),
            access_url: "https://data.example.vn/dataset/cau-duong?tab=t%C3%A0i-nguy%C3%AAn".into(),
            download_url: None,
            title: Text::default(),
            description: Text::default(),
            format: None,
            media_type: None,
            byte_size: Some(0),
            licence: None,
            availability: None,
            issued: None,
            modified: None,
        }],
    }
}

fn one_page(total_items: u64) -> Paging {
    Paging {
        collection_url: "https://data.example.vn/catalog.ttl?modified_since=2026-01-01".into(),
        page: 1,
        items_per_page: 100,
        total_items,
    }
}

const PREFIXES: &str = "\
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix gsp: <http://www.opengis.net/ont/geosparql#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dcatap: <http://data.europa.eu/r5r/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix dct: <http://purl.org/dc/terms/> .
";

#[test]
fn minimal_catalogue_page_is_written_as_this_turtle_with_escaped_literals() {
    let (catalog, datasets, paging) = (minimal_catalog(), [minimal_dataset()], one_page(1));
    let page = CatalogPage {
        catalog: &catalog,
        datasets: &datasets,
        paging: &paging,
    };
    let expected = PREFIXES.to_owned()
        + r#"<https://data.example.vn/catalog> a dcat:Catalog ;
	dct:title "Cổng dữ liệu mở"@vi ;
	dct:description "Dòng một\nDòng \"hai\" \\ ba"@vi ;
	dct:publisher <https://data.example.vn/organization/so-xay-dung> ;
	dcat:dataset <https://data.example.vn/dataset/cau-duong> .
<https://data.example.vn/organization/so-xay-dung> a foaf:Agent ;
	foaf:name "Sở Xây dựng"@vi .
<https://data.example.vn/catalog.ttl?modified_since=2026-01-01&page=1> a hydra:PagedCollection ;
	hydra:totalItems 1 ;
	hydra:itemsPerPage 100 ;
	hydra:firstPage "https://data.example.vn/catalog.ttl?modified_since=2026-01-01&page=1" ;
	hydra:lastPage "https://data.example.vn/catalog.ttl?modified_since=2026-01-01&page=1" .
<https://data.example.vn/dataset/cau-duong> a dcat:Dataset ;
	dct:title "Cầu đường"@vi , "Bridges & roads <2026>"@en ;
	dct:description "Đoạn \"hỏng\" > 5 m"@vi ;
	dct:modified "2026-02-01"^^xsd:date ;
	dct:temporal <https://data.example.vn/dataset/cau-duong#temporal-1> ;
	dcat:distribution <https://data.example.vn/dataset/cau-duong/resource/1> .
<https://data.example.vn/dataset/cau-duong#temporal-1> a dct:PeriodOfTime ;
	dcat:startDate "2026-02-01T00:00:00+07:00"^^xsd:dateTime .
<https://data.example.vn/dataset/cau-duong/resource/1> a dcat:Distribution ;
	dcat:accessURL <https://data.example.vn/dataset/cau-duong?tab=t%C3%A0i-nguy%C3%AAn> ;
	dcat:byteSize "0"^^xsd:nonNegativeInteger .
"#;
    assert_eq!(catalog_page_turtle(&page).unwrap(), expected);
}

#[test]
fn minimal_catalogue_page_is_written_as_this_compact_json_ld() {
    let paging = Paging {
        collection_url: "https://data.example.vn/catalog.jsonld".into(),
        ..one_page(1)
    };
    let (catalog, datasets) = (minimal_catalog(), [minimal_dataset()]);
    let page = CatalogPage {
        catalog: &catalog,
        datasets: &datasets,
        paging: &paging,
    };
    let context: serde_json::Value = serde_json::from_str(CONTEXT).unwrap();
    let expected = json!({
        "@context": context["@context"],
        "@graph": [
            {
                "@id": "https://data.example.vn/catalog",
                "@type": "dcat:Catalog",
                "title": { "vi": "Cổng dữ liệu mở" },
                "description": { "vi": "Dòng một\nDòng \"hai\" \\ ba" },
                "publisher": "https://data.example.vn/organization/so-xay-dung",
                "dataset": "https://data.example.vn/dataset/cau-duong"
            },
            {
                "@id": "https://data.example.vn/organization/so-xay-dung",
                "@type": "foaf:Agent",
                "name": { "vi": "Sở Xây dựng" }
            },
            {
                "@id": "https://data.example.vn/catalog.jsonld?page=1",
                "@type": "hydra:PagedCollection",
                "totalItems": "1",
                "itemsPerPage": "100",
                "firstPage": "https://data.example.vn/catalog.jsonld?page=1",
                "lastPage": "https://data.example.vn/catalog.jsonld?page=1"
            },
            {
                "@id": "https://data.example.vn/dataset/cau-duong",
                "@type": "dcat:Dataset",
                "title": { "vi": "Cầu đường", "en": "Bridges & roads <2026>" },
                "description": { "vi": "Đoạn \"hỏng\" > 5 m" },
                "modified": { "@value": "2026-02-01", "@type": "xsd:date" },
                "temporal": "https://data.example.vn/dataset/cau-duong#temporal-1",
                "distribution": "https://data.example.vn/dataset/cau-duong/resource/1"
            },
            {
                "@id": "https://data.example.vn/dataset/cau-duong#temporal-1",
                "@type": "dct:PeriodOfTime",
                "startDate": { "@value": "2026-02-01T00:00:00+07:00", "@type": "xsd:dateTime" }
            },
            {
                "@id": "https://data.example.vn/dataset/cau-duong/resource/1",
                "@type": "dcat:Distribution",
                "accessURL": "https://data.example.vn/dataset/cau-duong?tab=t%C3%A0i-nguy%C3%AAn",
                "byteSize": "0"
            }
        ]
    });
    assert_eq!(catalog_page_jsonld(&page).unwrap(), expected);
}

#[test]
fn fixture_dataset_with_every_recommended_property_is_written_as_this_turtle() {
    let dataset = &fixture::datasets()[0];
    let expected = PREFIXES.to_owned() + include_str!("expected/dataset.ttl");
    assert_eq!(dataset_turtle(dataset).unwrap(), expected);
}

#[test]
fn fixture_page_two_links_back_to_page_one_and_has_no_next_page() {
    let (catalog, datasets) = (fixture::catalog(), fixture::datasets());
    let paging = fixture::paging(2, "ttl");
    let page = CatalogPage {
        catalog: &catalog,
        datasets: fixture::page_datasets(&datasets, 2),
        paging: &paging,
    };
    let turtle = catalog_page_turtle(&page).unwrap();
    let hydra = "\
<https://dulieu.hue.gov.vn/catalog.ttl?page=2> a hydra:PagedCollection ;
	hydra:totalItems 3 ;
	hydra:itemsPerPage 2 ;
	hydra:firstPage \"https://dulieu.hue.gov.vn/catalog.ttl?page=1\" ;
	hydra:lastPage \"https://dulieu.hue.gov.vn/catalog.ttl?page=2\" ;
	hydra:previousPage \"https://dulieu.hue.gov.vn/catalog.ttl?page=1\" .
";
    assert!(turtle.contains(hydra), "{turtle}");
    assert!(
        turtle.contains("\tdcat:dataset <https://dulieu.hue.gov.vn/dataset/danh-sach-co-quan> .\n")
    );
    assert_eq!(turtle.matches("a dcat:Dataset").count(), 1);
}

#[test]
fn every_property_written_has_a_term_in_the_bundled_context() {
    let (catalog, datasets) = (fixture::catalog(), fixture::datasets());
    let paging = Paging {
        total_items: 3,
        items_per_page: 3,
        ..fixture::paging(1, "jsonld")
    };
    let page = CatalogPage {
        catalog: &catalog,
        datasets: &datasets,
        paging: &paging,
    };
    let document = catalog_page_jsonld(&page).unwrap();
    let nodes = document["@graph"].as_array().unwrap();
    // 12 for the catalogue and the paging, 16 + 7 + 2 for the datasets: shared nodes (the
    // province, the licence, Huế, the media and file types) are described once.
    assert_eq!(nodes.len(), 37);
    for node in nodes {
        for key in node.as_object().unwrap().keys() {
            assert!(
                key.starts_with('@') || !key.contains(':'),
                "no term for {key} in {node}"
            );
        }
    }
}

fn page_of(catalog: &Catalog, datasets: &[Dataset], paging: &Paging) -> Result<String, DcatError> {
    catalog_page_turtle(&CatalogPage {
        catalog,
        datasets,
        paging,
    })
}

#[test]
fn iris_that_would_break_out_of_angle_brackets_or_are_not_http_are_refused() {
    for bad in [
        "https://data.example.vn/a>b",
        "https://data.example.vn/a b",
        "https://data.example.vn/\"x\"",
        "https://data.example.vn/a\nb",
        "/dataset/relative",
        "javascript:alert(1)",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    ] {
        let mut dataset = minimal_dataset();
        dataset.distributions[0].access_url = bad.into();
        assert_eq!(
            dataset_turtle(&dataset),
            Err(DcatError::InvalidIri {
                field: "distribution.access_url",
                value: bad.into()
            })
        );
    }
    let mut catalog = minimal_catalog();
    catalog.publisher.iri = "https://data.example.vn/org>".into();
    assert_eq!(
        page_of(&catalog, &[], &one_page(0)),
        Err(DcatError::InvalidIri {
            field: "publisher.iri",
            value: catalog.publisher.iri.clone()
        })
    );
}

#[test]
fn e_mail_addresses_media_types_and_file_types_are_checked() {
    let mut dataset = minimal_dataset();
    dataset.contact_point = Some(ContactPoint {
        name: Text::vi("Văn phòng"),
        email: Some("vp@example.vn> <x".into()),
        url: None,
    });
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::InvalidEmail {
            field: "contact_point.email",
            value: "vp@example.vn> <x".into()
        })
    );
    let mut dataset = minimal_dataset();
    dataset.distributions[0].media_type = Some("text/csv>".into());
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::InvalidMediaType {
            value: "text/csv>".into()
        })
    );
    let mut dataset = minimal_dataset();
    dataset.distributions[0].format = Some("csv".into());
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::InvalidFileType {
            value: "csv".into()
        })
    );
    assert_eq!(eu_file_type("csv"), Some("CSV"));
    assert_eq!(eu_file_type(" GeoJSON "), Some("GEOJSON"));
    assert_eq!(eu_file_type("docx"), None);
}

#[test]
fn a_missing_mandatory_property_is_refused_naming_the_field() {
    let mut dataset = minimal_dataset();
    dataset.title = Text {
        vi: Some("  ".into()),
        en: None,
    };
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::Missing {
            field: "dataset.title"
        })
    );

    let mut dataset = minimal_dataset();
    dataset.description = Text::default();
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::Missing {
            field: "dataset.description"
        })
    );

    let mut dataset = minimal_dataset();
    dataset.temporal = vec![PeriodOfTime {
        start: None,
        end: None,
    }];
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::Missing {
            field: "temporal.start|end"
        })
    );

    let mut dataset = minimal_dataset();
    dataset.themes = vec![Theme {
        iri: "https://data.example.vn/group/giao-thong".into(),
        label: Text::default(),
        scheme: None,
    }];
    assert_eq!(
        dataset_turtle(&dataset),
        Err(DcatError::Missing {
            field: "theme.label"
        })
    );

    let mut catalog = minimal_catalog();
    catalog.publisher.name = Text::default();
    assert_eq!(
        page_of(&catalog, &[], &one_page(0)),
        Err(DcatError::Missing {
            field: "publisher.name"
        })
    );
}

#[test]
fn pages_start_at_one_and_stop_at_the_last() {
    let catalog = minimal_catalog();
    let paging = |page, total_items| Paging {
        page,
        total_items,
        items_per_page: 2,
        ..one_page(0)
    };
    assert_eq!(
        page_of(&catalog, &[], &paging(0, 3)),
        Err(DcatError::InvalidPage { page: 0 })
    );
    assert_eq!(
        page_of(&catalog, &[], &paging(3, 4)),
        Err(DcatError::PageOutOfRange { page: 3, last: 2 })
    );
    // An empty catalogue still has its one (empty) page.
    let empty = page_of(&catalog, &[], &paging(1, 0)).unwrap();
    assert!(empty.contains(
        "hydra:lastPage \"https://data.example.vn/catalog.ttl?modified_since=2026-01-01&page=1\" ."
    ));
    assert_eq!(
        page_url("https://data.example.vn/catalog.ttl", 7),
        "https://data.example.vn/catalog.ttl?page=7"
    );
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let (catalog, datasets) = (fixture::catalog(), fixture::datasets());
    let paging = fixture::paging(1, "ttl");
    let page = CatalogPage {
        catalog: &catalog,
        datasets: fixture::page_datasets(&datasets, 1),
        paging: &paging,
    };
    assert_eq!(
        catalog_page_turtle(&page).unwrap(),
        catalog_page_turtle(&page).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&catalog_page_jsonld(&page).unwrap()).unwrap(),
        serde_json::to_string(&catalog_page_jsonld(&page).unwrap()).unwrap()
    );
}

#[test]
fn escaped_literals_read_back_as_the_original_text() {
    let mut dataset = minimal_dataset();
    let tricky = "Tab\there, \"quotes\", back\\slash, >, <, newline\n, CR\r, 😀 and Huế";
    dataset.description = Text::vi(tricky);
    let turtle = dataset_turtle(&dataset).unwrap();
    let descriptions: Vec<String> = oxttl::TurtleParser::new()
        .for_slice(turtle.as_bytes())
        .map(|t| t.unwrap())
        .filter(|t| t.predicate.as_str() == "http://purl.org/dc/terms/description")
        .map(|t| match t.object {
            oxrdf::Term::Literal(l) => l.value().to_owned(),
            other => panic!("not a literal: {other}"),
        })
        .collect();
    assert_eq!(descriptions, [tricky]);
}
