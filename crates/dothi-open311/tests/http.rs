//! The Open311 router end to end, on SQLite and PostgreSQL.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use dothi_calendar::format_vn;
use dothi_domain::{Actor, RejectReason};
use dothi_store::reports::Command;
use dothi_store::testing::BACKENDS;
use dothi_store::time::from_ms;
use serde_json::{json, Value};
use support::*;

fn hue_reference() -> Value {
    serde_json::from_str(dothi_store::testing::HUE_REFERENCE).unwrap()
}

#[tokio::test]
async fn discovery_lists_production_and_test_endpoints_in_both_formats() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let endpoint = |kind: &str| {
            json!({
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": "http://127.0.0.1:8080/open311/v2",
                "changeset": "2026-11-23T00:00:00+07:00",
                "type": kind,
                "formats": ["text/xml", "application/json"],
            })
        };
        let res = env.get("/discovery.json").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(
            res.json(),
            json!({
                "changeset": "2026-11-23T00:00:00+07:00",
                "contact": "Trung tâm IOC Huế, 1022, ioc@hue.gov.vn",
                "key_service": "Liên hệ ioc@hue.gov.vn để được cấp api_key",
                "endpoints": [endpoint("production"), endpoint("test")],
            }),
            "{backend:?}"
        );

        let res = env.get("/discovery.xml").await;
        assert_eq!(res.status, StatusCode::OK);
        let endpoint_xml = |kind: &str| {
            format!(
                "<endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>\
                 <url>http://127.0.0.1:8080/open311/v2</url><changeset>2026-11-23T00:00:00+07:00</changeset>\
                 <type>{kind}</type><formats><format>text/xml</format><format>application/json</format></formats></endpoint>"
            )
        };
        assert_eq!(res.content_type, XML);
        assert_eq!(
            res.body,
            format!(
                "{XML_DECL}<discovery><changeset>2026-11-23T00:00:00+07:00</changeset>\
                 <contact>Trung tâm IOC Huế, 1022, ioc@hue.gov.vn</contact>\
                 <key_service>Liên hệ ioc@hue.gov.vn để được cấp api_key</key_service>\
                 <endpoints>{}{}</endpoints></discovery>",
                endpoint_xml("production"),
                endpoint_xml("test")
            )
        );
        xml_lines(&res.body);
    }
}

#[tokio::test]
async fn services_list_every_active_category_in_both_formats() {
    let mut categories: Vec<Value> = hue_reference()["categories"].as_array().unwrap().clone();
    categories.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    let expected: Vec<Value> = categories
        .iter()
        .map(|c| {
            let keywords: Vec<&str> = c["keywords"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            json!({
                "service_code": c["code"],
                "service_name": c["name"],
                "description": c["description"],
                "metadata": !c["attributes"].as_array().unwrap().is_empty(),
                "type": "realtime",
                "keywords": keywords.join(","),
                "group": c["group"],
            })
        })
        .collect();
    assert_eq!(expected.len(), 18);
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let res = env.get("/services.json").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.json(), Value::Array(expected.clone()), "{backend:?}");
        assert_key_order(
            &res.body,
            &[
                "service_code",
                "service_name",
                "description",
                "metadata",
                "type",
                "keywords",
                "group",
            ],
        );

        let lines = env.get("/services.xml").await.xml();
        assert_eq!(lines.len(), 18 * 7);
        let khac: Vec<&String> = lines.iter().filter(|l| l.contains("KHAC")).collect();
        assert_eq!(khac, vec!["services/service/service_code=KHAC"]);
        let cscc = lines
            .iter()
            .position(|l| l == "services/service/service_code=CSCC")
            .expect("CSCC listed");
        assert_eq!(
            lines[cscc..cscc + 7],
            [
                "services/service/service_code=CSCC".to_string(),
                "services/service/service_name=Chiếu sáng công cộng".into(),
                format!("services/service/description={}", expected.iter().find(|s| s["service_code"] == "CSCC").unwrap()["description"].as_str().unwrap()),
                "services/service/metadata=true".into(),
                "services/service/type=realtime".into(),
                "services/service/keywords=đèn,đèn đường,chiếu sáng,trụ đèn,bóng đèn,tối om,không sáng".into(),
                "services/service/group=Hạ tầng đô thị".into(),
            ]
        );
        let khac_metadata = lines
            .iter()
            .skip_while(|l| !l.ends_with("=KHAC"))
            .nth(3)
            .unwrap();
        assert_eq!(khac_metadata, "services/service/metadata=false");
    }
}

#[tokio::test]
async fn service_definition_lists_attributes_with_their_values() {
    let lamp_values = [
        ("off", "Không sáng"),
        ("flicker", "Chập chờn"),
        ("day", "Sáng ban ngày"),
        ("pole_damaged", "Trụ đèn nghiêng, gãy"),
        ("exposed_wire", "Hở dây điện, tủ điện"),
    ];
    let expected = json!({
        "service_code": "CSCC",
        "attributes": [
            {"variable": true, "code": "pole_number", "datatype": "string", "required": false, "datatype_description": null,
             "order": 1, "description": "Số hiệu trụ đèn (ghi trên thân trụ)", "values": []},
            {"variable": true, "code": "lamp_state", "datatype": "singlevaluelist", "required": true, "datatype_description": null,
             "order": 2, "description": "Tình trạng đèn",
             "values": lamp_values.iter().map(|(k, n)| json!({"key": k, "name": n})).collect::<Vec<_>>()},
            {"variable": true, "code": "lamp_count", "datatype": "number", "required": false, "datatype_description": null,
             "order": 3, "description": "Số bóng đèn bị hỏng", "values": []},
        ],
    });
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let res = env.get("/services/CSCC.json").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.json(), expected, "{backend:?}");
        assert_key_order(
            &res.body,
            &[
                "variable",
                "code",
                "datatype",
                "required",
                "datatype_description",
                "order",
                "description",
                "values",
            ],
        );

        let mut want = vec!["service_definition/service_code=CSCC".to_string()];
        let attr = |want: &mut Vec<String>,
                    code: &str,
                    datatype: &str,
                    required: bool,
                    order: i64,
                    description: &str| {
            let p = "service_definition/attributes/attribute";
            want.push(format!("{p}/variable=true"));
            want.push(format!("{p}/code={code}"));
            want.push(format!("{p}/datatype={datatype}"));
            want.push(format!("{p}/required={required}"));
            want.push(format!("{p}/datatype_description="));
            want.push(format!("{p}/order={order}"));
            want.push(format!("{p}/description={description}"));
        };
        attr(
            &mut want,
            "pole_number",
            "string",
            false,
            1,
            "Số hiệu trụ đèn (ghi trên thân trụ)",
        );
        want.push("service_definition/attributes/attribute/values=".into());
        attr(
            &mut want,
            "lamp_state",
            "singlevaluelist",
            true,
            2,
            "Tình trạng đèn",
        );
        for (k, n) in lamp_values {
            want.push(format!(
                "service_definition/attributes/attribute/values/value/key={k}"
            ));
            want.push(format!(
                "service_definition/attributes/attribute/values/value/name={n}"
            ));
        }
        attr(
            &mut want,
            "lamp_count",
            "number",
            false,
            3,
            "Số bóng đèn bị hỏng",
        );
        want.push("service_definition/attributes/attribute/values=".into());
        assert_eq!(
            env.get("/services/CSCC.xml").await.xml(),
            want,
            "{backend:?}"
        );

        let none = env.get("/services/KHAC.json").await.json();
        assert_eq!(none, json!({"service_code": "KHAC", "attributes": []}));
    }
}

/// The expected JSON of a request, read back from the store so timestamps are exact.
async fn expected_request(env: &Env, id: i64) -> Value {
    let r = env.store.report(&Actor::system(), id).await.unwrap();
    json!({
        "service_request_id": id.to_string(),
        "status": r.status.open311(),
        "status_notes": r.status_notes,
        "service_name": r.category_name,
        "service_code": r.category_code,
        "description": r.description,
        "agency_responsible": r.agency_name,
        "service_notice": "",
        "requested_datetime": format_vn(from_ms(r.created_at)),
        "updated_datetime": format_vn(from_ms(r.updated_at)),
        "expected_datetime": format_vn(from_ms(r.deadline_at)),
        "address": r.address,
        "address_id": null,
        "zipcode": null,
        "lat": r.lat,
        "long": r.lon,
        "media_url": r.photo_id.map(|p| format!("{BASE_URL}/api/v1/media/{p}")),
        "extended_attributes": {
            "status": r.status.as_str(),
            "priority": r.priority.as_str(),
            "channel": r.channel.as_str(),
            "commune_code": r.commune_code,
            "overdue": false,
        },
    })
}

#[tokio::test]
async fn posted_request_with_coordinates_is_routed_and_readable_by_id() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let huong_tra = env.store.reference().admin_unit("19996").cloned().unwrap();
        let (lat, lon) = (
            huong_tra.lat.unwrap().to_string(),
            huong_tra.lon.unwrap().to_string(),
        );
        let res = env
            .post_form(
                "/requests.json",
                &[
                    ("api_key", env.key.as_str()),
                    ("jurisdiction_id", "hue.gov.vn"),
                    ("service_code", "CSCC"),
                    ("lat", lat.as_str()),
                    ("long", lon.as_str()),
                    ("description", "Trụ đèn số 45 không sáng"),
                    ("attribute[lamp_state]", "off"),
                    ("attribute[pole_number]", "45"),
                    ("first_name", "An"),
                    ("last_name", "Nguyễn"),
                    ("email", "an@example.vn"),
                    ("phone", "0905123456"),
                    ("device_id", "device-42"),
                    ("account_id", "ignored"),
                    ("media_url", "http://example.org/ignored.jpg"),
                    ("unknown_extra", "ignored"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{backend:?}: {}", res.body);
        let posted = res.json();
        let id: i64 = posted[0]["service_request_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let report = env.store.report(&Actor::system(), id).await.unwrap();
        assert_eq!(
            posted,
            json!([{"service_request_id": id.to_string(), "service_notice": "", "account_id": null, "token": report.token}])
        );
        assert_key_order(
            &res.body,
            &[
                "service_request_id",
                "service_notice",
                "account_id",
                "token",
            ],
        );
        // What Open311 said was stored, through the reports service.
        assert_eq!(report.channel.as_str(), "open311");
        assert_eq!(
            report.attributes,
            json!({"lamp_state": "off", "pole_number": "45"})
        );
        let reporter = report.reporter.clone().unwrap();
        assert_eq!(reporter.name.as_deref(), Some("Nguyễn An"));
        assert_eq!(reporter.email.as_deref(), Some("an@example.vn"));
        assert_eq!(reporter.device_id.as_deref(), Some("device-42"));

        let res = env.get(&format!("/requests/{id}.json")).await;
        assert_eq!(res.status, StatusCode::OK);
        let expected = expected_request(&env, id).await;
        assert_eq!(expected["agency_responsible"], "UBND Phường Hương Trà");
        assert_eq!(expected["status"], "open");
        assert_eq!(expected["extended_attributes"]["status"], "assigned");
        assert_eq!(expected["extended_attributes"]["commune_code"], "19996");
        assert_eq!(expected["lat"], json!(huong_tra.lat.unwrap()));
        assert!(
            expected["expected_datetime"]
                .as_str()
                .unwrap()
                .ends_with("T23:59:59+07:00"),
            "{expected}"
        );
        assert!(expected["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+07:00"));
        assert_eq!(res.json(), json!([expected.clone()]), "{backend:?}");
        let mut order: Vec<&str> = REQUEST_FIELDS.to_vec();
        order.push("extended_attributes");
        assert_key_order(&res.body, &order);
        // Never the reporter's identity, in any form.
        for secret in ["an@example.vn", "0905123456", "Nguyễn", "device-42"] {
            assert!(!res.body.contains(secret), "{secret} leaked: {}", res.body);
        }

        let res = env.get(&format!("/requests/{id}.xml")).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.xml(), request_xml_lines(&expected));
        assert!(!res.body.contains("extended_attributes") && !res.body.contains("an@example.vn"));
    }
}

#[tokio::test]
async fn posted_request_with_only_an_address_finds_its_commune_in_the_address() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let res = env.post_form("/requests.xml", &env.lamp_report()).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let lines = res.xml();
        assert_eq!(lines.len(), 4);
        let id = lines[0]
            .strip_prefix("service_requests/request/service_request_id=")
            .unwrap()
            .to_string();
        let report = env
            .store
            .report(&Actor::system(), id.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            lines,
            [
                format!("service_requests/request/service_request_id={id}"),
                "service_requests/request/service_notice=".into(),
                "service_requests/request/account_id=".into(),
                format!("service_requests/request/token={}", report.token),
            ]
        );

        let expected = expected_request(&env, report.id).await;
        assert_eq!(expected["address"], "Kiệt 27, phường Hương Trà");
        assert_eq!(expected["lat"], Value::Null);
        assert_eq!(expected["extended_attributes"]["commune_code"], "19996");
        assert_eq!(expected["agency_responsible"], "UBND Phường Hương Trà");
        assert_eq!(
            env.get(&format!("/requests/{id}.json")).await.json(),
            json!([expected]),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn address_id_counts_as_the_address_and_priority_is_kept() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let id = env
            .submit(&[
                ("api_key", env.key.as_str()),
                ("service_code", "KHAC"),
                ("description", "Góp ý về bến thuyền"),
                ("address_id", "Bến thuyền Tòa Khâm, phường Thuận Hóa"),
                ("priority", "urgent"),
            ])
            .await;
        let got = env.get(&format!("/requests/{id}.json")).await.json();
        assert_eq!(got[0]["address"], "Bến thuyền Tòa Khâm, phường Thuận Hóa");
        assert_eq!(got[0]["extended_attributes"]["priority"], "urgent");
        assert_eq!(got[0]["extended_attributes"]["commune_code"], "19786");
        assert_eq!(
            got,
            json!([expected_request(&env, id).await]),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn multivalue_attributes_accept_the_bracket_list_form() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let id = env
            .submit(&[
                ("api_key", env.key.as_str()),
                ("service_code", "ONMT"),
                ("description", "Khói và bụi từ xưởng"),
                ("address_string", "phường Hương Trà"),
                ("attribute[pollution][]", "smoke"),
                ("attribute[pollution][]", "dust"),
            ])
            .await;
        let report = env.store.report(&Actor::system(), id).await.unwrap();
        assert_eq!(
            report.attributes,
            json!({"pollution": ["smoke", "dust"]}),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn multipart_post_with_a_photo_publishes_a_media_url() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let photo = png(4, 3);
        let fields = env.lamp_report();
        let res = env
            .post_multipart(
                "/requests.json",
                &fields,
                &[("den.png", photo.as_slice()), ("", &b""[..])],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{backend:?}: {}", res.body);
        let id: i64 = res.json()[0]["service_request_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();

        let got = env.get(&format!("/requests/{id}.json")).await.json();
        let media_url = got[0]["media_url"].as_str().expect("media_url").to_string();
        let photo_id: i64 = media_url
            .strip_prefix(&format!("{BASE_URL}/api/v1/media/"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got, json!([expected_request(&env, id).await]));
        // The URL names media the store serves, and it is the uploaded image.
        let (content_type, bytes) = env.store.media(photo_id, false).await.unwrap();
        assert_eq!(content_type, "image/png");
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (4, 3));
        let media = env.store.media_of_report(id).await.unwrap();
        assert_eq!(media.len(), 1, "the blank file input is not a photo");

        let xml = env.get(&format!("/requests/{id}.xml")).await.xml();
        assert!(xml.contains(&format!("service_requests/request/media_url={media_url}")));
    }
}

struct ErrorCase {
    what: &'static str,
    status: u16,
    description: String,
}

/// Check one error in both formats, with the exact body of each.
async fn assert_error_both_formats<F, Fut>(call: F, case: ErrorCase)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Resp>,
{
    let res = call("json").await;
    assert_eq!(
        res.status.as_u16(),
        case.status,
        "{} (json): {}",
        case.what,
        res.body
    );
    assert_eq!(res.content_type, JSON, "{}", case.what);
    assert_eq!(
        res.body,
        error_json(case.status, &case.description),
        "{}",
        case.what
    );
    let res = call("xml").await;
    assert_eq!(
        res.status.as_u16(),
        case.status,
        "{} (xml): {}",
        case.what,
        res.body
    );
    assert_eq!(res.content_type, XML, "{}", case.what);
    assert_eq!(
        res.body,
        error_xml(case.status, &case.description),
        "{}",
        case.what
    );
    assert_eq!(
        xml_lines(&res.body),
        [
            format!("errors/error/code={}", case.status),
            format!("errors/error/description={}", case.description)
        ]
    );
}

fn case(what: &'static str, status: u16, description: impl Into<String>) -> ErrorCase {
    ErrorCase {
        what,
        status,
        description: description.into(),
    }
}

#[tokio::test]
async fn submission_errors_use_the_open311_error_format() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let post = |overrides: Vec<(&'static str, &'static str)>, drop: &'static [&'static str]| {
            let mut pairs: Vec<(&str, &str)> = env
                .lamp_report()
                .into_iter()
                .filter(|(k, _)| !drop.contains(k) && !overrides.iter().any(|(o, _)| o == k))
                .collect();
            pairs.extend(overrides);
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let env = &env;
            move |fmt: &'static str| {
                let pairs = pairs.clone();
                async move {
                    let pairs: Vec<(&str, &str)> = pairs
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    env.post_form(&format!("/requests.{fmt}"), &pairs).await
                }
            }
        };
        assert_error_both_formats(
            post(vec![], &["api_key"]),
            case("missing api_key", 403, "api_key is required"),
        )
        .await;
        assert_error_both_formats(
            post(vec![("api_key", "dk_wrong")], &[]),
            case("invalid api_key", 403, "api_key is not valid"),
        )
        .await;
        assert_error_both_formats(
            post(vec![("service_code", "NOPE")], &[]),
            case(
                "unknown service_code",
                400,
                "invalid service_code: no active service has code 'NOPE'",
            ),
        )
        .await;
        assert_error_both_formats(
            post(vec![], &["service_code"]),
            case("missing service_code", 400, "service_code is required"),
        )
        .await;
        assert_error_both_formats(
            post(vec![], &["attribute[lamp_state]"]),
            case(
                "missing required attribute",
                400,
                "invalid attribute[lamp_state]: is required for this service",
            ),
        )
        .await;
        assert_error_both_formats(
            post(vec![("attribute[lamp_state]", "<blue>")], &[]),
            case(
                "unknown list value",
                400,
                "invalid attribute[lamp_state]: '<blue>' is not one of the listed values",
            ),
        )
        .await;
        assert_error_both_formats(
            post(vec![("lat", "abc"), ("long", "107.58")], &[]),
            case("bad lat", 400, "invalid lat: 'abc' is not a number"),
        )
        .await;
        assert_error_both_formats(
            post(vec![("lat", "16.4")], &[]),
            case(
                "lat without long",
                400,
                "invalid lat/long: give both lat and long, or neither",
            ),
        )
        .await;
        assert_error_both_formats(
            post(vec![("priority", "high")], &[]),
            case(
                "bad priority",
                400,
                "invalid priority: unknown value 'high'; expected one of normal, urgent",
            ),
        )
        .await;
        assert_error_both_formats(
            post(vec![("jurisdiction_id", "hanoi.gov.vn")], &[]),
            case("other jurisdiction", 404, "jurisdiction_id not found"),
        )
        .await;
        assert_error_both_formats(
            post(vec![("attribute[lamp_state", "off")], &["attribute[lamp_state]"]),
            case("malformed attribute", 400, "malformed parameter 'attribute[lamp_state'; use attribute[CODE] or attribute[CODE][]"),
        )
        .await;
        assert_error_both_formats(
            post(vec![], &["address_string"]),
            case(
                "no location",
                400,
                "invalid location: a location is required: lat and long, or address_string",
            ),
        )
        .await;
        assert_eq!(
            env.store
                .list_reports(&Actor::system(), &Default::default())
                .await
                .unwrap()
                .len(),
            0,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn oversized_and_unsupported_bodies_are_refused_in_open311_format() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let e = &env;
        let key = env.key.as_str();
        let huge = "x".repeat(1024 * 1024);
        let huge = huge.as_str();
        assert_error_both_formats(
            |fmt| async move {
                e.post_form(
                    &format!("/requests.{fmt}"),
                    &[("api_key", key), ("description", huge)],
                )
                .await
            },
            case(
                "form over 1 MiB",
                413,
                "the form body exceeds 1048576 bytes",
            ),
        )
        .await;
        let photo = png(2, 2);
        let fields = env.lamp_report();
        let fields = fields.as_slice();
        let six: Vec<(&str, &[u8])> = (0..6).map(|_| ("p.png", photo.as_slice())).collect();
        let six = six.as_slice();
        assert_error_both_formats(
            |fmt| async move {
                e.post_multipart(&format!("/requests.{fmt}"), fields, six)
                    .await
            },
            case(
                "six photos",
                413,
                "at most 5 media files are accepted per request",
            ),
        )
        .await;
        let too_big = vec![0u8; 10 * 1024 * 1024 + 1];
        let too_big = too_big.as_slice();
        assert_error_both_formats(
            |fmt| async move {
                e.post_multipart(&format!("/requests.{fmt}"), fields, &[("big.jpg", too_big)])
                    .await
            },
            case(
                "photo over 10 MiB",
                413,
                "each media file may be at most 10485760 bytes",
            ),
        )
        .await;
        assert_error_both_formats(
            |fmt| async move {
                e.post_multipart(
                    &format!("/requests.{fmt}"),
                    fields,
                    &[("notes.txt", b"just text")],
                )
                .await
            },
            case(
                "not an image",
                400,
                "unsupported image type: only JPEG, PNG and WebP are accepted",
            ),
        )
        .await;
        assert_error_both_formats(
            |fmt| {
                env.send(
                    Request::post(format!("/requests.{fmt}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from("{}"))
                        .unwrap(),
                )
            },
            case(
                "JSON body",
                415,
                "Content-Type must be application/x-www-form-urlencoded or multipart/form-data",
            ),
        )
        .await;
        assert_error_both_formats(
            |fmt| {
                env.send(
                    Request::post(format!("/requests.{fmt}"))
                        .header(header::CONTENT_TYPE, "multipart/form-data")
                        .body(Body::from("x"))
                        .unwrap(),
                )
            },
            case(
                "multipart without boundary",
                400,
                "the multipart/form-data body has no valid boundary",
            ),
        )
        .await;
        assert_eq!(
            env.store
                .list_reports(&Actor::system(), &Default::default())
                .await
                .unwrap()
                .len(),
            0,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn query_errors_use_the_open311_error_format() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let e = &env;
        let get = |path: &'static str| {
            let env = &env;
            move |fmt: &'static str| async move { env.get(&path.replace("{fmt}", fmt)).await }
        };
        assert_error_both_formats(
            get("/requests.{fmt}?start_date=2026-01-01T00:00:00%2B07:00&end_date=2026-06-01T00:00:00%2B07:00"),
            case("range over 90 days", 400, "date range may not exceed 90 days"),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?start_date=2020-01-01T00:00:00Z"),
            case(
                "open-ended range over 90 days",
                400,
                "date range may not exceed 90 days",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?start_date=2026-02-01T00:00:00%2B07:00&end_date=2026-01-01T00:00:00%2B07:00"),
            case("end before start", 400, "invalid end_date: must not be before start_date"),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?start_date=yesterday"),
            case(
                "bad date",
                400,
                "invalid start_date: 'yesterday' is not an ISO 8601 date-time with offset, e.g. 2025-03-01T08:00:00+07:00",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?status=pending"),
            case(
                "unknown status",
                400,
                "invalid status: unknown value 'pending'; expected open or closed",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?page_size=0"),
            case(
                "page_size 0",
                400,
                "invalid page_size: '0' is not an integer from 1 to 1000",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?page_size=5000"),
            case(
                "page_size too big",
                400,
                "invalid page_size: '5000' is not an integer from 1 to 1000",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?page=abc"),
            case(
                "bad page",
                400,
                "invalid page: 'abc' is not an integer from 1 to 1000000",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?service_code=NOPE"),
            case(
                "unknown service_code filter",
                400,
                "invalid service_code: no service has code 'NOPE'",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?service_request_id=1,x"),
            case(
                "bad id list",
                400,
                "invalid service_request_id: 'x' is not a request id",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests.{fmt}?start_date=2026-01-01T00:00:00Z&start_date=2026-01-02T00:00:00Z"),
            case(
                "repeated parameter",
                400,
                "invalid start_date: is given more than once",
            ),
        )
        .await;
        assert_error_both_formats(
            get("/requests/999999.{fmt}"),
            case("unknown id", 404, "service_request_id '999999' not found"),
        )
        .await;
        assert_error_both_formats(
            get("/requests/abc.{fmt}"),
            case("non-numeric id", 404, "service_request_id 'abc' not found"),
        )
        .await;
        assert_error_both_formats(
            get("/tokens/nope.{fmt}"),
            case("unknown token", 404, "token 'nope' not found"),
        )
        .await;
        assert_error_both_formats(
            get("/services/NOPE.{fmt}"),
            case("unknown service", 404, "service_code 'NOPE' not found"),
        )
        .await;
        assert_error_both_formats(
            get("/services.{fmt}?jurisdiction_id=hanoi.gov.vn"),
            case("other jurisdiction", 404, "jurisdiction_id not found"),
        )
        .await;
        assert_error_both_formats(
            get("/nothing.{fmt}"),
            case("unknown document", 404, "not found"),
        )
        .await;
        assert_error_both_formats(get("/a/b/c.{fmt}"), case("unknown path", 404, "not found"))
            .await;
        assert_error_both_formats(
            |fmt| {
                env.send(
                    Request::delete(format!("/services/CSCC.{fmt}"))
                        .body(Body::empty())
                        .unwrap(),
                )
            },
            case("DELETE", 405, "method not allowed"),
        )
        .await;
        assert_error_both_formats(
            |fmt| async move { e.post_form(&format!("/services.{fmt}"), &[]).await },
            case("POST to services", 405, "method not allowed"),
        )
        .await;
    }
}

#[tokio::test]
async fn a_missing_or_unknown_format_suffix_is_a_json_404() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let want = error_json(404, "not found: the path must end in .json or .xml");
        for path in [
            "/services",
            "/services.html",
            "/discovery.JSON",
            "/requests/1",
            "/requests/1.yaml",
            "/tokens/abc",
            "/services/CSCC",
        ] {
            let res = env.get(path).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(res.content_type, JSON, "{path}");
            assert_eq!(res.body, want, "{path}");
        }
        let res = env.post_form("/requests.txt", &env.lamp_report()).await;
        assert_eq!((res.status, res.body), (StatusCode::NOT_FOUND, want));
        assert_eq!(
            env.store
                .list_reports(&Actor::system(), &Default::default())
                .await
                .unwrap()
                .len(),
            0,
            "{backend:?}"
        );
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn status_filter_separates_open_and_closed_requests() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let open = env.submit(&env.lamp_report()).await;
        let rejected = env.submit(&env.lamp_report()).await;
        env.store
            .apply(
                &Actor::system(),
                rejected,
                Command::Reject {
                    reason: RejectReason::OutOfScope,
                    note: Some("Không thuộc thẩm quyền".into()),
                    duplicate_of: None,
                },
            )
            .await
            .unwrap();

        let res = env.get("/requests.json?status=open").await.json();
        assert_eq!(
            res,
            json!([expected_request(&env, open).await]),
            "{backend:?}"
        );
        let res = env.get("/requests.json?status=closed").await.json();
        let closed = expected_request(&env, rejected).await;
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["status_notes"], "Không thuộc thẩm quyền");
        assert_eq!(closed["extended_attributes"]["status"], "rejected");
        assert_eq!(res, json!([closed]));
        assert_eq!(
            ids(&env.get("/requests.json?status=open,closed").await.json()),
            vec![rejected, open]
        );
        assert_eq!(
            ids(&env.get("/requests.json").await.json()),
            vec![rejected, open]
        );

        let lines = env.get("/requests.xml?status=closed").await.xml();
        assert_eq!(lines, request_xml_lines(&closed));
    }
}

#[tokio::test]
async fn page_and_page_size_walk_requests_newest_first() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let mut created = Vec::new();
        for _ in 0..5 {
            created.push(env.submit(&env.lamp_report()).await);
        }
        created.reverse();
        assert_eq!(
            ids(&env.get("/requests.json?page_size=2").await.json()),
            created[0..2],
            "{backend:?}"
        );
        assert_eq!(
            ids(&env.get("/requests.json?page_size=2&page=2").await.json()),
            created[2..4]
        );
        assert_eq!(
            ids(&env.get("/requests.json?page_size=2&page=3").await.json()),
            created[4..5]
        );
        assert_eq!(
            env.get("/requests.json?page_size=2&page=4").await.json(),
            json!([])
        );
        assert_eq!(ids(&env.get("/requests.json?page=1").await.json()), created);
        let empty = env.get("/requests.xml?page=9").await;
        assert_eq!(
            empty.body,
            format!("{XML_DECL}<service_requests></service_requests>")
        );
        assert_eq!(empty.xml(), ["service_requests="]);
    }
}

#[tokio::test]
async fn service_request_id_list_overrides_every_other_filter() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let a = env.submit(&env.lamp_report()).await;
        let b = env.submit(&env.lamp_report()).await;
        let c = env.submit(&env.lamp_report()).await;
        let uri = format!(
            "/requests.json?service_request_id={a},{c},999999&status=closed&service_code=DIEN&page_size=1&page=7\
             &start_date=2020-01-01T00:00:00Z&end_date=2020-01-02T00:00:00Z"
        );
        assert_eq!(ids(&env.get(&uri).await.json()), vec![c, a], "{backend:?}");
        assert_eq!(ids(&env.get("/requests.json").await.json()), vec![c, b, a]);
    }
}

#[tokio::test]
async fn service_code_and_date_filters_narrow_the_list() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let lamp = env.submit(&env.lamp_report()).await;
        let other = env
            .submit(&[
                ("api_key", env.key.as_str()),
                ("service_code", "KHAC"),
                ("description", "Góp ý"),
                ("address_string", "phường Hương Trà"),
            ])
            .await;
        assert_eq!(
            ids(&env.get("/requests.json?service_code=CSCC").await.json()),
            vec![lamp],
            "{backend:?}"
        );
        assert_eq!(
            ids(&env
                .get("/requests.json?service_code=KHAC,CSCC")
                .await
                .json()),
            vec![other, lamp]
        );

        let now = chrono::Utc::now();
        let enc = |t: chrono::DateTime<chrono::Utc>| format_vn(t).replace('+', "%2B");
        let hour = chrono::TimeDelta::hours(1);
        let around = format!(
            "/requests.json?start_date={}&end_date={}",
            enc(now - hour),
            enc(now + hour)
        );
        assert_eq!(ids(&env.get(&around).await.json()), vec![other, lamp]);
        let before = format!(
            "/requests.json?start_date={}&end_date={}",
            enc(now - hour * 48),
            enc(now - hour * 24)
        );
        assert_eq!(env.get(&before).await.json(), json!([]));
        // An unencoded '+' arrives as a space and still means +07:00.
        let raw = format!("/requests.json?start_date={}", format_vn(now - hour));
        assert_eq!(ids(&env.get(&raw).await.json()), vec![other, lamp]);
    }
}

#[tokio::test]
async fn tokens_resolve_to_service_request_ids() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let res = env
            .post_form("/requests.json", &env.lamp_report())
            .await
            .json();
        let id = res[0]["service_request_id"].as_str().unwrap().to_string();
        let token = res[0]["token"].as_str().unwrap().to_string();
        let got = env.get(&format!("/tokens/{token}.json")).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.json(),
            json!([{"service_request_id": id, "token": token}]),
            "{backend:?}"
        );
        let got = env.get(&format!("/tokens/{token}.xml")).await;
        assert_eq!(
            got.xml(),
            [
                format!("service_requests/request/service_request_id={id}"),
                format!("service_requests/request/token={token}")
            ]
        );
    }
}

#[tokio::test]
async fn servicerequestupdates_report_status_changes_in_fixmystreet_terms() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let accepted = env.submit(&env.lamp_report()).await;
        let rejected = env.submit(&env.lamp_report()).await;
        env.store
            .apply(
                &Actor::system(),
                accepted,
                Command::Accept {
                    note: Some("Đội điện đã nhận việc".into()),
                },
            )
            .await
            .unwrap();
        env.store
            .apply(
                &Actor::system(),
                rejected,
                Command::Reject {
                    reason: RejectReason::OutOfScope,
                    note: None,
                    duplicate_of: None,
                },
            )
            .await
            .unwrap();

        let res = env.get("/servicerequestupdates.json").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let mut got = res.json();
        let mut update_ids = Vec::new();
        for u in got.as_array_mut().unwrap() {
            let id: i64 = u["update_id"].as_str().unwrap().parse().unwrap();
            update_ids.push(id);
            let t = u["updated_datetime"].as_str().unwrap();
            assert!(
                t.ends_with("+07:00") && chrono::DateTime::parse_from_rfc3339(t).is_ok(),
                "{t}"
            );
            u["update_id"] = json!("<id>");
            u["updated_datetime"] = json!("<time>");
        }
        assert!(update_ids.windows(2).all(|w| w[0] < w[1]), "{update_ids:?}");
        let update = |id: i64, status: &str, description: &str| {
            json!({"update_id": "<id>", "service_request_id": id.to_string(), "status": status,
                   "updated_datetime": "<time>", "description": description, "media_url": null})
        };
        assert_eq!(
            got,
            json!([
                update(accepted, "open", ""),
                update(accepted, "action_scheduled", ""),
                update(rejected, "open", ""),
                update(rejected, "action_scheduled", ""),
                update(accepted, "in_progress", "Đội điện đã nhận việc"),
                update(rejected, "not_councils_responsibility", ""),
            ]),
            "{backend:?}"
        );
        assert_key_order(
            &res.body,
            &[
                "update_id",
                "service_request_id",
                "status",
                "updated_datetime",
                "description",
                "media_url",
            ],
        );

        let lines = env.get("/servicerequestupdates.xml").await.xml();
        assert_eq!(lines.len(), 6 * 6);
        let p = "service_request_updates/request_update";
        assert_eq!(lines[24], format!("{p}/update_id={}", update_ids[4]));
        assert_eq!(lines[25], format!("{p}/service_request_id={accepted}"));
        assert_eq!(lines[26], format!("{p}/status=in_progress"));
        assert!(
            lines[27].starts_with(&format!("{p}/updated_datetime="))
                && lines[27].ends_with("+07:00")
        );
        assert_eq!(lines[28], format!("{p}/description=Đội điện đã nhận việc"));
        assert_eq!(lines[29], format!("{p}/media_url="));

        let now = chrono::Utc::now();
        let window = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
            format!(
                "/servicerequestupdates.json?start_date={}&end_date={}",
                format_vn(from).replace('+', "%2B"),
                format_vn(to).replace('+', "%2B")
            )
        };
        let day = chrono::TimeDelta::days(1);
        assert_eq!(
            env.get(&window(now - day * 3, now - day * 2)).await.json(),
            json!([])
        );
        assert_eq!(
            env.get(&window(now - day, now + day))
                .await
                .json()
                .as_array()
                .unwrap()
                .len(),
            6
        );
        let too_long = env.get(&window(now - day * 91, now)).await;
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            too_long.body,
            error_json(400, "date range may not exceed 90 days")
        );
    }
}

#[tokio::test]
async fn xml_output_escapes_citizen_text() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let tricky = "Đèn <script>alert('x')</script> & \"hỏng\" ]]>";
        let mut pairs = env.lamp_report();
        pairs.retain(|(k, _)| *k != "description");
        pairs.push(("description", tricky));
        let id = env.submit(&pairs).await;
        let res = env.get(&format!("/requests/{id}.xml")).await;
        assert!(!res.body.contains("<script>"), "{}", res.body);
        let lines = res.xml();
        assert!(
            lines.contains(&format!("service_requests/request/description={tricky}")),
            "{backend:?}: {lines:?}"
        );
        assert_eq!(
            env.get(&format!("/requests/{id}.json")).await.json()[0]["description"],
            tricky
        );
    }
}

#[tokio::test]
async fn servicerequestupdates_map_every_workflow_step_to_fixmystreet_statuses() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let system = Actor::system();
        let main = env.submit(&env.lamp_report()).await;
        let dup = env.submit(&env.lamp_report()).await;
        let vague = env.submit(&env.lamp_report()).await;
        let steps = [
            (
                main,
                Command::Transfer {
                    agency_code: "SXD".into(),
                    reason: "Thuộc Sở Xây dựng".into(),
                },
            ),
            (main, Command::Accept { note: None }),
            (
                main,
                Command::Resolve {
                    note: "Đã thay bóng đèn".into(),
                    photos: vec![],
                },
            ),
            (main, Command::Close { note: None }),
            (
                main,
                Command::Reopen {
                    reason: "Đèn lại tắt".into(),
                },
            ),
            (
                dup,
                Command::Reject {
                    reason: RejectReason::Duplicate,
                    note: None,
                    duplicate_of: Some(main),
                },
            ),
            (
                vague,
                Command::Reject {
                    reason: RejectReason::InsufficientInformation,
                    note: None,
                    duplicate_of: None,
                },
            ),
        ];
        for (id, command) in steps {
            env.store.apply(&system, id, command).await.unwrap();
        }
        let got: Vec<(i64, String, String)> = env
            .get("/servicerequestupdates.json")
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["service_request_id"].as_str().unwrap().parse().unwrap(),
                    u["status"].as_str().unwrap().to_string(),
                    u["description"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(i64, String, String)> = [
            (main, "open", ""),
            (main, "action_scheduled", ""),
            (dup, "open", ""),
            (dup, "action_scheduled", ""),
            (vague, "open", ""),
            (vague, "action_scheduled", ""),
            (main, "internal_referral", "Thuộc Sở Xây dựng"),
            (main, "in_progress", ""),
            (main, "fixed", "Đã thay bóng đèn"),
            (main, "closed", ""),
            (main, "open", "Đèn lại tắt"),
            (dup, "duplicate", ""),
            (vague, "no_further_action", ""),
        ]
        .into_iter()
        .map(|(id, s, d)| (id, s.to_string(), d.to_string()))
        .collect();
        assert_eq!(got, want, "{backend:?}");
    }
}

#[tokio::test]
async fn a_database_outage_is_a_503_in_open311_format() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        env.store.db.pool.close().await;
        let description = "the service is temporarily unavailable; please retry later";
        let res = env.get("/requests.json").await;
        assert_eq!(
            (res.status, res.body),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                error_json(503, description)
            ),
            "{backend:?}"
        );
        let res = env.post_form("/requests.xml", &env.lamp_report()).await;
        assert_eq!(
            (res.status, res.body),
            (StatusCode::SERVICE_UNAVAILABLE, error_xml(503, description)),
            "{backend:?}"
        );
    }
}
