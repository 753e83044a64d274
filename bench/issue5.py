#!/usr/bin/env python3
"""Issue 5 benchmark client: the CKAN catalogue's package_search, and large uploads.

Standard library only, so it runs wherever python3 does. Driven by bench/issue5.sh, which
builds and starts the release server; each phase prints one JSON line that the shell script
turns into docs/BENCHMARKS.md rows.

    python3 bench/issue5.py load   URL TOKEN DATASETS CLIENTS
    python3 bench/issue5.py search URL REQUESTS
    python3 bench/issue5.py file   PATH MEGABYTES
"""

import hashlib
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse

# Agencies of reference/hue.json (organization name = code in lower case), weighted as a
# province's catalogue is: a few agencies publish most datasets, communes a few each.
ORGS = (["snnmt"] * 8 + ["sxd"] * 6 + ["syt"] * 5 + ["sdl"] * 5 + ["sgddt"] * 4 + ["stc"] * 4
        + ["hepco"] * 3 + ["huewaco"] * 3 + ["ioc"] * 3 + ["vpub"] * 3 + ["sct", "skhcn",
        "svhtt", "snv", "stp", "ttra", "bqlkkt", "cckl", "tthcc", "catp", "cvcx", "qldb",
        "thuyloi", "ubnd-19777", "ubnd-19786", "ubnd-19815", "ubnd-19813", "ubnd-19810",
        "ubnd-20023", "ubnd-19768", "ubnd-19996", "ubnd-20017"])
GROUPS = ["moi-truong", "do-thi", "hanh-chinh"]  # the demo groups (no group_create yet)
LICENSES = (["cc-by-4.0"] * 5 + ["vn-open-gov-data"] * 4 + ["odc-by"] * 2
            + ["cc-zero", "odc-odbl", "vn-shared-conditional", "other-open"])
FORMATS = ["CSV"] * 6 + ["JSON"] * 4 + ["XLSX"] * 3 + ["PDF"] * 2 + ["GeoJSON", "XML", "ZIP"]
# (Vietnamese title stem, English stem, tags, group)
TOPICS = [
    ("Chất lượng không khí", "Air quality", ["môi trường", "không khí", "quan trắc"], "moi-truong"),
    ("Chất lượng nước sông Hương", "Perfume River water quality", ["môi trường", "nước", "quan trắc"], "moi-truong"),
    ("Mực nước và lượng mưa", "Water levels and rainfall", ["thủy lợi", "lũ lụt", "nước"], "moi-truong"),
    ("Thu gom rác thải sinh hoạt", "Household waste collection", ["rác thải", "môi trường"], "moi-truong"),
    ("Cây xanh đô thị", "Urban trees", ["cây xanh", "đô thị"], "moi-truong"),
    ("Lưu lượng giao thông", "Traffic flow", ["giao thông", "đô thị"], "do-thi"),
    ("Chiếu sáng công cộng", "Street lighting", ["chiếu sáng", "hạ tầng", "điện"], "do-thi"),
    ("Cấp nước sạch", "Clean water supply", ["nước", "hạ tầng"], "do-thi"),
    ("Phản ánh hiện trường", "Field reports", ["phản ánh", "đô thị"], "do-thi"),
    ("Quy hoạch sử dụng đất", "Land use planning", ["quy hoạch", "đất đai"], "do-thi"),
    ("Điểm du lịch và di tích", "Tourist sites and monuments", ["du lịch", "di sản", "văn hóa"], None),
    ("Lượt khách du lịch", "Tourist arrivals", ["du lịch", "thống kê"], None),
    ("Cơ sở khám chữa bệnh", "Health facilities", ["y tế", "bệnh viện"], None),
    ("Tiêm chủng mở rộng", "Expanded immunisation", ["y tế", "tiêm chủng"], None),
    ("Trường học và học sinh", "Schools and pupils", ["giáo dục", "trường học"], None),
    ("Thu chi ngân sách", "Budget revenue and spending", ["ngân sách", "tài chính"], "hanh-chinh"),
    ("Thủ tục hành chính", "Administrative procedures", ["hành chính công", "dịch vụ công"], "hanh-chinh"),
    ("Doanh nghiệp đăng ký mới", "New business registrations", ["doanh nghiệp", "kinh tế"], "hanh-chinh"),
    ("Giá cả thị trường", "Market prices", ["kinh tế", "giá cả"], None),
    ("Dân số và lao động", "Population and labour", ["dân số", "thống kê", "lao động"], "hanh-chinh"),
]
PLACES = ["Phú Hội", "Thuận Hóa", "Phú Xuân", "Kim Long", "Hương Trà", "Hương Thủy",
          "Phong Điền", "Quảng Điền", "Phú Vang", "Phú Lộc", "A Lưới", "Vỹ Dạ", "Thủy Xuân",
          "Chân Mây - Lăng Cô", "Thuận An", "Dương Nỗ"]
PERIODS = {"tháng": "month", "quý": "quarter", "năm": "year"}


def connection(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)


def dataset(n):
    rng = random.Random(n)
    vi, en, tags, group = TOPICS[n % len(TOPICS)]
    place = rng.choice(PLACES)
    year = 2015 + rng.randrange(11)
    period = rng.choice(sorted(PERIODS))
    title = f"{vi} {place} theo {period}, {year}"
    notes = (f"Số liệu {vi.lower()} tại {place}, thành phố Huế, tổng hợp theo {period} "
             f"năm {year}. Dữ liệu do cơ quan chuyên môn cập nhật và công bố theo Nghị định "
             f"47/2020/NĐ-CP.")
    extra_tags = rng.sample(["Huế", "mở", "thống kê", "bản đồ", "hằng năm", "lịch sử",
                             "thời gian thực", f"năm {year}"], rng.randrange(0, 3))
    groups = [{"name": group}] if group else []
    if rng.random() < 0.15:
        groups.append({"name": rng.choice([g for g in GROUPS if g != group])})
    resources = []
    for r in range(rng.randrange(1, 4)):
        fmt = rng.choice(FORMATS)
        resources.append({
            "name": f"{vi} {year} ({fmt}) phần {r + 1}",
            "url": f"https://data.thuathienhue.gov.vn/files/{n}/{r}.{fmt.lower()}",
            "format": fmt,
            "description": f"Bảng số liệu {period}",
        })
    return {
        "name": f"bo-du-lieu-{n:05d}",
        "title": title,
        "notes": notes,
        "title_translated": {"vi": title, "en": f"{en}, {place}, by {PERIODS[period]}, {year}"},
        "notes_translated": {"vi": notes, "en": f"{en} in {place}, Huế, {year}."},
        "owner_org": rng.choice(ORGS),
        "private": rng.random() < 0.1,
        "license_id": rng.choice(LICENSES),
        "author": "Trung tâm Giám sát, điều hành đô thị thông minh",
        "version": f"{year}.1",
        "tags": [{"name": t} for t in dict.fromkeys(tags + extra_tags)],
        "groups": groups,
        "extras": [{"key": "tan_suat_cap_nhat", "value": period},
                   {"key": "pham_vi", "value": place}],
        "resources": resources,
    }


def request(conn, method, path, body=None, headers=None):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    payload = resp.read()
    return resp.status, payload


def load(url, token, datasets, clients):
    """package_create over HTTP, CLIENTS concurrent clients (the way ckanapi load does it)."""
    headers = {"Authorization": token}
    queue = list(range(datasets - 1, -1, -1))
    lock = threading.Lock()
    failures = []

    def worker():
        conn = connection(url)
        while True:
            with lock:
                if not queue or failures:
                    return
                n = queue.pop()
            status, payload = request(conn, "POST", "/api/3/action/package_create",
                                      dataset(n), headers)
            if status != 200:
                failures.append(f"package_create #{n} -> {status}: {payload[:400]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(failures[0])
    print(json.dumps({"phase": "load", "datasets": datasets, "clients": clients,
                      "seconds": round(seconds, 1), "per_s": round(datasets / seconds)}))


FACETS = "facet.field=" + urllib.parse.quote(
    json.dumps(["organization", "groups", "tags", "res_format", "license_id"],
               separators=(",", ":")))
Q = urllib.parse.quote
# (label shown in the table, query string)
SHAPES = [
    ("no q", FACETS),
    ("`q=chat luong` (two words, no diacritics)", f"q={Q('chat luong')}&{FACETS}"),
    ("`q=du lich` (two words, no diacritics)", f"q={Q('du lich')}&{FACETS}"),
    ('`fq=tags:"môi trường"`', "fq=" + Q('tags:"môi trường"') + "&" + FACETS),
    ("`fq=organization:snnmt`", f"fq={Q('organization:snnmt')}&{FACETS}"),
    ('`q=nuoc` + `fq=organization:snnmt res_format:CSV` + `sort=metadata_modified desc`',
     f"q=nuoc&fq={Q('organization:snnmt res_format:CSV')}"
     f"&sort={Q('metadata_modified desc')}&{FACETS}"),
    ("`q=thu*` + `fq=groups:do-thi` + `sort=title_string asc`, `rows=100`",
     f"q={Q('thu*')}&fq={Q('groups:do-thi')}&sort={Q('title_string asc')}&rows=100&{FACETS}"),
]


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def search(url, requests):
    """One client; the shapes interleaved, so that a slow moment of this shared machine falls
    on all of them alike. Each answer is checked (200, success, facets present)."""
    conn = connection(url)
    latencies = {label: [] for label, _ in SHAPES}
    counts = {}

    def one(label, query):
        path = "/api/3/action/package_search?" + query
        started = time.perf_counter()
        status, payload = request(conn, "GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise SystemExit(f"GET {path} -> {status}: {payload[:400]!r}")
        result = json.loads(payload)["result"]
        if len(result["search_facets"]) != 5:
            raise SystemExit(f"GET {path}: facets {list(result['search_facets'])}")
        counts[label] = result["count"]
        return elapsed

    for label, query in SHAPES * 3:  # warm up
        one(label, query)
    for i in range(requests):
        for label, query in SHAPES:
            latencies[label].append(one(label, query))
    print(json.dumps({"phase": "search", "results": [
        {"shape": label, "count": counts[label], "n": len(v),
         "p50": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2),
         "p99": round(percentile(v, 99), 2), "max": round(max(v), 2)}
        for label, v in latencies.items()]}))


def make_file(path, megabytes):
    """MEGABYTES of CSV-looking rows (not zeros, so that nothing along the way compresses)."""
    rng = random.Random(5)
    target = megabytes * 1024 * 1024
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        f.write(b"thoi_gian,tram,pm25,pm10,no2\n")
        written = 29
        block = []
        while written < target:
            line = (f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
                    f"{rng.randrange(24):02d}:00:00+07:00,tram-{rng.randrange(40)},"
                    f"{rng.uniform(0, 300):.2f},{rng.uniform(0, 400):.2f},"
                    f"{rng.uniform(0, 90):.2f}\n").encode()
            block.append(line)
            written += len(line)
            if len(block) == 20000:
                f.write(b"".join(block))
                block = []
        f.write(b"".join(block))
        f.truncate(target)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    print(json.dumps({"phase": "file", "bytes": os.path.getsize(path),
                      "sha256": digest.hexdigest()}))


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "load":
        load(args[0], args[1], int(args[2]), int(args[3]))
    elif phase == "search":
        search(args[0], int(args[1]))
    elif phase == "file":
        make_file(args[0], int(args[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
