"""Drive dothi's Open311 GeoReport v2 endpoint with the third-party `georeport` client (PyPI,
0.3.1), in JSON and XML, against the real binary on SQLite and PostgreSQL.

What georeport 0.3.1 really offers (read from its source; this is its whole API):

    GeoReport(root_address, jurisdiction=None, api_key=None, output_format='json'|'xml')
    .get_service_list()                  GET services.{fmt}
    .get_service_definition(code)        GET services/{code}.{fmt}
    .get_service_requests(service_request_id=, service_code=, start_date=, end_date=, status=)
                                         GET requests.{fmt}
    .get_service_request(id)             GET requests/{id}.{fmt}

Every call adds `jurisdiction_id` when the client has one, calls `raise_for_status()` (so
errors surface as `requests.HTTPError` carrying the response) and returns `response.json()` or
the `xmltodict` parse of the XML. The client stores `api_key` but never sends it: it has no
method for discovery, for POST requests (its README says so), for tokens, or for the
mySociety `servicerequestupdates` extension. For those four, and only those, the helpers
below make the HTTP call themselves, from the client's own settings (root address, api_key,
jurisdiction, format) and parsing the body exactly the way the client parses its answers.

Quirks of the client worked around here (client-side, not server bugs):
  * XML lists are parsed with plain `xmltodict.parse`, without `force_list`, so a list with
    a single item comes back as a dict instead of a one-item list (`as_list`), and an empty
    `<service_requests></service_requests>` makes `get_service_requests` fail with
    TypeError (`None['request']`) instead of returning [] (see test_empty_request_list).
  * XML gives every scalar as a string ("true", "16.4741") and empty elements as None;
    JSON gives typed values. Assertions compare through `text`/`flag`.
"""
import json
import time
from datetime import datetime

import pytest
import requests
import xmltodict
from georeport import GeoReport

JURISDICTION = "hue.gov.vn"
HEPCO = "Công ty Cổ phần Môi trường và Công trình đô thị Huế (HEPCO)"
LAT, LONG = "16.4741", "107.6121"
DESCRIPTION = "Đèn đường trước trường tiểu học trên đường Nguyễn Sinh Cung không sáng từ tối qua, cả đoạn tối om."
EMAIL = "le.thi.mai@example.vn"
FIRST_NAME, LAST_NAME = "Thị Mai", "Lê"
RESOLUTION_NOTE = "Đội điện chiếu sáng HEPCO đã thay bóng đèn LED, đèn sáng bình thường."


# ---------------------------------------------------------------------------------------------
# helpers

def as_list(value):
    """The client's XML answers: one item is a dict, none is None (xmltodict without force_list)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text(value):
    """Scalars compared across formats: XML gives strings, JSON numbers/None."""
    return None if value is None else str(value)


def flag(value):
    """A GeoReport boolean, true/false in either format."""
    return value is True or value == "true"


def parse(client, response):
    """A body parsed the way georeport parses its own answers (json() or xmltodict.parse)."""
    if client.output_format == "json":
        return response.json()
    return xmltodict.parse(response.content)


def error_of(client, response):
    """The first error of an Open311 error document, `[{"code", "description"}]` /
    `<errors><error>…</error></errors>`."""
    body = parse(client, response)
    err = body[0] if client.output_format == "json" else as_list(body["errors"]["error"])[0]
    return int(err["code"]), err["description"]


def client_get(client, path, **params):
    """GET for the documents georeport has no method for, built like the client's own calls:
    same root address, same jurisdiction_id, same format suffix, raise_for_status()."""
    if client.jurisdiction:
        params["jurisdiction_id"] = client.jurisdiction
    response = requests.get(f"{client.root_address}/{path}.{client.output_format}", params=params)
    response.raise_for_status()
    return parse(client, response)


def discovery(client):
    # georeport has no discovery method.
    body = client_get(client, "discovery")
    return body if client.output_format == "json" else body["discovery"]


def token_lookup(client, token):
    # georeport has no method for GET tokens/{token}.
    body = client_get(client, f"tokens/{token}")
    return body[0] if client.output_format == "json" else as_list(body["service_requests"]["request"])[0]


def request_updates(client, **params):
    # georeport has no method for the mySociety servicerequestupdates extension.
    body = client_get(client, "servicerequestupdates", **params)
    if client.output_format == "json":
        return body
    return as_list((body["service_request_updates"] or {}).get("request_update"))


def post_request(client, api_key=None, **fields):
    """POST requests.{fmt}: georeport 0.3.1 cannot create service requests, so this sends the
    form the spec defines with the client's api_key/jurisdiction/format. Returns the response
    (not raised) so tests can look at errors."""
    data = dict(fields)
    data["api_key"] = client.api_key if api_key is None else api_key
    if client.jurisdiction:
        data["jurisdiction_id"] = client.jurisdiction
    return requests.post(f"{client.root_address}/requests.{client.output_format}", data=data)


def created_request(client, response):
    body = parse(client, response)
    return body[0] if client.output_format == "json" else as_list(body["service_requests"]["request"])[0]


def submit_lamp_report(client):
    response = post_request(
        client,
        service_code="CSCC",
        lat=LAT,
        long=LONG,
        **{"attribute[lamp_state]": "off"},
        description=DESCRIPTION,
        email=EMAIL,
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
    )
    assert response.status_code == 200, response.text
    created = created_request(client, response)
    assert created["service_request_id"], created
    assert created["token"], created
    return created


def ids(items):
    return [r["service_request_id"] for r in items]


# ---------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(params=["json", "xml"])
def fmt(request):
    return request.param


@pytest.fixture
def client(server, fmt):
    return GeoReport(f"{server.url}/open311/v2", jurisdiction=JURISDICTION, api_key=server.api_key,
                     output_format=fmt)


@pytest.fixture(scope="module")
def submitted_cache():
    return {}


@pytest.fixture
def submitted(server, fmt, client, submitted_cache):
    """One CSCC report per backend and format, submitted once and shared by the read tests."""
    key = (server.backend, fmt)
    if key not in submitted_cache:
        submitted_cache[key] = submit_lamp_report(client)
    return submitted_cache[key]


# ---------------------------------------------------------------------------------------------
# tests

def test_discovery_lists_production_and_test_endpoints(client, server):
    doc = discovery(client)
    assert doc["changeset"]
    endpoints = doc["endpoints"] if client.output_format == "json" else as_list(doc["endpoints"]["endpoint"])
    assert sorted(e["type"] for e in endpoints) == ["production", "test"]
    for e in endpoints:
        assert e["url"] == f"{server.url}/open311/v2"
        assert e["specification"] == "http://wiki.open311.org/GeoReport_v2"
        formats = e["formats"] if client.output_format == "json" else as_list(e["formats"]["format"])
        assert set(formats) == {"text/xml", "application/json"}


def test_services_include_public_lighting(client):
    services = as_list(client.get_service_list())
    by_code = {s["service_code"]: s for s in services}
    assert "CSCC" in by_code, sorted(by_code)
    cscc = by_code["CSCC"]
    assert cscc["service_name"] == "Chiếu sáng công cộng"
    assert flag(cscc["metadata"])
    assert cscc["type"] == "realtime"


def test_cscc_definition_requires_lamp_state(client):
    definition = client.get_service_definition("CSCC")
    if client.output_format == "xml":
        attributes = as_list(definition["attributes"]["attribute"])
    else:
        attributes = definition["attributes"]
    assert definition["service_code"] == "CSCC"
    lamp_state = {a["code"]: a for a in attributes}["lamp_state"]
    assert lamp_state["datatype"] == "singlevaluelist"
    assert flag(lamp_state["required"])
    assert flag(lamp_state["variable"])
    values = lamp_state["values"] if client.output_format == "json" else as_list(lamp_state["values"]["value"])
    assert "off" in [v["key"] for v in values]
    assert all(v["name"] for v in values)


def test_post_returns_service_request_id_and_token(submitted):
    assert submitted["service_request_id"].isdigit()
    assert len(submitted["token"]) >= 16


def test_get_request_by_id(client, submitted):
    sid = submitted["service_request_id"]
    req = client.get_service_request(sid)
    assert req["service_request_id"] == sid
    assert req["service_code"] == "CSCC"
    assert req["service_name"] == "Chiếu sáng công cộng"
    assert req["status"] == "open"
    assert req["description"] == DESCRIPTION
    assert req["agency_responsible"] == HEPCO
    assert text(req["lat"]) == LAT and text(req["long"]) == LONG
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert req[field].endswith("+07:00"), (field, req[field])
        datetime.fromisoformat(req[field])
    assert req["expected_datetime"] > req["requested_datetime"]
    # The reporter's identity is never published.
    for field in ("email", "first_name", "last_name", "phone", "name"):
        assert field not in req
    dumped = json.dumps(req, ensure_ascii=False)
    assert EMAIL not in dumped
    assert f"{LAST_NAME} {FIRST_NAME}" not in dumped and FIRST_NAME not in dumped


def test_get_request_by_id_list_parameter(client, submitted):
    sid = submitted["service_request_id"]
    found = as_list(client.get_service_requests(service_request_id=sid))
    assert ids(found) == [sid]


def test_list_filtered_by_service_code(client, submitted):
    found = as_list(client.get_service_requests(service_code="CSCC"))
    assert submitted["service_request_id"] in ids(found)
    assert {r["service_code"] for r in found} == {"CSCC"}


def test_list_filtered_by_status(client, submitted):
    sid = submitted["service_request_id"]
    open_ = as_list(client.get_service_requests(status="open"))
    assert sid in ids(open_)
    assert {r["status"] for r in open_} == {"open"}
    closed = as_list(client.get_service_requests(status="closed"))
    assert closed, "the demo data has closed requests"
    assert sid not in ids(closed)
    assert {r["status"] for r in closed} == {"closed"}
    both = as_list(client.get_service_requests(service_code="CSCC", status="open"))
    assert sid in ids(both)
    assert {(r["service_code"], r["status"]) for r in both} == {("CSCC", "open")}


def test_token_lookup(client, submitted):
    found = token_lookup(client, submitted["token"])
    assert found["service_request_id"] == submitted["service_request_id"]
    assert found["token"] == submitted["token"]


def test_empty_request_list(client, server):
    window = dict(start_date="2020-01-01T00:00:00+07:00", end_date="2020-01-02T00:00:00+07:00")
    if client.output_format == "json":
        assert client.get_service_requests(**window) == []
    else:
        # georeport bug: it does xmltodict.parse(...)['service_requests']['request'], and an
        # empty list parses to {'service_requests': None}, so the client raises TypeError
        # instead of returning []. The server's document is the spec's empty list:
        with pytest.raises(TypeError):
            client.get_service_requests(**window)
        r = requests.get(f"{server.url}/open311/v2/requests.xml",
                         params=dict(window, jurisdiction_id=JURISDICTION))
        assert r.status_code == 200
        assert xmltodict.parse(r.content) == {"service_requests": None}


# errors: the client surfaces every error as requests.HTTPError carrying the response, whose
# body is the Open311 error document in the requested format.

def test_unknown_service_definition_is_404(client):
    with pytest.raises(requests.HTTPError) as exc:
        client.get_service_definition("KHONG_CO")
    assert exc.value.response.status_code == 404
    assert error_of(client, exc.value.response) == (404, "service_code 'KHONG_CO' not found")


def test_unknown_service_code_filter_is_400(client):
    with pytest.raises(requests.HTTPError) as exc:
        client.get_service_requests(service_code="KHONG_CO")
    assert exc.value.response.status_code == 400
    code, description = error_of(client, exc.value.response)
    assert code == 400 and "KHONG_CO" in description


def test_unknown_request_id_is_404(client):
    with pytest.raises(requests.HTTPError) as exc:
        client.get_service_request("999999999")
    assert exc.value.response.status_code == 404
    assert error_of(client, exc.value.response)[0] == 404


def test_other_jurisdiction_is_refused(server, fmt):
    other = GeoReport(f"{server.url}/open311/v2", jurisdiction="danang.gov.vn", output_format=fmt)
    with pytest.raises(requests.HTTPError) as exc:
        other.get_service_list()
    assert exc.value.response.status_code == 404
    assert error_of(other, exc.value.response) == (404, "jurisdiction_id not found")


def test_post_with_wrong_api_key_is_403(client):
    r = post_request(client, api_key="khong-phai-khoa-that", service_code="CSCC", lat=LAT, long=LONG,
                     **{"attribute[lamp_state]": "off"}, description=DESCRIPTION)
    assert r.status_code == 403
    assert error_of(client, r) == (403, "api_key is not valid")


def test_post_for_unknown_service_is_400(client):
    r = post_request(client, service_code="KHONG_CO", lat=LAT, long=LONG, description=DESCRIPTION)
    assert r.status_code == 400
    code, description = error_of(client, r)
    assert code == 400 and "KHONG_CO" in description


def test_resolution_through_native_api_reaches_open311(client, server):
    created = submit_lamp_report(client)
    sid = created["service_request_id"]
    before = client.get_service_request(sid)
    assert before["status"] == "open" and before["status_notes"] is None

    # updated_datetime has second precision; let the clock move so a change is visible.
    time.sleep(1.1)
    headers = {"Authorization": f"Bearer {server.token('hepco', 'dothi-hepco-2026')}"}
    r = requests.post(f"{server.url}/api/v1/reports/{sid}/accept", headers=headers)
    assert r.status_code == 200, r.text
    r = requests.post(f"{server.url}/api/v1/reports/{sid}/resolve", headers=headers,
                      json={"note": RESOLUTION_NOTE})
    assert r.status_code == 200, r.text

    after = client.get_service_request(sid)
    assert after["status"] == "closed"
    assert after["status_notes"] == RESOLUTION_NOTE
    assert after["requested_datetime"] == before["requested_datetime"]
    assert after["updated_datetime"].endswith("+07:00")
    assert after["updated_datetime"] > before["updated_datetime"]

    assert sid in ids(as_list(client.get_service_requests(status="closed", service_code="CSCC")))
    assert sid not in ids(as_list(client.get_service_requests(status="open", service_code="CSCC")))

    # The mySociety extension, as FixMyStreet polls it: updates since the report was made.
    updates = [u for u in request_updates(client, start_date=before["requested_datetime"])
               if u["service_request_id"] == sid]
    assert updates, "the report's updates are in the feed"
    last = updates[-1]
    assert last["status"] == "fixed"  # FixMyStreet's word for resolved
    assert last["description"] == RESOLUTION_NOTE
    assert last["updated_datetime"].endswith("+07:00")
    assert len({u["update_id"] for u in updates}) == len(updates)
