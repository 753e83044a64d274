//! Behaviour of `dothi_ngsild::eval`: q queries (§4.9) and geo-queries (§4.10) against
//! expanded entities built in Rust, with real coordinates around Huế.

use std::collections::BTreeMap;

use dothi_ngsild::entity::{Attribute, AttributeKind, Entity};
use dothi_ngsild::eval::{
    bbox, check_patterns, matches_geo, matches_geometry, matches_q, CompiledGeoQuery, CompiledQuery,
};
use dothi_ngsild::{geo, q};
use serde_json::{json, Value};

const CORE: &str = "https://uri.etsi.org/ngsi-ld/";
const VOCAB: &str = "https://uri.etsi.org/ngsi-ld/default-context/";
const LOCATION: &str = "https://uri.etsi.org/ngsi-ld/location";

/// Kim Long water-level gauge, Phú Ốc, and the Huế citadel ([lon, lat]).
const KIM_LONG: [f64; 2] = [107.5419, 16.4659];
const PHU_OC: [f64; 2] = [107.5066, 16.5354];
const CITADEL: [f64; 2] = [107.5776, 16.4698];

fn expand(term: &str) -> String {
    match term {
        "location" | "observationSpace" => format!("{CORE}{term}"),
        _ => format!("{VOCAB}{term}"),
    }
}

fn attr(kind: AttributeKind, value: Value) -> Attribute {
    Attribute {
        kind,
        value,
        observed_at: None,
        unit_code: None,
        dataset_id: None,
        created_at: 1_700_000_000_000,
        modified_at: 1_700_000_000_000,
        sub_attributes: BTreeMap::new(),
    }
}

fn prop(value: Value) -> Attribute {
    attr(AttributeKind::Property, value)
}

fn in_dataset(mut a: Attribute, dataset: &str) -> Attribute {
    a.dataset_id = Some(dataset.to_string());
    a
}

fn entity(attributes: Vec<(&str, Vec<Attribute>)>) -> Entity {
    Entity {
        id: "urn:ngsi-ld:WaterLevelGauge:KimLong".into(),
        types: vec![format!("{VOCAB}WaterLevelGauge")],
        scopes: vec![],
        created_at: 1_700_000_000_000,
        modified_at: 1_700_000_000_000,
        attributes: attributes
            .into_iter()
            .map(|(name, instances)| (expand(name), instances))
            .collect(),
    }
}

fn parse(query: &str) -> q::Query {
    match q::parse(query) {
        Ok(parsed) => parsed,
        Err(e) => panic!("test query {query:?} does not parse: {e}"),
    }
}

/// Evaluates `query` with both entry points and checks they agree.
fn holds(query: &str, e: &Entity) -> bool {
    let parsed = parse(query);
    let free = matches_q(&parsed, e, &expand);
    let compiled = CompiledQuery::new(&parsed)
        .map(|c| c.matches(e, &expand))
        .unwrap_or(false);
    assert_eq!(
        free, compiled,
        "matches_q and CompiledQuery disagree on {query:?}"
    );
    free
}

/// The queries among `queries` that hold for `e`, in order.
fn holding<'a>(e: &Entity, queries: &[&'a str]) -> Vec<&'a str> {
    queries.iter().copied().filter(|q| holds(q, e)).collect()
}

// ---------------------------------------------------------------------------------------------
// q: existence, operators and types

#[test]
fn term_without_condition_matches_entities_having_the_attribute() {
    let e = entity(vec![("waterLevel", vec![prop(json!(2.4))])]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel",
                "rainfall",
                "waterLevel;rainfall",
                "rainfall|waterLevel"
            ]
        ),
        vec!["waterLevel", "rainfall|waterLevel"]
    );
}

#[test]
fn number_comparisons_follow_each_operator() {
    let e = entity(vec![("waterLevel", vec![prop(json!(2.4))])]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel==2.4",
                "waterLevel==2.40",
                "waterLevel==2",
                "waterLevel!=2",
                "waterLevel!=2.4",
                "waterLevel>2",
                "waterLevel>2.4",
                "waterLevel>=2.4",
                "waterLevel<3",
                "waterLevel<2.4",
                "waterLevel<=2.4",
                "waterLevel>-1e3",
            ]
        ),
        vec![
            "waterLevel==2.4",
            "waterLevel==2.40",
            "waterLevel!=2",
            "waterLevel>2",
            "waterLevel>=2.4",
            "waterLevel<3",
            "waterLevel<=2.4",
            "waterLevel>-1e3",
        ]
    );
}

#[test]
fn strings_compare_exactly_and_lexicographically() {
    let e = entity(vec![("district", vec![prop(json!("Phú Vang"))])]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"district=="Phú Vang""#,
                r#"district=="phú vang""#,
                r#"district!="Phong Điền""#,
                r#"district>"Phong Điền""#,
                r#"district<"Phú Vinh""#,
                r#"district>"Quảng Điền""#,
            ]
        ),
        vec![
            r#"district=="Phú Vang""#,
            r#"district!="Phong Điền""#,
            r#"district>"Phong Điền""#,
            r#"district<"Phú Vinh""#,
        ]
    );
}

#[test]
fn booleans_match_only_equal_booleans() {
    let e = entity(vec![("flooded", vec![prop(json!(true))])]);
    assert_eq!(
        holding(
            &e,
            &[
                "flooded==true",
                "flooded==false",
                "flooded!=false",
                "flooded!=true",
                r#"flooded=="true""#
            ]
        ),
        vec!["flooded==true", "flooded!=false"]
    );
}

#[test]
/// §4.9: values of different data types are unequal; they never compare or order.
fn mismatched_types_are_unequal_and_never_equal() {
    let e = entity(vec![
        ("waterLevel", vec![prop(json!(2.4))]),
        ("station", vec![prop(json!("Kim Long"))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"waterLevel=="2.4""#,
                r#"waterLevel!="2.4""#,
                r#"waterLevel>"1""#,
                "waterLevel==true",
                "waterLevel!=true",
                "station==5",
                "station!=5",
                "station<5",
                "station==2024-01-01",
            ]
        ),
        vec![r#"waterLevel!="2.4""#, "waterLevel!=true", "station!=5"]
    );
}

#[test]
fn ranges_include_both_bounds() {
    let e = entity(vec![("waterLevel", vec![prop(json!(2.4))])]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel==2.4..3",
                "waterLevel==1..2.4",
                "waterLevel==2.41..3",
                "waterLevel==3..1",
                "waterLevel!=2.41..3",
                "waterLevel!=1..3",
                r#"waterLevel=="a".."z""#,
            ]
        ),
        vec![
            "waterLevel==2.4..3",
            "waterLevel==1..2.4",
            "waterLevel!=2.41..3"
        ]
    );
}

#[test]
fn value_lists_match_any_item() {
    let e = entity(vec![("alertLevel", vec![prop(json!("II"))])]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"alertLevel=="I","II","III""#,
                r#"alertLevel=="I","III""#,
                r#"alertLevel!="I","III""#,
                r#"alertLevel!="I","II""#,
                r#"alertLevel==2,"II""#,
            ]
        ),
        vec![
            r#"alertLevel=="I","II","III""#,
            r#"alertLevel!="I","III""#,
            r#"alertLevel==2,"II""#,
        ]
    );
}

#[test]
fn uris_equal_string_values() {
    let e = entity(vec![(
        "source",
        vec![prop(json!("urn:ngsi-ld:Agency:VNMHA"))],
    )]);
    assert_eq!(
        holding(
            &e,
            &[
                "source==urn:ngsi-ld:Agency:VNMHA",
                "source!=urn:ngsi-ld:Agency:VNMHA",
                "source==urn:ngsi-ld:Agency:Other",
                "source!=urn:ngsi-ld:Agency:Other",
            ]
        ),
        vec![
            "source==urn:ngsi-ld:Agency:VNMHA",
            "source!=urn:ngsi-ld:Agency:Other"
        ]
    );
}

#[test]
fn relationships_only_take_equal_and_unequal() {
    let e = entity(vec![(
        "refDevice",
        vec![attr(
            AttributeKind::Relationship,
            json!("urn:ngsi-ld:Device:b"),
        )],
    )]);
    assert_eq!(
        holding(
            &e,
            &[
                "refDevice==urn:ngsi-ld:Device:b",
                "refDevice!=urn:ngsi-ld:Device:a",
                "refDevice>\"urn:a\"",
                "refDevice<=\"urn:z\"",
                "refDevice~=\"Device\"",
            ]
        ),
        vec![
            "refDevice==urn:ngsi-ld:Device:b",
            "refDevice!=urn:ngsi-ld:Device:a"
        ]
    );
}

#[test]
fn unequal_requires_the_attribute_to_exist() {
    let e = entity(vec![("waterLevel", vec![prop(json!(2.4))])]);
    assert_eq!(
        holding(&e, &["rainfall!=3", r#"rainfall!~="x""#, "waterLevel!=3"]),
        vec!["waterLevel!=3"]
    );
}

#[test]
fn and_or_and_parentheses_combine_terms() {
    let e = entity(vec![
        ("waterLevel", vec![prop(json!(2.4))]),
        ("alertLevel", vec![prop(json!("II"))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"waterLevel>2;alertLevel=="II""#,
                r#"waterLevel>3;alertLevel=="II""#,
                r#"waterLevel>3|alertLevel=="II""#,
                r#"(waterLevel>3|alertLevel=="I");waterLevel>2"#,
                r#"(waterLevel>3|alertLevel=="II");(rainfall|waterLevel<2.5)"#,
            ]
        ),
        vec![
            r#"waterLevel>2;alertLevel=="II""#,
            r#"waterLevel>3|alertLevel=="II""#,
            r#"(waterLevel>3|alertLevel=="II");(rainfall|waterLevel<2.5)"#,
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// q: instances, arrays and attribute kinds

#[test]
fn any_instance_satisfies_positive_terms_and_unequal_needs_all_to_differ() {
    let e = entity(vec![(
        "waterLevel",
        vec![
            prop(json!(2.4)),
            in_dataset(prop(json!(3.1)), "urn:ngsi-ld:Dataset:radar"),
        ],
    )]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel==2.4",
                "waterLevel==3.1",
                "waterLevel>3",
                "waterLevel<2.5",
                "waterLevel>4",
                "waterLevel!=2.4",
                "waterLevel!=5",
            ]
        ),
        vec![
            "waterLevel==2.4",
            "waterLevel==3.1",
            "waterLevel>3",
            "waterLevel<2.5",
            "waterLevel!=5",
        ]
    );
}

#[test]
fn array_values_match_by_membership_and_any_element() {
    let e = entity(vec![
        ("sensors", vec![prop(json!(["radar", "pressure"]))]),
        ("readings", vec![prop(json!([1.5, 2.5, 4.0]))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"sensors=="radar""#,
                r#"sensors=="float""#,
                r#"sensors!="float""#,
                r#"sensors!="radar""#,
                r#"sensors=="float","pressure""#,
                "readings>3.9",
                "readings>4",
                "readings<1.5",
                "readings==2..3",
                "readings!=3",
            ]
        ),
        vec![
            r#"sensors=="radar""#,
            r#"sensors!="float""#,
            r#"sensors=="float","pressure""#,
            "readings>3.9",
            "readings==2..3",
            "readings!=3",
        ]
    );
}

#[test]
fn relationships_compare_their_objects() {
    let list = attr(
        AttributeKind::ListRelationship,
        json!([{"object": "urn:ngsi-ld:Pump:1"}, {"object": "urn:ngsi-ld:Pump:2"}]),
    );
    let e = entity(vec![
        (
            "locatedOn",
            vec![attr(
                AttributeKind::Relationship,
                json!("urn:ngsi-ld:River:Huong"),
            )],
        ),
        (
            "upstreamOf",
            vec![attr(
                AttributeKind::Relationship,
                json!(["urn:ngsi-ld:Gauge:PhuOc", "urn:ngsi-ld:Gauge:Citadel"]),
            )],
        ),
        ("pumps", vec![list]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                "locatedOn==urn:ngsi-ld:River:Huong",
                r#"locatedOn=="urn:ngsi-ld:River:Huong""#,
                "locatedOn!=urn:ngsi-ld:River:Bo",
                "locatedOn!=urn:ngsi-ld:River:Huong",
                "upstreamOf==urn:ngsi-ld:Gauge:Citadel",
                "upstreamOf!=urn:ngsi-ld:Gauge:PhuOc",
                "pumps==urn:ngsi-ld:Pump:2",
                "pumps==urn:ngsi-ld:Pump:3",
                "locatedOn[name]",
            ]
        ),
        vec![
            "locatedOn==urn:ngsi-ld:River:Huong",
            r#"locatedOn=="urn:ngsi-ld:River:Huong""#,
            "locatedOn!=urn:ngsi-ld:River:Bo",
            "upstreamOf==urn:ngsi-ld:Gauge:Citadel",
            "pumps==urn:ngsi-ld:Pump:2",
        ]
    );
}

#[test]
fn language_properties_match_any_language_or_the_bracketed_one() {
    let e = entity(vec![(
        "name",
        vec![attr(
            AttributeKind::LanguageProperty,
            json!({"vi": "Trạm Kim Long", "en": "Kim Long station"}),
        )],
    )]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"name=="Trạm Kim Long""#,
                r#"name=="Kim Long station""#,
                r#"name[vi]=="Trạm Kim Long""#,
                r#"name[en]=="Trạm Kim Long""#,
                "name[fr]",
                "name[vi]",
                r#"name~="^Trạm""#,
                r#"name!="Kim Long station""#,
                r#"name[vi]!="Kim Long station""#,
                r#"name[*]=="Kim Long station""#,
                r#"name[*]!="Kim Long station""#,
                r#"name[*]!="Huế station""#,
            ]
        ),
        vec![
            r#"name=="Trạm Kim Long""#,
            r#"name=="Kim Long station""#,
            r#"name[vi]=="Trạm Kim Long""#,
            "name[vi]",
            r#"name~="^Trạm""#,
            r#"name[vi]!="Kim Long station""#,
            r#"name[*]=="Kim Long station""#,
            r#"name[*]!="Huế station""#,
        ]
    );
}

#[test]
fn geoproperties_only_satisfy_existence() {
    let e = entity(vec![(
        "location",
        vec![attr(
            AttributeKind::GeoProperty,
            json!({"type": "Point", "coordinates": KIM_LONG}),
        )],
    )]);
    assert_eq!(
        holding(
            &e,
            &[
                "location",
                r#"location=="Point""#,
                r#"location!="Point""#,
                r#"location[type]=="Point""#,
                r#"location~=".""#,
            ]
        ),
        vec!["location"]
    );
}

#[test]
fn vocab_properties_compare_their_vocab_strings() {
    let e = entity(vec![
        (
            "category",
            vec![attr(AttributeKind::VocabProperty, json!("hydrology"))],
        ),
        (
            "tags",
            vec![attr(
                AttributeKind::VocabProperty,
                json!(["river", "flood"]),
            )],
        ),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"category=="hydrology""#,
                r#"category!="weather""#,
                r#"tags=="flood""#,
                r#"tags=="weather""#,
            ]
        ),
        vec![
            r#"category=="hydrology""#,
            r#"category!="weather""#,
            r#"tags=="flood""#
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// q: paths

#[test]
fn bracketed_paths_walk_into_the_value_unexpanded() {
    let e = entity(vec![
        (
            "address",
            vec![prop(json!({
                "addressLocality": "Huế",
                "ward": {"name": "Kim Long", "code": 19_774}
            }))],
        ),
        (
            "outlets",
            vec![prop(
                json!([{"name": "Cống A", "width": 3}, {"name": "Cống B", "width": 5}]),
            )],
        ),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"address[addressLocality]=="Huế""#,
                r#"address[addressLocality]=="Hà Nội""#,
                r#"address[ward][name]=="Kim Long""#,
                "address[ward][code]>19000",
                "address[ward][code]",
                "address[postalCode]",
                r#"address=="Huế""#,
                "address",
                r#"outlets[name]=="Cống B""#,
                "outlets[width]>4",
                "outlets[width]>5",
            ]
        ),
        vec![
            r#"address[addressLocality]=="Huế""#,
            r#"address[ward][name]=="Kim Long""#,
            "address[ward][code]>19000",
            "address[ward][code]",
            "address",
            r#"outlets[name]=="Cống B""#,
            "outlets[width]>4",
        ]
    );
}

#[test]
fn dotted_paths_reach_expanded_sub_attributes() {
    let mut level = prop(json!(2.4));
    let mut accuracy = prop(json!(0.05));
    accuracy
        .sub_attributes
        .insert(expand("method"), prop(json!("radar")));
    level.sub_attributes.insert(expand("accuracy"), accuracy);
    level.sub_attributes.insert(
        expand("measuredBy"),
        attr(
            AttributeKind::Relationship,
            json!("urn:ngsi-ld:Device:radar-1"),
        ),
    );
    let e = entity(vec![("waterLevel", vec![level])]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel.accuracy<0.1",
                "waterLevel.accuracy>0.1",
                r#"waterLevel.accuracy.method=="radar""#,
                "waterLevel.measuredBy==urn:ngsi-ld:Device:radar-1",
                "waterLevel.accuracy",
                "waterLevel.precision",
                "waterLevel.accuracy.method.unknown",
            ]
        ),
        vec![
            "waterLevel.accuracy<0.1",
            r#"waterLevel.accuracy.method=="radar""#,
            "waterLevel.measuredBy==urn:ngsi-ld:Device:radar-1",
            "waterLevel.accuracy",
        ]
    );
}

#[test]
fn metadata_path_items_address_the_instance_metadata() {
    let mut level = prop(json!(2.4));
    level.observed_at = Some("2024-10-28T14:00:00+07:00".into());
    level.unit_code = Some("MTR".into());
    level.created_at = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    level.modified_at = 1_730_102_400_000; // 2024-10-28T08:00:00Z
    let radar = in_dataset(prop(json!(2.6)), "urn:ngsi-ld:Dataset:radar");
    let e = entity(vec![("waterLevel", vec![level, radar])]);
    assert_eq!(
        holding(
            &e,
            &[
                // 14:00+07:00 is 07:00Z.
                "waterLevel.observedAt==2024-10-28T07:00:00Z",
                "waterLevel.observedAt>2024-10-28T06:59:59Z",
                "waterLevel.observedAt>2024-10-28T07:00:00Z",
                "waterLevel.observedAt<2024-10-28T14:00:00+06:00",
                "waterLevel.createdAt==2024-01-01T00:00:00Z",
                "waterLevel.createdAt<2023-11-01T00:00:00Z",
                "waterLevel.modifiedAt>=2024-10-28T15:00:00+07:00",
                r#"waterLevel.unitCode=="MTR""#,
                r#"waterLevel.unitCode=="CMT""#,
                "waterLevel.datasetId==urn:ngsi-ld:Dataset:radar",
                "waterLevel.datasetId",
                "waterLevel.observedAt.extra",
                "waterLevel.unitCode[x]",
            ]
        ),
        vec![
            "waterLevel.observedAt==2024-10-28T07:00:00Z",
            "waterLevel.observedAt>2024-10-28T06:59:59Z",
            "waterLevel.observedAt<2024-10-28T14:00:00+06:00",
            "waterLevel.createdAt==2024-01-01T00:00:00Z",
            "waterLevel.modifiedAt>=2024-10-28T15:00:00+07:00",
            r#"waterLevel.unitCode=="MTR""#,
            "waterLevel.datasetId==urn:ngsi-ld:Dataset:radar",
            "waterLevel.datasetId",
        ]
    );
}

#[test]
fn missing_metadata_does_not_exist() {
    let e = entity(vec![("waterLevel", vec![prop(json!(2.4))])]);
    assert_eq!(
        holding(
            &e,
            &[
                "waterLevel.observedAt",
                "waterLevel.unitCode",
                "waterLevel.datasetId",
                "waterLevel.observedAt!=2024-01-01T00:00:00Z",
                "waterLevel.createdAt",
            ]
        ),
        vec!["waterLevel.createdAt"]
    );
}

// ---------------------------------------------------------------------------------------------
// q: dates, times and regular expressions

#[test]
fn date_time_values_compare_as_instants_across_offsets() {
    let e = entity(vec![
        ("peakAt", vec![prop(json!("2020-10-18T20:00:00+07:00"))]),
        (
            "typedPeakAt",
            vec![prop(
                json!({"@type": "DateTime", "@value": "2020-10-18T13:00:00Z"}),
            )],
        ),
        ("naivePeakAt", vec![prop(json!("2020-10-18T13:00:00"))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                "peakAt==2020-10-18T13:00:00Z",
                "peakAt==2020-10-18T13:00:00.000Z",
                "peakAt>2020-10-18T19:00:00+07:00",
                "peakAt<2020-10-18T13:00:00Z",
                "peakAt==2020-10-18T00:00:00Z..2020-10-18T23:59:59Z",
                r#"peakAt=="2020-10-18T20:00:00+07:00""#,
                "typedPeakAt==2020-10-18T20:00:00+07:00",
                "naivePeakAt==2020-10-18T13:00:00Z",
                "peakAt==2020-10-18",
            ]
        ),
        vec![
            "peakAt==2020-10-18T13:00:00Z",
            "peakAt==2020-10-18T13:00:00.000Z",
            "peakAt>2020-10-18T19:00:00+07:00",
            "peakAt==2020-10-18T00:00:00Z..2020-10-18T23:59:59Z",
            r#"peakAt=="2020-10-18T20:00:00+07:00""#,
            "typedPeakAt==2020-10-18T20:00:00+07:00",
            "naivePeakAt==2020-10-18T13:00:00Z",
        ]
    );
}

#[test]
fn dates_and_times_compare_with_strings_of_their_shape() {
    let e = entity(vec![
        ("floodDate", vec![prop(json!("2020-10-18"))]),
        ("highTide", vec![prop(json!("17:45:00"))]),
        ("badDate", vec![prop(json!("2020-1-8"))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                "floodDate==2020-10-18",
                "floodDate>2020-10-17",
                "floodDate<2020-10-18",
                "floodDate==2020-10-01..2020-10-31",
                "floodDate!=2020-10-19",
                "floodDate==2020-10-18T00:00:00Z",
                "highTide>17:00:00",
                "highTide<=17:45:00.000",
                "highTide<17:45:00",
                "badDate<2021-01-01",
            ]
        ),
        vec![
            "floodDate==2020-10-18",
            "floodDate>2020-10-17",
            "floodDate==2020-10-01..2020-10-31",
            "floodDate!=2020-10-19",
            "highTide>17:00:00",
            "highTide<=17:45:00.000",
        ]
    );
}

#[test]
fn patterns_match_anywhere_in_string_values() {
    let e = entity(vec![
        ("station", vec![prop(json!("Trạm thủy văn Kim Long"))]),
        ("waterLevel", vec![prop(json!(2.4))]),
    ]);
    assert_eq!(
        holding(
            &e,
            &[
                r#"station~="Kim""#,
                r#"station~="^Kim""#,
                r#"station~="Long$""#,
                r#"station~="(?i)kim long""#,
                r#"station~="kim long""#,
                r#"station!~="Phú Ốc""#,
                r#"station!~="Kim""#,
                r#"waterLevel~="2""#,
                r#"waterLevel!~="2""#,
                r#"rainfall!~="2""#,
            ]
        ),
        vec![
            r#"station~="Kim""#,
            r#"station~="Long$""#,
            r#"station~="(?i)kim long""#,
            r#"station!~="Phú Ốc""#,
        ]
    );
}

#[test]
fn invalid_patterns_are_reported_and_never_match() {
    let bad = parse(r#"station~="Kim(""#);
    let good = parse(r#"station~="Kim\d?";waterLevel>1"#);
    assert_eq!(check_patterns(&good), Ok(()));
    let Err(message) = check_patterns(&bad) else {
        panic!("an unclosed group must be rejected");
    };
    assert!(
        message.starts_with("invalid regular expression 'Kim(': "),
        "unexpected message: {message}"
    );
    assert_eq!(CompiledQuery::new(&bad).err(), Some(message));
    let e = entity(vec![("station", vec![prop(json!("Kim Long"))])]);
    assert!(!matches_q(&bad, &e, &expand));
}

#[test]
fn compiled_query_is_reusable_across_entities() {
    let compiled = match CompiledQuery::new(&parse(r#"station~="^Trạm";waterLevel>=3"#)) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let results: Vec<bool> = [
        ("Trạm Kim Long", 3.2),
        ("Trạm Phú Ốc", 2.1),
        ("Cầu Tràng Tiền", 4.0),
    ]
    .into_iter()
    .map(|(station, level)| {
        let e = entity(vec![
            ("station", vec![prop(json!(station))]),
            ("waterLevel", vec![prop(json!(level))]),
        ]);
        compiled.matches(&e, &expand)
    })
    .collect();
    assert_eq!(results, vec![true, false, false]);
}

// ---------------------------------------------------------------------------------------------
// geo

fn geo_query(georel: &str, geometry: &str, coordinates: &str) -> geo::GeoQuery {
    match geo::parse(georel, geometry, coordinates) {
        Ok(query) => query,
        Err(e) => panic!("test geo-query does not parse: {e}"),
    }
}

fn point(p: [f64; 2]) -> Value {
    json!({"type": "Point", "coordinates": p})
}

fn near(distances: &str) -> geo::GeoQuery {
    geo_query(
        &format!("near;{distances}"),
        "Point",
        &format!("[{},{}]", CITADEL[0], CITADEL[1]),
    )
}

/// Which of Kim Long (≈3.83 km from the citadel) and Phú Ốc (≈10.51 km) match.
fn near_hits(distances: &str) -> Vec<&'static str> {
    let query = near(distances);
    [("Kim Long", KIM_LONG), ("Phú Ốc", PHU_OC)]
        .into_iter()
        .filter(|(_, p)| matches_geometry(&query, &point(*p)))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn near_query_excludes_points_beyond_max_distance() {
    assert_eq!(near_hits("maxDistance==3800"), Vec::<&str>::new());
    assert_eq!(near_hits("maxDistance==3850"), vec!["Kim Long"]);
    assert_eq!(near_hits("maxDistance==10500"), vec!["Kim Long"]);
    assert_eq!(near_hits("maxDistance==10550"), vec!["Kim Long", "Phú Ốc"]);
}

#[test]
fn near_query_excludes_points_closer_than_min_distance() {
    assert_eq!(near_hits("minDistance==3800"), vec!["Kim Long", "Phú Ốc"]);
    assert_eq!(near_hits("minDistance==3850"), vec!["Phú Ốc"]);
    assert_eq!(near_hits("minDistance==10550"), Vec::<&str>::new());
}

#[test]
fn near_takes_one_positive_distance() {
    // §4.10 nearRel: one modifier, a PositiveNumber (no zero).
    for georel in [
        "near;minDistance==3000;maxDistance==5000",
        "near;maxDistance==0",
        "near;minDistance==0",
    ] {
        assert!(
            geo::parse(georel, "Point", "[107.5786,16.4696]").is_err(),
            "{georel}"
        );
    }
}

#[test]
fn near_query_measures_to_the_closest_point_of_lines_and_polygons() {
    // A river reach from Phú Ốc to Kim Long: its closest point to the citadel is Kim Long.
    let reach = json!({"type": "LineString", "coordinates": [PHU_OC, KIM_LONG]});
    assert!(matches_geometry(&near("maxDistance==3850"), &reach));
    assert!(!matches_geometry(&near("maxDistance==3800"), &reach));
    // A district polygon containing the citadel is at distance 0.
    let district = json!({"type": "Polygon", "coordinates": [[
        [107.55, 16.44], [107.60, 16.44], [107.60, 16.49], [107.55, 16.49], [107.55, 16.44]
    ]]});
    assert!(matches_geometry(&near("maxDistance==1"), &district));
    assert!(!matches_geometry(&near("minDistance==1"), &district));
}

/// A square around the citadel (≈ 4.4 km wide) that excludes Kim Long and Phú Ốc.
const CITADEL_SQUARE: &str =
    "[[[107.56,16.45],[107.60,16.45],[107.60,16.49],[107.56,16.49],[107.56,16.45]]]";

fn square(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[
        [min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat],
        [min_lon, min_lat]
    ]]})
}

/// The georels (among all seven but `near`) for which `geometry` matches `reference`.
fn relations(geometry: &Value, reference_type: &str, reference: &str) -> Vec<&'static str> {
    [
        "within",
        "contains",
        "intersects",
        "equals",
        "disjoint",
        "overlaps",
    ]
    .into_iter()
    .filter(|rel| matches_geometry(&geo_query(rel, reference_type, reference), geometry))
    .collect()
}

#[test]
fn point_inside_the_reference_polygon_is_within_and_intersects() {
    assert_eq!(
        relations(&point(CITADEL), "Polygon", CITADEL_SQUARE),
        vec!["within", "intersects"]
    );
    assert_eq!(
        relations(&point(KIM_LONG), "Polygon", CITADEL_SQUARE),
        vec!["disjoint"]
    );
}

#[test]
fn polygon_containing_the_reference_point_contains_it() {
    let district = square(107.50, 16.40, 107.65, 16.55);
    assert_eq!(
        relations(
            &district,
            "Point",
            &format!("[{},{}]", CITADEL[0], CITADEL[1])
        ),
        vec!["contains", "intersects"]
    );
}

#[test]
fn identical_and_rotated_polygons_are_equal() {
    let same = square(107.56, 16.45, 107.60, 16.49);
    assert_eq!(
        relations(&same, "Polygon", CITADEL_SQUARE),
        vec!["within", "contains", "intersects", "equals"]
    );
    let rotated = json!({"type": "Polygon", "coordinates": [[
        [107.60, 16.49], [107.56, 16.49], [107.56, 16.45], [107.60, 16.45], [107.60, 16.49]
    ]]});
    assert!(matches_geometry(
        &geo_query("equals", "Polygon", CITADEL_SQUARE),
        &rotated
    ));
    assert!(matches_geometry(
        &geo_query("equals", "Point", "[107.5419,16.4659]"),
        &point(KIM_LONG)
    ));
    assert!(!matches_geometry(
        &geo_query("equals", "Point", "[107.5419,16.4660]"),
        &point(KIM_LONG)
    ));
}

#[test]
fn partly_covering_polygons_overlap() {
    let east = square(107.58, 16.47, 107.62, 16.51);
    assert_eq!(
        relations(&east, "Polygon", CITADEL_SQUARE),
        vec!["intersects", "overlaps"]
    );
    let inner = square(107.57, 16.46, 107.59, 16.48);
    assert_eq!(
        relations(&inner, "Polygon", CITADEL_SQUARE),
        vec!["within", "intersects"]
    );
}

#[test]
fn lines_crossing_the_reference_intersect_and_lines_elsewhere_are_disjoint() {
    let crossing = json!({"type": "LineString", "coordinates": [KIM_LONG, [107.62, 16.47]]});
    assert_eq!(
        relations(&crossing, "Polygon", CITADEL_SQUARE),
        vec!["intersects"]
    );
    let upstream = json!({"type": "LineString", "coordinates": [PHU_OC, KIM_LONG]});
    assert_eq!(
        relations(&upstream, "Polygon", CITADEL_SQUARE),
        vec!["disjoint"]
    );
    // Two river reaches sharing a stretch overlap (same dimension, neither covers the other).
    let reach = json!({"type": "LineString", "coordinates": [[107.50, 16.50], [107.56, 16.50]]});
    assert_eq!(
        relations(&reach, "LineString", "[[107.53,16.50],[107.60,16.50]]"),
        vec!["intersects", "overlaps"]
    );
}

#[test]
fn multi_geometries_and_collections_are_evaluated_whole() {
    let gauges = json!({"type": "MultiPoint", "coordinates": [KIM_LONG, CITADEL]});
    // Points and a polygon differ in dimension, so they can intersect but never overlap.
    assert_eq!(
        relations(&gauges, "Polygon", CITADEL_SQUARE),
        vec!["intersects"]
    );
    assert_eq!(
        relations(
            &gauges,
            "MultiPoint",
            "[[107.5776,16.4698],[107.5066,16.5354]]"
        ),
        vec!["intersects", "overlaps"]
    );
    let collection = json!({"type": "GeometryCollection", "geometries": [
        point(PHU_OC),
        {"type": "LineString", "coordinates": [CITADEL, [107.59, 16.48]]}
    ]});
    assert_eq!(
        relations(&collection, "Polygon", CITADEL_SQUARE),
        vec!["intersects"]
    );
    assert!(matches_geometry(&near("maxDistance==1"), &collection));
}

#[test]
fn invalid_stored_geometries_never_match() {
    let invalid = [
        json!(null),
        json!("Point"),
        json!({"type": "Point"}),
        json!({"type": "Point", "coordinates": [200.0, 16.0]}),
        json!({"type": "Point", "coordinates": [107.5, "16.4"]}),
        json!({"type": "Point", "coordinates": [107.5]}),
        json!({"type": "LineString", "coordinates": [KIM_LONG]}),
        json!({"type": "Polygon", "coordinates": [[KIM_LONG, CITADEL, PHU_OC, CITADEL]]}),
        json!({"type": "Polygon", "coordinates": [[KIM_LONG, CITADEL, KIM_LONG]]}),
        json!({"type": "Polygon", "coordinates": []}),
        json!({"type": "MultiPoint", "coordinates": []}),
        json!({"type": "MultiPolygon", "coordinates": [[]]}),
        json!({"type": "GeometryCollection", "geometries": []}),
        json!({"type": "GeometryCollection", "geometries": [{"type": "Circle"}]}),
        json!({"type": "Feature", "geometry": point(KIM_LONG)}),
    ];
    let queries = [
        near("maxDistance==100000"),
        near("minDistance==1"),
        geo_query("within", "Polygon", CITADEL_SQUARE),
        geo_query("contains", "Point", "[107.5419,16.4659]"),
        geo_query("intersects", "Polygon", CITADEL_SQUARE),
        geo_query("equals", "Point", "[107.5419,16.4659]"),
        geo_query("disjoint", "Polygon", CITADEL_SQUARE),
        geo_query("overlaps", "Polygon", CITADEL_SQUARE),
    ];
    for geometry in &invalid {
        let hits: Vec<&geo::GeoRel> = queries
            .iter()
            .filter(|q| matches_geometry(q, geometry))
            .map(|q| &q.georel)
            .collect();
        assert_eq!(hits, Vec::<&geo::GeoRel>::new(), "{geometry}");
        assert_eq!(bbox(geometry), None, "{geometry}");
    }
}

#[test]
fn self_intersecting_polygons_do_not_panic() {
    // A bow-tie ring: invalid as a polygon but well-formed GeoJSON.
    let bow_tie = json!({"type": "Polygon", "coordinates": [[
        [107.56, 16.45], [107.60, 16.49], [107.60, 16.45], [107.56, 16.49], [107.56, 16.45]
    ]]});
    for rel in [
        "within",
        "contains",
        "intersects",
        "equals",
        "disjoint",
        "overlaps",
    ] {
        // Any answer is acceptable; the point is that evaluation returns.
        let _ = matches_geometry(&geo_query(rel, "Polygon", CITADEL_SQUARE), &bow_tie);
    }
    assert!(matches_geometry(&near("maxDistance==1"), &bow_tie));
}

#[test]
fn matches_geo_accepts_any_geoproperty_instance() {
    let geoprop = |p: [f64; 2]| attr(AttributeKind::GeoProperty, point(p));
    let two_instances = entity(vec![(
        "location",
        vec![
            geoprop(PHU_OC),
            in_dataset(geoprop(CITADEL), "urn:ngsi-ld:Dataset:survey"),
        ],
    )]);
    let not_geo = entity(vec![("location", vec![prop(point(CITADEL))])]);
    let other_property = entity(vec![("observationSpace", vec![geoprop(CITADEL)])]);
    let query = geo_query("within", "Polygon", CITADEL_SQUARE);
    let compiled = CompiledGeoQuery::new(&query);
    let results: Vec<(bool, bool)> = [&two_instances, &not_geo, &other_property]
        .into_iter()
        .map(|e| {
            (
                matches_geo(&query, e, LOCATION),
                compiled.matches(e, LOCATION),
            )
        })
        .collect();
    assert_eq!(results, vec![(true, true), (false, false), (false, false)]);
    assert!(matches_geo(
        &query,
        &other_property,
        &expand("observationSpace")
    ));
}

#[test]
fn bbox_covers_every_geometry_type() {
    let cases = [
        (point(KIM_LONG), [107.5419, 16.4659, 107.5419, 16.4659]),
        (
            json!({"type": "LineString", "coordinates": [PHU_OC, KIM_LONG, [107.5419, 16.4659, 3.0]]}),
            [107.5066, 16.4659, 107.5419, 16.5354],
        ),
        (
            square(107.56, 16.45, 107.60, 16.49),
            [107.56, 16.45, 107.60, 16.49],
        ),
        (
            json!({"type": "MultiPoint", "coordinates": [CITADEL, PHU_OC]}),
            [107.5066, 16.4698, 107.5776, 16.5354],
        ),
        (
            json!({"type": "MultiLineString", "coordinates": [[KIM_LONG, CITADEL], [PHU_OC, KIM_LONG]]}),
            [107.5066, 16.4659, 107.5776, 16.5354],
        ),
        (
            json!({"type": "MultiPolygon", "coordinates": [
                square(107.56, 16.45, 107.60, 16.49)["coordinates"],
                square(107.40, 16.60, 107.45, 16.70)["coordinates"]
            ]}),
            [107.40, 16.45, 107.60, 16.70],
        ),
        (
            json!({"type": "GeometryCollection", "geometries": [
                point(PHU_OC), square(107.56, 16.45, 107.60, 16.49)
            ]}),
            [107.5066, 16.45, 107.60, 16.5354],
        ),
    ];
    for (geometry, expected) in cases {
        assert_eq!(bbox(&geometry), Some(expected), "{geometry}");
    }
}
