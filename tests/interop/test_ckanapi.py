"""The real `ckanapi` CLI (PyPI) against the CKAN Action API, on SQLite and PostgreSQL.

Each test runs the command line as a user would: `ckanapi action`, `ckanapi search datasets`,
`ckanapi dump datasets --all`, and `ckanapi load datasets --upload-resources`, whose round trip
(dump one demo portal, load into a second one, dump again) must give back the same datasets.
"""
import json
import os
import subprocess
import sys

import pytest
import requests

from conftest import GENERATED_DATASETS, Server

# ckanapi's dump and load start worker processes named `ckanapi`: the venv's bin must be on PATH.
VENV_BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def ckanapi(*args, stdin=None):
    done = subprocess.run([os.path.join(VENV_BIN, "ckanapi"), *args], env=ENV, input=stdin,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"ckanapi {' '.join(args)} failed: {done.stdout}\n{done.stderr}"
    return done.stdout


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def normalised(dataset, *base_urls):
    """A dataset without what legitimately differs between two portals: times and the host
    (of download URLs, and of the links to the source portal that the demo data holds)."""
    text = json.dumps(dataset, sort_keys=True, ensure_ascii=False)
    for base_url in base_urls:
        text = text.replace(base_url, "{base}")
    d = json.loads(text)
    for key in ("metadata_created", "metadata_modified"):
        d.pop(key)
    d["organization"].pop("created")
    for r in d["resources"]:
        for key in ("created", "last_modified", "metadata_modified"):
            r.pop(key)
    return d


def test_status_show(server):
    out = json.loads(ckanapi("action", "status_show", "-r", server.url))
    assert out == {
        "ckan_version": "2.10.0",
        "dothi_version": out["dothi_version"],
        "error_emails_to": None,
        "extensions": ["dothi", "fluent"],
        "locale_default": "vi",
        "site_description": "",
        "site_title": "Cổng dữ liệu mở",
        "site_url": server.url,
    }


def test_search_datasets_ignores_diacritics(server):
    found = jsonl(ckanapi("search", "datasets", "q=khong khi", "sort=name asc", "-r", server.url))
    # The demo's air quality dataset, and the platform's sensor aggregates (air quality stations).
    assert [d["name"] for d in found] == ["chat-luong-khong-khi-hue-2025", "sensor-daily-aggregates"]
    by_tag = jsonl(ckanapi("search", "datasets", 'fq=tags:"môi trường"', "sort=name asc", "-r", server.url))
    assert [d["name"] for d in by_tag] == ["chat-luong-khong-khi-hue-2025", "diem-thu-gom-rac-thai",
                                           "sensor-daily-aggregates"]
    # The private dataset stays out of an anonymous search.
    everything = jsonl(ckanapi("search", "datasets", "q=*:*", "-r", server.url))
    assert sorted(d["name"] for d in everything) == sorted(requests.get(
        server.url + "/api/3/action/package_list").json()["result"])
    assert "ke-hoach-duy-tu-chieu-sang-2026" not in [d["name"] for d in everything]


def test_dump_datasets_all_gives_every_public_dataset_in_full(server):
    dumped = jsonl(ckanapi("dump", "datasets", "--all", "-q", "-r", server.url))
    names = requests.get(server.url + "/api/3/action/package_list").json()["result"]
    assert [d["name"] for d in dumped] == names
    for d in dumped:
        shown = requests.get(server.url + "/api/3/action/package_show", params={"id": d["id"]}).json()
        assert d == shown["result"]


def test_load_datasets_with_uploads_round_trips_between_two_portals(server, tmp_path):
    # The datasets the platform generates are each instance's own (the target publishes its own
    # under the same ids and rewrites them on every refresh): the agencies' datasets are copied.
    source = [d for d in jsonl(ckanapi("dump", "datasets", "--all", "-q", "-r", server.url))
              if d["name"] not in GENERATED_DATASETS]
    uploads = [r for d in source for r in d["resources"] if r["url_type"] == "upload"]
    assert uploads, "the demo catalogue has uploaded files"
    # Change the copy so that the load visibly writes: a new English title everywhere.
    for d in source:
        d["title_translated"]["en"] = "Copy of " + d["title_translated"]["en"]
    target = Server(server.backend)
    try:
        token = target.token("admin", "dothi-admin-2026")
        lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in source)
        ckanapi("load", "datasets", "--upload-resources", "-q", "-r", target.url, "-a", token,
                stdin=lines)
        copied = [d for d in jsonl(ckanapi("dump", "datasets", "--all", "-q", "-r", target.url))
                  if d["name"] not in GENERATED_DATASETS]
        assert [normalised(d, target.url, server.url) for d in copied] == \
            [normalised(d, server.url) for d in source]
        # The files themselves came across, byte for byte.
        for original in uploads:
            copy = next(r for d in copied for r in d["resources"] if r["id"] == original["id"])
            assert requests.get(copy["url"]).content == requests.get(original["url"]).content
    finally:
        target.stop()


def test_write_without_token_is_refused_in_ckan_terms(server):
    done = subprocess.run([os.path.join(VENV_BIN, "ckanapi"), "action", "package_create",
                           "name=khong-duoc-tao", "-r", server.url],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Action package_create requires an authenticated user" in done.stdout + done.stderr


def test_api_token_created_used_and_revoked_with_ckanapi(server):
    admin = server.token("admin", "dothi-admin-2026")
    created = json.loads(ckanapi("action", "api_token_create", "user=admin", "name=interop",
                                 "expires_in=2", "unit=86400", "-r", server.url, "-a", admin))
    token = created["token"]
    assert list(created) == ["token"] and token.startswith("da_")
    listed = json.loads(ckanapi("action", "api_token_list", "user_id=admin", "-r", server.url,
                                "-a", token))
    assert [(t["name"], t["expires_at"] is not None) for t in listed] == [("interop", True)]
    assert token not in json.dumps(listed)
    # A write with the new token, as its user (a sysadmin: groups are theirs to create).
    group = json.loads(ckanapi("action", "group_create", "name=interop-nhom", "title=Nhóm thử",
                               "-r", server.url, "-a", token))
    assert (group["name"], group["title"]) == ("interop-nhom", "Nhóm thử")
    ckanapi("action", "api_token_revoke", f"jti={listed[0]['id']}", "-r", server.url, "-a", admin)
    done = subprocess.run([os.path.join(VENV_BIN, "ckanapi"), "action", "group_create",
                           "name=interop-nhom-2", "-r", server.url, "-a", token],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Action group_create requires an authenticated user" in done.stdout + done.stderr
    assert requests.get(server.url + "/api/3/action/group_show",
                        params={"id": "interop-nhom-2"}).status_code == 404
