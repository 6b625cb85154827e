#!/bin/sh
# pgcdc under `perf record` (software cpu-clock sampling, DWARF call graphs), for
#   pgcdc-bench --rows 100000 --only small --pgcdc-bin bench/profile/pgcdc-perf.sh
# then: python3 bench/profile/attribute.py target/release/pgcdc PERF_DATA 0x1000
# (one perf.*.data per daemon start; the oldest is the exactly-once drain).
BIN=${PGCDC_REAL:-$(dirname "$0")/../../target/release/pgcdc}
OUT=${PERF_OUT_DIR:-/tmp}/perf.$(date +%s%N).data
exec perf record -e cpu-clock -F 1999 --call-graph dwarf,32768 -o "$OUT" -- "$BIN" "$@"
