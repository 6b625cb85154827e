#!/usr/bin/env bash
# Run pgcdc's benchmarks (issue 6) from one command on a fresh Debian 12 + Rust machine.
#
#   scripts/bench.sh [--debezium] [pgcdc-bench args...]
#
# Installs the dependencies (scripts/install-deps.sh: PostgreSQL, the tansu broker, and with
# --debezium the Debezium 3.6.3 jars), builds pgcdc and pgcdc-bench with --release, and runs
# pgcdc-bench with the remaining arguments, e.g.
#
#   scripts/bench.sh --rows 100000                 # quick run
#   scripts/bench.sh --debezium --with-debezium    # full scale, with the Debezium column
#   scripts/bench.sh --rows 100000 --only small,ceiling
#   scripts/bench.sh --rows 100000 --only snapshot --snapshot-rows 1000000
#
# The markdown table goes to stdout, progress to stderr, the JSON to bench-results/<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."

deps_args=()
bench_args=()
for a in "$@"; do
    case "$a" in
        --debezium) deps_args+=(--debezium) ;;
        --with-debezium) deps_args+=(--debezium); bench_args+=("$a") ;;
        *) bench_args+=("$a") ;;
    esac
done
# Deduplicate --debezium for install-deps.sh.
if [ "${#deps_args[@]}" -gt 0 ]; then deps_args=(--debezium); fi

eval "$(scripts/install-deps.sh "${deps_args[@]}")"
if [ -n "${PGCDC_DEBEZIUM_LIBS:-}" ]; then export DEBEZIUM_LIBS="$PGCDC_DEBEZIUM_LIBS"; fi

echo "[bench.sh] cargo build --release --bin pgcdc --bin pgcdc-bench" >&2
cargo build --release --bin pgcdc --bin pgcdc-bench >&2
exec "${CARGO_TARGET_DIR:-target}/release/pgcdc-bench" "${bench_args[@]}"
