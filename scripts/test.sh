#!/usr/bin/env bash
# Run pgcdc's whole test suite: install/check the test dependencies, then
#   1. cargo test --all-targets            (unit tests + the end-to-end binary tests/main.rs)
#   2. cargo check --tests --features testcontainers   (the Docker backend compiles)
# Prints a summary and exits non-zero if any step failed.
#
# Extra arguments are passed to `cargo test` after `--` (e.g. a test-name filter).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n[test] %s\n' "$*"; }

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT

log "installing/checking dependencies"
scripts/install-deps.sh --env-file "$env_file" >/dev/null
# shellcheck disable=SC1090
. "$env_file"
export PGCDC_PG_BIN PGCDC_TANSU_BIN PGCDC_TOOLS_DIR
echo "PGCDC_PG_BIN=$PGCDC_PG_BIN"
echo "PGCDC_TANSU_BIN=$PGCDC_TANSU_BIN"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

declare -a names=() results=() durations=()
failed=0

run_step() {
    local name="$1"; shift
    local start end rc
    log "$name: $*"
    start="$(date +%s)"
    set +e
    "$@"
    rc=$?
    set -e
    end="$(date +%s)"
    names+=("$name"); durations+=("$((end - start))s")
    if [ "$rc" -eq 0 ]; then results+=("ok"); else results+=("FAILED (exit $rc)"); failed=1; fi
}

run_step "cargo test" cargo test --all-targets -- "$@"
run_step "testcontainers check" cargo check --tests --features testcontainers

log "summary"
for i in "${!names[@]}"; do
    printf '  %-24s %-18s %s\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
done
if [ "$failed" -ne 0 ]; then
    echo "[test] FAILED"
    exit 1
fi
echo "[test] all steps passed"
