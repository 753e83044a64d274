#!/usr/bin/env bash
# Runs the ETSI NGSI-LD conformance test suite (ETSI GS CIM 014, Robot Framework) offline
# against dothi's NGSI-LD broker, and prints pass/fail counts per group (docs/CONFORMANCE.md).
#
# The suite is not part of this repository (its licence and history are its own): point
# SUITE_DIR at a checkout, or let this script clone it from ETSI's forge, which needs network
# access to forge.etsi.org. Everything else runs locally and the broker never goes online:
#   - the suite is copied to a scratch directory, and the URLs of its own JSON-LD contexts are
#     rewritten to a local `python3 -m http.server` that serves resources/jsonld-contexts;
#   - dothi may download contexts (DOTHI_NGSILD_FETCH_CONTEXTS=true) and there is nothing to
#     download them from but that server and the suite's own mock context server;
#   - the ETSI core context is bundled in dothi; newer core URLs the suite cites (v1.9) are
#     preloaded from dothi's bundled v1.8 file (DOTHI_NGSILD_CONTEXTS), see docs/CONFORMANCE.md.
#
# Usage: SUITE_DIR=/path/to/ngsi-ld-test-suite scripts/etsi-conformance.sh [GROUP...]
#   GROUP: provision, entity, temporal, subscription, common, discovery, contextsource (=
#   csr-registration csr-discovery csr-subscription) (default: the first five).
#   Environment: PROFILE=release|debug (default debug), ETSI_OUT (default
#   target/etsi), ETSI_VENV (default $ETSI_OUT/venv), ROBOT_ARGS (extra robot options, e.g.
#   "--test 001_01*"), DOTHI_BIN (use this binary instead of building), ETSI_BASELINE (a commit
#   of the suite's repository: also count only the tests of that commit's files).
# Needs: cargo, python3 (3.11 or newer, with venv), git, and PyPI for the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

OUT=${ETSI_OUT:-$ROOT/target/etsi}
VENV=${ETSI_VENV:-$OUT/venv}
PROFILE=${PROFILE:-debug}
SUITE_URL=https://forge.etsi.org/rep/cim/ngsi-ld-test-suite.git
mkdir -p "$OUT"

# --- the suite --------------------------------------------------------------------------------
if [ -z "${SUITE_DIR:-}" ]; then
    SUITE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/dothi/ngsi-ld-test-suite
fi
if [ ! -d "$SUITE_DIR/TP/NGSI-LD" ]; then
    echo "== no suite at $SUITE_DIR: cloning $SUITE_URL (the network must allow forge.etsi.org;"
    echo "   otherwise clone it elsewhere and set SUITE_DIR to the checkout)"
    git clone --depth 1 "$SUITE_URL" "$SUITE_DIR"
fi
SUITE_DIR=$(cd "$SUITE_DIR" && pwd)
SUITE_COMMIT=$(git -C "$SUITE_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
echo "== suite $SUITE_DIR at commit $SUITE_COMMIT"

# --- Python venv: Robot Framework and the suite's libraries ----------------------------------
if [ ! -x "$VENV/bin/robot" ] || ! cmp -s "$SUITE_DIR/requirements.txt" "$VENV/requirements.txt"; then
    echo "== python venv at $VENV (PyPI)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    # The requirements install a library from the suite's own tree (-e ./libraries/...).
    (cd "$SUITE_DIR" && "$VENV/bin/pip" install --quiet -r requirements.txt)
    cp "$SUITE_DIR/requirements.txt" "$VENV/requirements.txt"
fi

# --- dothi ------------------------------------------------------------------------------------
if [ -z "${DOTHI_BIN:-}" ]; then
    echo "== building dothi ($PROFILE)"
    if [ "$PROFILE" = release ]; then
        cargo build --quiet --release -p dothi
        DOTHI_BIN=$ROOT/target/release/dothi
    else
        cargo build --quiet -p dothi
        DOTHI_BIN=$ROOT/target/debug/dothi
    fi
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
BROKER_PORT=$(free_port)
CTX_PORT=$(free_port)
NOTIFY_PORT=$(free_port)
CTX_SERVER_PORT=$(free_port)
CSOURCE_PORT=$(free_port)

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dothi-etsi.XXXXXX")
PIDS=()
DOTHI_PID=
cleanup() {
    for pid in "${PIDS[@]}" $DOTHI_PID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

# --- a scratch copy of the suite with local context URLs -------------------------------------
echo "== scratch copy in $SCRATCH/suite"
mkdir -p "$SCRATCH/suite"
tar -C "$SUITE_DIR" --exclude=.git --exclude=results -cf - . | tar -C "$SCRATCH/suite" -xf -
SUITE=$SCRATCH/suite
# The suite names its contexts by the URL of its home repository (ETSI's forge, or a mirror's
# raw files); the directory of `ngsild_test_suite_context` is the prefix to make local.
CTX_PREFIX=$(cd "$SUITE/resources" && python3 -c \
    'import variables, posixpath; print(posixpath.dirname(variables.ngsild_test_suite_context))')
LOCAL_CTX=http://127.0.0.1:$CTX_PORT
grep -rlF --null "$CTX_PREFIX/" "$SUITE/TP" "$SUITE/data" "$SUITE/resources" \
    | xargs -0 --no-run-if-empty sed -i "s#$CTX_PREFIX/#$LOCAL_CTX/#g"
cat >"$SUITE/resources/variables.py" <<EOF
# Written by dothi's scripts/etsi-conformance.sh: everything on 127.0.0.1.
url = 'http://127.0.0.1:$BROKER_PORT/ngsi-ld/v1'
temporal_api_url = 'http://127.0.0.1:$BROKER_PORT/ngsi-ld/v1'
ngsild_test_suite_context = '$LOCAL_CTX/ngsi-ld-test-suite-compound.jsonld'
notification_server_host = '127.0.0.1'
notification_server_port = $NOTIFY_PORT
mqtt_broker_host = '127.0.0.1'
mqtt_broker_non_default_port = 8085
context_source_host = '127.0.0.1'
context_source_port = $CSOURCE_PORT
context_server_host = '127.0.0.1'
context_server_port = $CTX_SERVER_PORT
core_context = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld'
delete_temporal_on_core_delete = True
EOF

# --- the local context server and the broker --------------------------------------------------
python3 -m http.server "$CTX_PORT" --bind 127.0.0.1 \
    --directory "$SUITE/resources/jsonld-contexts" >"$OUT/context-server.log" 2>&1 &
PIDS+=($!)

CORE_FILE=$ROOT/crates/dothi-ngsild/contexts/ngsi-ld-core-context-v1.8.jsonld
# Contexts the suite cites but does not ship: the v1.9 core (dothi bundles v1.8, whose terms
# the tests use) and the compound context of the suite's former home, whose terms are the
# suite's own (a few orderBy and linked-entity tests use it).
PRELOAD="https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld=$CORE_FILE"
PRELOAD+=",https://easy-global-market.github.io/ngsild-api-data-models/ngsildTestSuite/"
PRELOAD+="ngsildTestSuiteV1.8-compound.jsonld=$SUITE/resources/jsonld-contexts/ngsi-ld-test-suite-compound.jsonld"
# The temporal instance limit (§6.3.10) is the implementation's choice: the suite's temporal
# pagination tests (020_13, 020_14, 021_15, 021_16) assume one below 20 instances.
# Each group gets its own broker and a fresh SQLite database: the tests assume a clean broker,
# and entities a failing test leaves behind would skew the next group's queries.
start_dothi() {
    local name=$1
    rm -f "$SCRATCH/$name.db"*
    DATABASE_URL="sqlite://$SCRATCH/$name.db" \
        DOTHI_LISTEN="127.0.0.1:$BROKER_PORT" \
        DOTHI_PUBLIC_URL="http://127.0.0.1:$BROKER_PORT" \
        DOTHI_NGSILD_ACCESS=open \
        DOTHI_NGSILD_FETCH_CONTEXTS=true \
        DOTHI_NGSILD_CONTEXTS="$PRELOAD" \
        DOTHI_NGSILD_TEMPORAL_LIMIT=10 \
        RUST_LOG=${RUST_LOG:-warn} \
        "$DOTHI_BIN" serve >"$OUT/$name.dothi.log" 2>&1 &
    DOTHI_PID=$!
    for _ in $(seq 1 150); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$BROKER_PORT/ngsi-ld/v1/types" 2>/dev/null \
            && curl -fsS -o /dev/null "$LOCAL_CTX/ngsi-ld-test-suite-compound.jsonld" 2>/dev/null
        then
            return 0
        fi
        sleep 0.2
    done
    echo "dothi or the context server did not start; see $OUT/$name.dothi.log and" \
        "$OUT/context-server.log" >&2
    exit 1
}
stop_dothi() {
    kill "$DOTHI_PID" 2>/dev/null || true
    wait "$DOTHI_PID" 2>/dev/null || true
    DOTHI_PID=
}
echo "== dothi will listen on 127.0.0.1:$BROKER_PORT, contexts at $LOCAL_CTX"

# --- the groups -------------------------------------------------------------------------------
group_path() {
    case $1 in
        provision) echo TP/NGSI-LD/ContextInformation/Provision ;;
        entity) echo TP/NGSI-LD/ContextInformation/Consumption/Entity ;;
        temporal) echo TP/NGSI-LD/ContextInformation/Consumption/TemporalEntity ;;
        subscription) echo TP/NGSI-LD/ContextInformation/Subscription ;;
        common) echo TP/NGSI-LD/CommonBehaviours/CommonResponses ;;
        discovery) echo TP/NGSI-LD/ContextInformation/Consumption/Discovery ;;
        # Context source registration, discovery and registration subscriptions (§5.9–5.11);
        # one group per folder, each with a fresh broker (see "contextsource" below).
        csr-registration) echo TP/NGSI-LD/ContextSource/Registration ;;
        csr-discovery) echo TP/NGSI-LD/ContextSource/Discovery ;;
        csr-subscription) echo TP/NGSI-LD/ContextSource/RegistrationSubscription ;;
        *) echo "unknown group $1" >&2; return 1 ;;
    esac
}
GROUPS_TO_RUN=()
for group in "$@"; do
    # The context source TPs leave registrations behind when a test fails (or, in 033_01, by
    # design): each folder gets its own broker, like the other groups.
    if [ "$group" = contextsource ]; then
        GROUPS_TO_RUN+=(csr-registration csr-discovery csr-subscription)
    else
        GROUPS_TO_RUN+=("$group")
    fi
done
[ ${#GROUPS_TO_RUN[@]} -gt 0 ] || GROUPS_TO_RUN=(provision entity temporal subscription common)

for group in "${GROUPS_TO_RUN[@]}"; do
    path=$(group_path "$group")
    extra=()
    # MQTT notifications need an MQTT broker on the suite's side: a separate group.
    [ "$group" = subscription ] && extra=(--exclude sub-mqtt-notification)
    echo "== robot: $group ($path)"
    rm -rf "${OUT:?}/$group"
    start_dothi "$group"
    # A failing test makes robot exit non-zero; the summary below is the verdict.
    (cd "$SUITE" && "$VENV/bin/robot" --consolewidth 120 --console dotted \
        --outputdir "$OUT/$group" --name "$group" "${extra[@]}" ${ROBOT_ARGS:-} "$path") \
        >"$OUT/$group.console.log" 2>&1 || true
    stop_dothi
    grep -E "^[0-9]+ tests?, [0-9]+ passed" "$OUT/$group.console.log" | tail -n 1 || true
done

echo "$SUITE_COMMIT" >"$OUT/suite-commit"
python3 "$ROOT/scripts/etsi-summary.py" --commit "$SUITE_COMMIT" "$OUT" "${GROUPS_TO_RUN[@]}"
# A mirror may add its own test files on top of ETSI's: ETSI_BASELINE (a commit of the suite's
# repository holding ETSI's tree) also reports the tests of that commit's files alone.
if [ -n "${ETSI_BASELINE:-}" ]; then
    git -C "$SUITE_DIR" ls-tree -r --name-only "$ETSI_BASELINE" TP/NGSI-LD >"$OUT/baseline-files.txt"
    python3 "$ROOT/scripts/etsi-summary.py" --commit "$SUITE_COMMIT" \
        --baseline-files "$OUT/baseline-files.txt" "$OUT" "${GROUPS_TO_RUN[@]}"
fi
