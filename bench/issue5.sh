#!/usr/bin/env bash
# Benchmark for issue 5 (open data portal, CKAN Action API). Writes its section of
# docs/BENCHMARKS.md.
#
#   bash bench/issue5.sh                          # 10,000 datasets, 300 rounds, 100 MB upload
#   DATASETS=2000 ROUNDS=50 UPLOAD_MB=20 bash bench/issue5.sh
#
# Release build, this machine's cores shared by the server and the client (bench/issue5.py,
# Python standard library, and curl), in one run, on SQLite and then on PostgreSQL
# (a throw-away database on $PG, trust auth, dropped at the end):
#   - DATASETS datasets loaded through package_create by CLIENTS concurrent clients with an
#     administrator's token (the product's only way in; no SQL behind its back); on
#     PostgreSQL then `ANALYZE` (the test server runs with autovacuum off, see
#     docs/OPEN-DATA.md "Speed");
#   - package_search with five facet fields, one client, ROUNDS requests of each query shape,
#     the shapes interleaved; p50/p95/p99;
#   - a UPLOAD_MB MB resource_create multipart upload (curl -F, as ckanapi sends it) and its
#     download: time, throughput, and the server's peak RSS (VmHWM, reset before each with
#     /proc/PID/clear_refs) against its RSS before.
set -euo pipefail
cd "$(dirname "$0")/.."

DATASETS="${DATASETS:-10000}"
CLIENTS="${CLIENTS:-4}"
ROUNDS="${ROUNDS:-300}"
UPLOAD_MB="${UPLOAD_MB:-100}"
PORT="${PORT:-18415}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
PGDB="dothi_bench5_$$"
WORK="target/bench/issue5"
OUT="docs/BENCHMARKS.md"
URL="http://127.0.0.1:$PORT"

cargo build --release --bin dothi
BIN="$PWD/target/release/dothi"
rm -rf "$WORK" && mkdir -p "$WORK"

SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== test file: $UPLOAD_MB MB"
file=$(python3 bench/issue5.py file "$WORK/upload.csv" "$UPLOAD_MB")
echo "$file"
j() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d$2)" "$1"; }
kb() { awk "/^$1:/ {print \$2}" "/proc/$SERVER/status"; }

# run LABEL DB_URL DATA_DIR: prints one JSON line with every figure of that backend.
run() {
    local label=$1 db=$2 data=$3
    # This runs in a subshell ($(run …)), which does not inherit the script's EXIT trap.
    trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true' EXIT
    "$BIN" migrate --db "$db" >/dev/null
    "$BIN" user create --db "$db" --username bench5-admin --password bench-password-1 \
        --role admin >/dev/null
    RUST_LOG=warn DOTHI_ALERT_ENGINE=false "$BIN" serve --db "$db" --demo --data-dir "$data" \
        --listen "127.0.0.1:$PORT" > "$WORK/server-$label.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.2; done
    curl -sf "$URL/healthz" >/dev/null || { cat "$WORK/server-$label.log" >&2; exit 1; }
    local token
    token=$(curl -sf -X POST -H 'Content-Type: application/json' \
        -d '{"username": "bench5-admin", "password": "bench-password-1"}' "$URL/api/v1/auth/token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

    echo "== $label: load $DATASETS datasets, $CLIENTS clients" >&2
    local load analyze=null
    load=$(python3 bench/issue5.py load "$URL" "$token" "$DATASETS" "$CLIENTS")
    echo "$load" >&2
    if [ "$label" = postgres ]; then
        local t0=$(date +%s.%N)
        psql "$PG/$PGDB" -qc ANALYZE
        analyze=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" \
            "$t0" "$(date +%s.%N)")
        echo "ANALYZE: $analyze s" >&2
    fi

    echo "== $label: package_search, $ROUNDS rounds" >&2
    local search load0 load1
    # The machine is shared: its load average around the searches says how much it was.
    load0=$(cut -d' ' -f1 /proc/loadavg)
    search=$(python3 bench/issue5.py search "$URL" "$ROUNDS")
    load1=$(cut -d' ' -f1 /proc/loadavg)
    echo "$search" >&2

    echo "== $label: $UPLOAD_MB MB upload and download" >&2
    local pkg rss0 up down rss1 hwm_up rss2 hwm_down hwm_all
    pkg=$(curl -sf -X POST -H "Authorization: $token" -H 'Content-Type: application/json' \
        -d '{"name": "tep-lon-bench", "title": "Tệp lớn (đo tải lên)", "owner_org": "ioc"}' \
        "$URL/api/3/action/package_create" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
    hwm_all=$(kb VmHWM)
    echo 5 > "/proc/$SERVER/clear_refs"  # VmHWM := VmRSS
    rss0=$(kb VmRSS)
    # No "Expect: 100-continue" round trip: the time is the transfer's.
    up=$(curl -s -o "$WORK/upload-$label.json" -H 'Expect:' -H "Authorization: $token" \
        -w '%{http_code} %{time_total} %{size_upload}' \
        -F "package_id=$pkg" -F "name=Số liệu quan trắc (tệp lớn)" -F format=CSV \
        -F "upload=@$WORK/upload.csv;type=text/csv" "$URL/api/3/action/resource_create")
    hwm_up=$(kb VmHWM)
    rss1=$(kb VmRSS)
    echo "upload: $up; RSS before $rss0 kB, peak $hwm_up kB, after $rss1 kB" >&2
    [ "${up%% *}" = 200 ] || { cat "$WORK/upload-$label.json" >&2; exit 1; }
    local res_url res_hash
    res_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["url"])' \
        "$WORK/upload-$label.json")
    res_hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["hash"])' \
        "$WORK/upload-$label.json")
    echo 5 > "/proc/$SERVER/clear_refs"
    rss2=$(kb VmRSS)
    down=$(curl -s -o "$WORK/download.csv" -w '%{http_code} %{time_total} %{size_download}' \
        "$res_url")
    hwm_down=$(kb VmHWM)
    echo "download: $down; RSS before $rss2 kB, peak $hwm_down kB" >&2
    [ "${down%% *}" = 200 ] || exit 1
    local sum
    sum=$(sha256sum "$WORK/download.csv" | cut -d' ' -f1)
    rm -f "$WORK/download.csv"
    [ "$sum" = "$(j "$file" "['sha256']")" ] || { echo "download differs from upload" >&2; exit 1; }
    [ "${res_hash#sha256:}" = "$sum" ] || echo "note: resource hash $res_hash" >&2

    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
    python3 - "$label" "$load" "$analyze" "$search" "$up" "$down" \
        "$rss0 $hwm_up $rss1 $rss2 $hwm_down $hwm_all" "$load0 $load1" <<'PY'
import json, sys
label, load, analyze, search, up, down, mem, loadavg = sys.argv[1:]
code, t, size = up.split()
dcode, dt, dsize = down.split()
rss0, hwm_up, rss1, rss2, hwm_down, hwm_all = (int(x) for x in mem.split())
print(json.dumps({"label": label, "load": json.loads(load), "analyze": json.loads(analyze),
                  "search": json.loads(search)["results"], "loadavg": loadavg.split(),
                  "upload": {"seconds": float(t), "bytes": int(float(size)),
                             "mb_s": round(int(float(size)) / float(t) / 1e6, 1)},
                  "download": {"seconds": float(dt), "bytes": int(float(dsize)),
                               "mb_s": round(int(float(dsize)) / float(dt) / 1e6, 1)},
                  "mem_mb": {"before_upload": round(rss0 / 1024, 1),
                             "peak_upload": round(hwm_up / 1024, 1),
                             "after_upload": round(rss1 / 1024, 1),
                             "before_download": round(rss2 / 1024, 1),
                             "peak_download": round(hwm_down / 1024, 1),
                             "peak_before": round(hwm_all / 1024, 1)}}))
PY
}

sqlite=$(run sqlite "sqlite://$PWD/$WORK/dothi.db" "$PWD/$WORK/data-sqlite")
psql "$PG/postgres" -qc "CREATE DATABASE $PGDB" >/dev/null
postgres=$(run postgres "$PG/$PGDB" "$PWD/$WORK/data-postgres")
psql "$PG/postgres" -qc "DROP DATABASE $PGDB WITH (FORCE)" >/dev/null
rm -f "$WORK/upload.csv"
echo "$sqlite" > "$WORK/sqlite.json"
echo "$postgres" > "$WORK/postgres.json"

COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates bench || echo ' + local changes')"
PGVERSION=$(psql "$PG/postgres" -Atc 'SHOW server_version' | cut -d' ' -f1)
AUTOVACUUM=$(psql "$PG/postgres" -Atc 'SHOW autovacuum')
MACHINE="$(nproc) cores ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"

section=$(python3 - "$OUT" "$sqlite" "$postgres" "$COMMIT" "$MACHINE" "$PGVERSION" "$AUTOVACUUM" \
    "$DATASETS" "$CLIENTS" "$ROUNDS" "$UPLOAD_MB" "$(date -u +%Y-%m-%d)" <<'PY'
import json, re, sys
out, sqlite, postgres, commit, machine, pgv, autovacuum, datasets, clients, rounds, mb, day = sys.argv[1:]
s, p = json.loads(sqlite), json.loads(postgres)
m = re.search(r"<!-- issue5-notes -->.*?<!-- /issue5-notes -->", open(out).read(), re.S)
notes = m.group(0) if m else ("<!-- issue5-notes -->\nAgainst the targets: (to write after the run)"
                              "\n<!-- /issue5-notes -->")
n = lambda x: f"{int(x):,}"
bold = lambda v: f"**{v} ms**" if v > 30 else f"{v} ms"
L = []
L.append("<!-- issue5 -->\n## Issue 5: open data portal (CKAN Action API)\n")
L.append(f"`bash bench/issue5.sh` — release build, {machine}, {day}, commit `{commit}`. "
         f"SQLite (WAL) and PostgreSQL {pgv} (autovacuum {autovacuum}) on the same machine, one "
         "after the other with the same data. The clients (`bench/issue5.py`, Python; curl) "
         "run on the same cores as the server.\n")
L.append(notes + "\n")
L.append(f"**Data**: {n(datasets)} datasets (plus the demo catalogue's) created through "
         f"`package_create` by {clients} concurrent clients with an administrator's token: "
         "Vietnamese titles and descriptions with diacritics (20 topics × 16 places × 11 years × "
         "3 periods) and English translations, 32 organizations (a few agencies publish most), "
         "2–5 tags each, 0–2 of the 3 groups, 1–3 resources in 7 formats, 7 licences, "
         "10 % private, two extras. Loading took "
         f"{s['load']['seconds']} s on SQLite ({n(s['load']['per_s'])} datasets/s) and "
         f"{p['load']['seconds']} s on PostgreSQL ({n(p['load']['per_s'])} datasets/s); "
         f"then `ANALYZE` on PostgreSQL ({p['analyze']} s), which the test server needs because "
         "its autovacuum is off (docs/OPEN-DATA.md, \"Speed\").\n")
L.append("**`package_search`** with `facet.field=[\"organization\",\"groups\",\"tags\",\"res_format\","
         f"\"license_id\"]`, anonymous, one client, {rounds} requests of each shape interleaved "
         "(target p99 ≤ 30 ms; above it in bold). One-minute load average before → after the "
         f"searches: SQLite {' → '.join(s['loadavg'])}, PostgreSQL {' → '.join(p['loadavg'])} "
         "(the machine is shared with other builds).\n")
L.append("| Query | found | SQLite p50 / p95 / p99 | PostgreSQL p50 / p95 / p99 |")
L.append("|---|---|---|---|")
for a, b in zip(s["search"], p["search"]):
    shape = a["shape"].replace("|", "\\|")
    found = str(a["count"]) if a["count"] == b["count"] else f"{a['count']} / {b['count']}"
    L.append(f"| {shape} | {found} | {a['p50']} / {a['p95']} / {bold(a['p99'])} "
             f"| {b['p50']} / {b['p95']} / {bold(b['p99'])} |")
L.append("")
L.append(f"**{mb} MB upload** (`resource_create`, multipart `upload`, `curl -F`) and its "
         "download from the resource's URL; the server's resident memory (VmRSS) just before, "
         "and its peak (VmHWM, reset with `/proc/PID/clear_refs` just before):\n")
L.append("| Backend | upload | RSS before → peak (after) | download | RSS before → peak |")
L.append("|---|---|---|---|---|")
for r, name in ((s, "SQLite"), (p, "PostgreSQL")):
    m, u, d = r["mem_mb"], r["upload"], r["download"]
    L.append(f"| {name} | {u['seconds']:.2f} s, {u['mb_s']} MB/s | {m['before_upload']} → "
             f"**{m['peak_upload']} MB** ({m['after_upload']} MB) | {d['seconds']:.2f} s, "
             f"{d['mb_s']} MB/s | {m['before_download']} → **{m['peak_download']} MB** |")
L.append("")
L.append(f"The downloaded file is checked against the uploaded one (SHA-256). Peak RSS of the "
         f"whole run before the upload (loading and searching): SQLite {s['mem_mb']['peak_before']} MB, "
         f"PostgreSQL {p['mem_mb']['peak_before']} MB.")
L.append("<!-- /issue5 -->")
print("\n".join(L))
PY
)
python3 - "$OUT" "$section" <<'PY'
import sys, re
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
if "<!-- issue5 -->" in text:
    text = re.sub(r"<!-- issue5 -->.*?<!-- /issue5 -->", lambda m: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "== wrote $OUT"
