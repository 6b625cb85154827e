#!/usr/bin/env bash
# Property-based run of schemathesis against a live pgcdc worker's REST API:
# every operation of docs/openapi.yaml with generated (valid and malformed)
# requests; fails on any 5xx answer (check `not_a_server_error`) or if the
# worker dies.
#
#   scripts/api-fuzz.sh
#
# Environment:
#   PGCDC_TOOLS_DIR        where scripts/install-deps.sh --api-fuzz put the venv with schemathesis
#   PGCDC_FUZZ_BOOTSTRAP   Kafka bootstrap servers for the worker (default: a throwaway tansu
#                          broker started here, as in production the worker has its broker;
#                          connectors the fuzzer registers fail on their made-up databases)
#   PGCDC_TANSU_BIN        the tansu binary (scripts/install-deps.sh prints it)
#   PGCDC_FUZZ_EXAMPLES    examples per operation (default 100; ~1 min on 2 cores)
#   PGCDC_FUZZ_MAX_TIME    optional time budget in seconds (schemathesis then keeps fuzzing until it is spent)
#   PGCDC_FUZZ_SEED        seed (default: random; printed, so a failure can be replayed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[api-fuzz] %s\n' "$*" >&2; }
die() { printf '[api-fuzz] error: %s\n' "$*" >&2; exit 1; }

TOOLS_DIR="${PGCDC_TOOLS_DIR:-${HOME:-/root}/.cache/pgcdc-tools}"
ST="$TOOLS_DIR/venv/bin/st"
if [ ! -x "$ST" ]; then
    log "schemathesis missing: installing it (scripts/install-deps.sh --api-fuzz)"
    scripts/install-deps.sh --api-fuzz >/dev/null
fi
[ -x "$ST" ] || die "schemathesis not found at $ST"

log "building the worker"
cargo build --quiet --bin pgcdc
BIN="${CARGO_TARGET_DIR:-target}/debug/pgcdc"

work="$(mktemp -d)"
worker_pid=""
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; fi
    if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
        kill -TERM "$worker_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.1; done
        # A worker whose connectors wait on an unreachable broker may not exit in time.
        kill -KILL "$worker_pid" 2>/dev/null || true
        wait "$worker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
bootstrap="${PGCDC_FUZZ_BOOTSTRAP:-}"
if [ -z "$bootstrap" ]; then
    if [ -z "${PGCDC_TANSU_BIN:-}" ]; then
        eval "$(scripts/install-deps.sh)"
    fi
    kport="$(free_port)"
    "$PGCDC_TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$kport" \
        --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://tansu/ \
        >"$work/broker.log" 2>&1 &
    broker_pid=$!
    bootstrap="127.0.0.1:$kport"
fi
port="$(free_port)"
url="http://127.0.0.1:$port"
PGCDC_REST__LISTEN="127.0.0.1:$port" \
PGCDC_KAFKA__BOOTSTRAP_SERVERS="$bootstrap" \
PGCDC_WORKER__STATE_DIR="$work/state" \
RUST_LOG="${RUST_LOG:-pgcdc=info,warn}" \
    "$BIN" run >"$work/worker.log" 2>&1 &
worker_pid=$!

for _ in $(seq 1 300); do
    curl -fsS "$url/" >/dev/null 2>&1 && break
    kill -0 "$worker_pid" 2>/dev/null || { cat "$work/worker.log" >&2; die "worker exited at start"; }
    sleep 0.1
done
curl -fsS "$url/" >/dev/null || die "worker did not answer on $url"
# The served document must be the repository's.
curl -fsS "$url/openapi.yaml" | cmp -s - docs/openapi.yaml || die "GET /openapi.yaml differs from docs/openapi.yaml"

seed="${PGCDC_FUZZ_SEED:-$RANDOM$RANDOM}"
log "schemathesis against $url (seed $seed)"
set +e
"$ST" --no-color run docs/openapi.yaml \
    --url "$url" \
    --checks not_a_server_error \
    --phases examples,coverage,fuzzing \
    --max-examples "${PGCDC_FUZZ_EXAMPLES:-100}" \
    ${PGCDC_FUZZ_MAX_TIME:+--max-time "$PGCDC_FUZZ_MAX_TIME"} \
    --request-timeout 30 \
    --workers 2 \
    --seed "$seed" \
    --generation-database none \
    --report junit --report-dir "$work/report"
rc=$?
set -e

if ! kill -0 "$worker_pid" 2>/dev/null; then
    tail -n 50 "$work/worker.log" >&2
    die "the worker died during the run"
fi
if grep -q "panicked" "$work/worker.log"; then
    grep -n -A5 "panicked" "$work/worker.log" >&2
    die "the worker panicked during the run"
fi
if [ "$rc" -ne 0 ]; then
    log "worker log (last 40 lines):"
    tail -n 40 "$work/worker.log" >&2
    die "schemathesis found failures (seed $seed; replay with PGCDC_FUZZ_SEED=$seed)"
fi
log "no 5xx found"
