use super::*;
use crate::coarsen::{grid_cell, local_midnight};

fn text(r: &Resource) -> &str {
    std::str::from_utf8(&r.bytes).unwrap()
}

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn every_dataset_is_defined_in_both_languages_with_a_slug_and_unique_files() {
    let defs = definitions();
    assert_eq!(
        defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        [
            "field-report-statistics",
            "field-reports-anonymised",
            "sensor-daily-aggregates",
            "reference-lists"
        ]
    );
    assert_eq!(licence_id(), "cc-by-4.0");
    let mut files = std::collections::BTreeSet::new();
    for d in defs {
        assert!(d
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        for t in [&d.title, &d.description] {
            assert!(!t.vi.is_empty() && !t.en.is_empty(), "{}", d.name);
        }
        for table in &d.tables {
            assert!(files.insert(table.name.clone()), "{} twice", table.name);
            for c in &table.columns {
                assert!(
                    !c.description.vi.is_empty() && !c.description.en.is_empty(),
                    "{}.{}",
                    table.name,
                    c.name
                );
            }
        }
    }
}

#[test]
fn locations_snap_to_the_centre_of_their_grid_cell() {
    // Lê Lợi air quality station and a point 40 m from it: the same cell.
    assert_eq!(grid_cell(16.4627, 107.5853), Some((16.4625, 107.5875)));
    assert_eq!(grid_cell(16.4631, 107.5851), Some((16.4625, 107.5875)));
    // The next cell north.
    assert_eq!(grid_cell(16.4651, 107.5853), Some((16.4675, 107.5875)));
    // South and west of the origin the cells still have their centre inside.
    assert_eq!(grid_cell(-0.001, -0.001), Some((-0.0025, -0.0025)));
    assert_eq!(grid_cell(f64::NAN, 107.0), None);
    assert_eq!(grid_cell(91.0, 107.0), None);
}

#[test]
fn local_days_start_at_midnight_in_vietnam() {
    let midnight = ms("2026-03-01T00:00:00+07:00");
    assert_eq!(local_midnight(midnight + 5), midnight);
    assert_eq!(local_midnight(midnight - 1), midnight - coarsen::DAY_MS);
    assert_eq!(coarsen::local_date(midnight - 1).to_string(), "2026-02-28");
    assert_eq!(
        coarsen::year_month(coarsen::local_date(midnight)),
        "2026-03"
    );
    assert_eq!(
        coarsen::date_of_day_number((midnight + coarsen::VN_OFFSET_MS) / coarsen::DAY_MS)
            .to_string(),
        "2026-03-01"
    );
}

fn reference() -> Reference {
    Reference {
        agencies: vec![AgencyEntry {
            code: "IOC".into(),
            name: "Trung tâm \"IOC\", Huế".into(),
            name_en: None,
            kind: "ioc".into(),
            commune_code: None,
            email: Some("dtm@hue.gov.vn".into()),
            phone: Some("1900 1075".into()),
            active: true,
        }],
        categories: vec![],
        admin_units: vec![AdminUnitEntry {
            code: "19786".into(),
            name: "Phường Thuận Hóa".into(),
            division_type: "phường".into(),
            province_code: "46".into(),
            lat: Some(16.46),
            lon: Some(107.59),
        }],
    }
}

#[test]
fn files_are_rfc4180_csv_and_json_with_the_same_rows() {
    let inputs = Inputs {
        now_ms: ms("2026-03-10T08:00:00+07:00"),
        reference: reference(),
        ..Inputs::default()
    };
    let all = build_all(&inputs).unwrap();
    let lists = all.iter().find(|d| d.name == "reference-lists").unwrap();
    assert_eq!(
        lists
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        [
            "agencies.csv",
            "agencies.json",
            "categories.csv",
            "categories.json",
            "admin-units.csv",
            "admin-units.json"
        ]
    );
    assert_eq!(
        text(lists.resource("agencies.csv").unwrap()),
        "code,name,name_en,kind,commune_code,email,phone,active\r\n\
         IOC,\"Trung tâm \"\"IOC\"\", Huế\",,ioc,,dtm@hue.gov.vn,1900 1075,true\r\n"
    );
    assert_eq!(
        text(lists.resource("agencies.json").unwrap()),
        "[{\"code\":\"IOC\",\"name\":\"Trung tâm \\\"IOC\\\", Huế\",\"name_en\":null,\"kind\":\"ioc\",\
         \"commune_code\":null,\"email\":\"dtm@hue.gov.vn\",\"phone\":\"1900 1075\",\"active\":true}]\n"
    );
    // An empty table still has its header (and an empty JSON array).
    let categories = lists.resource("categories.csv").unwrap();
    assert_eq!(categories.row_count, 0);
    assert_eq!(
        text(categories),
        "code,name,name_en,group,description,description_en,deadline_normal_days,\
         deadline_urgent_days,default_agency_code,active\r\n"
    );
    assert_eq!(text(lists.resource("categories.json").unwrap()), "[]\n");
    assert_eq!(lists.temporal_coverage, None);
    assert_eq!(lists.refreshed_at.to_rfc3339(), "2026-03-10T08:00:00+07:00");
    // Every resource's JSON rows carry exactly the schema's columns.
    for dataset in &all {
        for r in dataset
            .resources
            .iter()
            .filter(|r| r.format == Format::Json)
        {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(&r.bytes).unwrap();
            assert_eq!(rows.len(), r.row_count);
            for row in rows {
                let mut keys: Vec<&String> = row.keys().collect();
                let mut columns: Vec<&String> = r.columns.iter().map(|c| &c.name).collect();
                keys.sort();
                columns.sort();
                assert_eq!(keys, columns, "{}", r.name);
            }
        }
    }
}

#[test]
fn a_station_is_read_from_its_stored_entity() {
    let body = serde_json::json!({
        "id": "urn:ngsi-ld:FloodMonitoring:KimLong",
        "types": ["https://uri.etsi.org/ngsi-ld/default-context/FloodMonitoring"],
        "created_at": 0,
        "modified_at": 0,
        "attributes": {
            "https://uri.etsi.org/ngsi-ld/name": [
                {"kind": "Property", "value": "Trạm thủy văn Kim Long", "created_at": 0, "modified_at": 0}
            ],
            "https://uri.etsi.org/ngsi-ld/location": [
                {"kind": "GeoProperty", "value": {"type": "Point", "coordinates": [107.5578, 16.4573]},
                 "created_at": 0, "modified_at": 0}
            ],
            "https://uri.etsi.org/ngsi-ld/default-context/currentLevel": [
                {"kind": "Property", "value": 3.4, "unit_code": "MTR", "created_at": 0, "modified_at": 0}
            ]
        }
    });
    let station = Station::from_body(
        "urn:ngsi-ld:FloodMonitoring:KimLong",
        "https://uri.etsi.org/ngsi-ld/default-context/FloodMonitoring",
        &body.to_string(),
    );
    assert_eq!(station.name.as_deref(), Some("Trạm thủy văn Kim Long"));
    assert_eq!((station.lat, station.lon), (Some(16.4573), Some(107.5578)));
    assert_eq!(
        station.unit(
            "https://uri.etsi.org/ngsi-ld/default-context/currentLevel",
            None
        ),
        Some("MTR")
    );
    assert!(Options::default().publishes_type(&station.type_iri));
    assert!(!Options::default().publishes_type("https://smartdatamodels.org/Person"));
}
