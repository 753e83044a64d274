#!/usr/bin/env bash
# Benchmark for issue 3 (IOC dashboard and pages). Writes its section of docs/BENCHMARKS.md.
#
#   bash bench/issue3.sh              # 1,000,000 reports
#   REPORTS=100000 bash bench/issue3.sh
#
# Reuses the database of bench/issue2.sh when it holds the same number of reports (loading a
# million takes about 16 minutes); otherwise loads its own. Measures against the release build,
# on this machine's 2 cores, in one run:
#   - every query the dashboard makes (KPIs, trend, ranking, map) for its default period
#     (30 days), for this year and for three years, one client, with wrk;
#   - the dashboard page in headless Chromium: time until the KPI tiles hold values, cold
#     and warm cache; time until the map has its markers;
#   - the live feed: a report filed through the API until it shows in the open page.
set -euo pipefail
cd "$(dirname "$0")/.."

REPORTS="${REPORTS:-1000000}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-18413}"
RUNS="${RUNS:-10}"
WORK="target/bench/issue3"
OUT="docs/BENCHMARKS.md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { apt-get update -qq && apt-get install -y -qq chromium; }
(cd tests/e2e && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --quiet)

cargo build --release --bin dothi
BIN="$PWD/target/release/dothi"
mkdir -p "$WORK"
if [ -f target/bench/issue2/dothi.db ] && [ "$(cat target/bench/issue2/reports 2>/dev/null)" = "$REPORTS" ]; then
    DBFILE="$PWD/target/bench/issue2/dothi.db"
    echo "== reusing bench/issue2's database with $REPORTS reports"
elif [ -f "$WORK/dothi.db" ] && [ "$(cat "$WORK/reports" 2>/dev/null)" = "$REPORTS" ]; then
    DBFILE="$PWD/$WORK/dothi.db"
else
    rm -f "$WORK"/dothi.db*
    echo "== loading $REPORTS reports"
    "$BIN" seed --db "sqlite://$PWD/$WORK/dothi.db" --reports "$REPORTS" > "$WORK/seed.log" 2>&1
    echo "$REPORTS" > "$WORK/reports"
    DBFILE="$PWD/$WORK/dothi.db"
fi
DB="sqlite://$DBFILE"
ACTUAL=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM reports").fetchone()[0])' "$DBFILE")
"$BIN" migrate --db "$DB" >/dev/null
"$BIN" user create --db "$DB" --username "bench3-ioc-$$" --password bench-password-1 --role ioc_operator >/dev/null 2>&1
"$BIN" user create --db "$DB" --username "bench3-cit-$$" --password bench-password-1 --role citizen >/dev/null 2>&1

RUST_LOG=warn DOTHI_MAP_TILES=none "$BIN" serve --db "$DB" --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT"
token() {
    curl -s -X POST -H 'Content-Type: application/json' -d "{\"username\": \"$1\", \"password\": \"bench-password-1\"}" \
        "$URL/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
IOC=$(token "bench3-ioc-$$")
CIT=$(token "bench3-cit-$$")

# The dashboard's periods, day-aligned in +07:00, as the page sends them.
period() { # days back
    python3 - "$1" <<'PY'
import sys, datetime, urllib.parse
tz = datetime.timezone(datetime.timedelta(hours=7))
today = datetime.datetime.now(tz).date()
days = int(sys.argv[1])
start = today - datetime.timedelta(days=days - 1)
end = today + datetime.timedelta(days=1)
f = lambda d: urllib.parse.quote(f"{d.isoformat()}T00:00:00+07:00")
print(f"from={f(start)}&to={f(end)}")
PY
}
P30=$(period 30); P365=$(period 365); P1095=$(period 1095)

run() { local name=$1; shift; wrk "$@" > "$WORK/$name.txt" 2>&1; }
p() { awk -v p="$2" '$1 == p {print $2}' "$WORK/$1.txt"; }
rps() { awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt"; }
non2xx() { grep -oE 'Non-2xx or 3xx responses: [0-9]+' "$WORK/$1.txt" | grep -oE '[0-9]+$' || echo 0; }

echo "== dashboard queries (one client, $DURATION each)"
rows=""
for q in kpis trend ranking map; do
    for per in 30 365 1095; do
        var="P$per"; qs="${!var}"
        run "${q}_$per" -t1 -c1 -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $IOC" "$URL/api/v1/ioc/$q?$qs"
        rows+="| \`GET /api/v1/ioc/$q\` | $per days | $(p "${q}_$per" 50%) | **$(p "${q}_$per" 99%)** | $(rps "${q}_$per") | $(non2xx "${q}_$per") |"$'\n'
    done
done
run kpis_filtered -t1 -c1 -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $IOC" "$URL/api/v1/ioc/kpis?$P365&agency=HEPCO&category=VSMT&channel=app"
rows+="| \`GET /api/v1/ioc/kpis\` agency + category + channel | 365 days | $(p kpis_filtered 50%) | **$(p kpis_filtered 99%)** | $(rps kpis_filtered) | $(non2xx kpis_filtered) |"$'\n'

echo "== the dashboard page in headless Chromium ($RUNS loads) and the live feed ($RUNS reports)"
page=$(node bench/issue3_page.mjs "$URL" "bench3-ioc-$$" bench-password-1 "$CIT" "$RUNS")
echo "$page"
j() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['$1']['$2'])" "$page"; }
rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$SERVER/status)

section=$(cat <<MD
<!-- issue3 -->
## Issue 3: IOC dashboard and web pages

\`bash bench/issue3.sh\` — release build, SQLite, $(printf "%'d" "$ACTUAL") reports (earlier benchmark runs add to the $(printf "%'d" "$REPORTS") loaded), $(nproc) cores
($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')), $(date -u +%Y-%m-%d). wrk and Chromium run on
the same 2 cores as the server. Server RSS after the run: $rss MB.

Every query the dashboard makes, one client for $DURATION each (target: ≤ 200 ms):

| Query | Period | p50 | p99 | req/s | non-2xx |
|---|---|---|---|---|---|
$rows
The dashboard page (\`/ioc\`, 1366×900, headless Chromium, $RUNS loads), measured in the page
from navigation start (target: usable ≤ 1 s):

| Measure | median | p95 | max |
|---|---|---|---|
| KPI tiles hold values, cold cache | $(j usable_cold_ms median) ms | $(j usable_cold_ms p95) ms | **$(j usable_cold_ms max) ms** |
| KPI tiles hold values, warm cache | $(j usable_warm_ms median) ms | $(j usable_warm_ms p95) ms | $(j usable_warm_ms max) ms |
| map markers drawn, cold cache | $(j map_markers_cold_ms median) ms | $(j map_markers_cold_ms p95) ms | $(j map_markers_cold_ms max) ms |
| live feed: report filed → shown in the open page (target ≤ 1 s) | $(j feed_ms median) ms | $(j feed_ms p95) ms | **$(j feed_ms max) ms** |
<!-- /issue3 -->
MD
)
python3 - "$OUT" "$section" <<'PY'
import sys, re
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
if "<!-- issue3 -->" in text:
    text = re.sub(r"<!-- issue3 -->.*?<!-- /issue3 -->", lambda m: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "== wrote $OUT"
