#!/usr/bin/env bash
# Benchmark for issue 2 (field reports / Open311). Writes docs/BENCHMARKS.md.
#
#   bash bench/issue2.sh            # 1,000,000 reports (about 10 minutes in all)
#   REPORTS=100000 bash bench/issue2.sh
#
# Measures, against the release build and side by side in one run:
#   - the ceiling: GET / (a static JSON answer from the same server);
#   - Open311 POST /open311/v2/requests.json throughput on SQLite;
#   - GET /open311/v2/requests.json?page_size=1000 latency (p50/p99);
#   - resident memory of the server after loading and serving.
# The load generator (wrk) runs on the same 2 cores as the server, so every figure is a
# floor, and the ceiling is measured under the same conditions.
set -euo pipefail
cd "$(dirname "$0")/.."

REPORTS="${REPORTS:-1000000}"
DURATION="${DURATION:-20s}"
PORT="${PORT:-18411}"
WORK="target/bench/issue2"
OUT="docs/BENCHMARKS.md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

cargo build --release --bin dothi
BIN="$PWD/target/release/dothi"
DB="sqlite://$PWD/$WORK/dothi.db"

# Loading a million reports takes about ten minutes; REUSE=1 keeps a database loaded by an
# earlier run with the same REPORTS (its load time is kept in load.secs).
if [ "${REUSE:-0}" = 1 ] && [ -f "$WORK/dothi.db" ] && [ "$(cat "$WORK/reports" 2>/dev/null)" = "$REPORTS" ]; then
    echo "== reusing the database with $REPORTS reports"
    rm -f "$WORK"/*.txt
else
    rm -rf "$WORK" && mkdir -p "$WORK"
    echo "== loading $REPORTS reports"
    load_start=$(date +%s.%N)
    "$BIN" seed --db "$DB" --reports "$REPORTS" > "$WORK/seed.log" 2>&1
    echo "$(date +%s.%N) - $load_start" | bc > "$WORK/load.secs"
    echo "$REPORTS" > "$WORK/reports"
fi
load_secs=$(cat "$WORK/load.secs")
db_size=$(du -sh "$WORK" | cut -f1)

KEY=$("$BIN" api-key create --db "$DB" --name bench 2>/dev/null | tail -n 1)
"$BIN" user create --db "$DB" --username "bench-ioc-$$" --password bench-password-1 --role ioc_operator >/dev/null 2>&1
RUST_LOG=warn "$BIN" serve --db "$DB" --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)

run() { # name, wrk args...
    local name=$1; shift
    wrk "$@" > "$WORK/$name.txt" 2>&1
    cat "$WORK/$name.txt" >&2
}
rps() { awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$WORK/$1.txt"; }
non2xx() { grep -oE 'Non-2xx or 3xx responses: [0-9]+' "$WORK/$1.txt" | grep -oE '[0-9]+$' || echo 0; }

echo "== ceiling and POST throughput (32 connections, $DURATION each)"
run ceiling_c32 -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:$PORT/"
DOTHI_API_KEY="$KEY" run post -t2 -c32 -d"$DURATION" --latency -s bench/open311_post.lua "http://127.0.0.1:$PORT"

echo "== GET 1,000 rows: one client, then 4 concurrent clients ($DURATION each)"
run ceiling_c1 -t1 -c1 -d"$DURATION" --latency "http://127.0.0.1:$PORT/"
run get1000_c1 -t1 -c1 -d"$DURATION" --latency "http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1000"
run ceiling_c4 -t1 -c4 -d"$DURATION" --latency "http://127.0.0.1:$PORT/"
run get1000 -t1 -c4 -d"$DURATION" --latency "http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1000"
rows=$(curl -s "http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "== IOC dashboard queries over the whole data set (one client, $DURATION each)"
TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
    -d "{\"username\": \"bench-ioc-$$\", \"password\": \"bench-password-1\"}" \
    "http://127.0.0.1:$PORT/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
PERIOD="from=$(date -u -d '-200 days' +%Y-%m-%dT%H:%M:%S)%2B00:00&to=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S)%2B00:00"
for q in kpis trend ranking; do
    run "ioc_$q" -t1 -c1 -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/ioc/$q?$PERIOD"
done
run ioc_kpis_agency -t1 -c1 -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/ioc/kpis?$PERIOD&agency=HEPCO&category=VSMT"
# The dashboard's default period (the last 30 days up to now): its ragged first and last days
# are read from the reports table, the days between from the rollup.
run ioc_kpis_30d -t1 -c1 -d"$DURATION" --timeout 30s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/ioc/kpis"
received=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/ioc/kpis?$PERIOD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])')
rss_after=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)
rss_peak=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
total=$("$BIN" seed --db "$DB" --reports 0 2>/dev/null | grep -oE '^[0-9]+')

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
mem=$(free -g | awk '/Mem:/ {print $2}')
# Keep the other issues' sections (written by bench/issue3.sh …) when rewriting this file.
others=$(python3 -c 'import re,sys; t=open(sys.argv[1]).read() if __import__("os").path.exists(sys.argv[1]) else ""; print("\n\n".join(m.group(0) for m in re.finditer(r"<!-- issue(\d+) -->.*?<!-- /issue\1 -->", t, re.S)))' "$OUT")
cat > "$OUT" <<MD
# Benchmarks

Measured by \`bash bench/issue2.sh\` on $(date -u +%Y-%m-%d) — $(nproc) cores ($cpu), ${mem} GiB RAM,
release build, SQLite (WAL, synchronous=NORMAL), wrk on the same machine.
Every figure comes from one run; the ceiling (\`GET /\`, a static answer from the same server)
was measured in the same run under the same conditions, because these machines are noisy.

## Issue 2: field reports and Open311

Data: $REPORTS generated historic reports (with ~4 history events each) loaded by
\`dothi seed --reports $REPORTS\` in ${load_secs%.*} s; database folder $db_size; $total reports at the end of the run.

| What | Target | Measured | Ceiling (GET /, same run) |
|---|---|---|---|
| Open311 \`POST /open311/v2/requests.json\` throughput, 32 connections | ≥ 2,000 reports/s | **$(rps post) req/s** (non-2xx: $(non2xx post)) | $(rps ceiling_c32) req/s |
| \`GET /open311/v2/requests.json?page_size=1000\` ($rows rows), one client, p50 / p99 | p99 ≤ 50 ms | **$(pct get1000_c1 50%) / $(pct get1000_c1 99%)** ($(rps get1000_c1) req/s) | $(pct ceiling_c1 50%) / $(pct ceiling_c1 99%) |
| the same with 4 concurrent clients (twice the cores; wrk shares them), p50 / p99 | | $(pct get1000 50%) / $(pct get1000 99%) ($(rps get1000) req/s) | $(pct ceiling_c4 50%) / $(pct ceiling_c4 99%) |
| Resident memory with $total reports: idle / after load / peak | ≤ 300 MB | **$((rss_idle / 1024)) / $((rss_after / 1024)) / $((rss_peak / 1024)) MB** | |

POST latency p50 / p99: $(pct post 50%) / $(pct post 99%).

## Issue 3 (backend part): IOC dashboard queries

Same server and data; each query covers the whole period ($received reports), one client.

| Query | Target | p50 / p99 | req/s |
|---|---|---|---|
| \`GET /api/v1/ioc/kpis\` | ≤ 200 ms | **$(pct ioc_kpis 50%) / $(pct ioc_kpis 99%)** | $(rps ioc_kpis) |
| \`GET /api/v1/ioc/kpis\` filtered by agency and category | ≤ 200 ms | **$(pct ioc_kpis_agency 50%) / $(pct ioc_kpis_agency 99%)** | $(rps ioc_kpis_agency) |
| \`GET /api/v1/ioc/trend\` (per day) | ≤ 200 ms | **$(pct ioc_trend 50%) / $(pct ioc_trend 99%)** | $(rps ioc_trend) |
| \`GET /api/v1/ioc/ranking\` | ≤ 200 ms | **$(pct ioc_ranking 50%) / $(pct ioc_ranking 99%)** | $(rps ioc_ranking) |
| \`GET /api/v1/ioc/kpis\` over the default period (last 30 days up to now, partial first and last day) | ≤ 200 ms | **$(pct ioc_kpis_30d 50%) / $(pct ioc_kpis_30d 99%)** | $(rps ioc_kpis_30d) |

The period-bound figures come from the \`kpi_daily\` rollup (one row per local day × agency ×
commune × category × channel, kept up to date in the transaction of every report change); only
the partial days at the ends of a period are read from the reports table. "Overdue now" is
counted on a partial covering index of open reports.

Commands (from bench/issue2.sh):
\`\`\`
dothi seed --db sqlite://… --reports $REPORTS
wrk -t2 -c32 -d$DURATION --latency http://127.0.0.1:$PORT/
wrk -t2 -c32 -d$DURATION --latency -s bench/open311_post.lua http://127.0.0.1:$PORT
wrk -t1 -c1 -d$DURATION --latency http://127.0.0.1:$PORT/
wrk -t1 -c1 -d$DURATION --latency 'http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1000'
wrk -t1 -c4 -d$DURATION --latency http://127.0.0.1:$PORT/
wrk -t1 -c4 -d$DURATION --latency 'http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1000'
wrk -t1 -c1 -d$DURATION --timeout 30s --latency -H 'Authorization: Bearer …' 'http://127.0.0.1:$PORT/api/v1/ioc/{kpis,trend,ranking}?from=…&to=…'
wrk -t1 -c1 -d$DURATION --timeout 30s --latency -H 'Authorization: Bearer …' 'http://127.0.0.1:$PORT/api/v1/ioc/kpis'
grep VmRSS/VmHWM /proc/<server pid>/status
\`\`\`
MD
[ -n "$others" ] && printf '\n%s\n' "$others" >> "$OUT"
echo "== wrote $OUT"
cat "$OUT"
