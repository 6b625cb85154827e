#!/usr/bin/env bash
# The randomized differential test against Debezium 3.6.3 on more seeds than CI runs.
#
#   scripts/differential.sh [SEEDS=20] [FIRST=1]
#
# Runs seeds FIRST..FIRST+SEEDS-1 (tests/e2e_differential.rs): random tables, changes and connector
# options (converters, handling modes, unwrap; some seeds an initial snapshot), captured by
# Debezium (embedded engine) and by pgcdc from the same WAL, compared record by record. Prints, per
# seed, the records compared and every difference with the seed's SQL; each seed's scenario (and
# differences.txt when it differs) is kept under target/differential/seed-N/.
# Env: PGCDC_DIFF_TABLES (3), PGCDC_DIFF_STATEMENTS (30) — the size of each scenario.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n="${1:-20}"; first="${2:-1}"
eval "$(scripts/install-deps.sh --debezium)"
export PGCDC_DEBEZIUM_LIBS
PGCDC_DIFF_SEEDS="$first-$((first + n - 1))" cargo test --test main -- --nocapture --exact \
    e2e_differential::random_scenarios_match_debezium
