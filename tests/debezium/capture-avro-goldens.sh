#!/usr/bin/env bash
# Derive what Confluent's AvroConverter 7.0 makes of every Debezium capture under golden/.
#
#   capture-avro-goldens.sh [OUTDIR=golden-avro]
#
# For each golden/<scenario>/<variant>.jsonl captured with schemas (JsonConverter with
# schemas.enable=true), runs AvroOracle.java (Connect schema and value rebuilt by JsonConverter,
# then AvroData.fromConnectSchema and AvroConverter.fromConnectData with the converter's defaults)
# and writes OUTDIR/<scenario>/<variant>.jsonl; captures without schemas are skipped. The
# variants `<variant>.nometa.jsonl` of skeleton/envelope use connect.meta.data=false, and
# naming/envelope.scrub.jsonl scrub.invalid.names=true.
# Env: DEBEZIUM_LIBS (default $PGCDC_DEBEZIUM_LIBS or /work/tools-debezium/libs), ORACLE_CACHE.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/golden-avro}"
LIBS="${DEBEZIUM_LIBS:-${PGCDC_DEBEZIUM_LIBS:-/work/tools-debezium/libs}}"
CACHE="${ORACLE_CACHE:-$HOME/.cache/pgcdc-debezium-oracle}"
[ -n "$(ls "$LIBS" 2>/dev/null)" ] || { echo "no Debezium jars in $LIBS (scripts/install-deps.sh --debezium)" >&2; exit 1; }
mkdir -p "$CACHE"
if [ ! -f "$CACHE/AvroOracle.class" ] || [ "$HERE/AvroOracle.java" -nt "$CACHE/AvroOracle.class" ]; then
  javac -nowarn -cp "$LIBS/*" -d "$CACHE" "$HERE/AvroOracle.java"
fi
run() { java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CACHE:$LIBS/*" AvroOracle "$@" 2> >(grep -v '^SLF4J' >&2); }
for f in "$HERE"/golden/*/*.jsonl; do
  sc="$(basename "$(dirname "$f")")"; v="$(basename "$f" .jsonl)"
  mkdir -p "$OUT/$sc"
  if run "$f" "$OUT/$sc/$v.jsonl"; then echo "$sc/$v" >&2; else rm -f "$OUT/$sc/$v.jsonl"; echo "$sc/$v: skipped" >&2; fi
done
run "$HERE/golden/skeleton/envelope.jsonl" "$OUT/skeleton/envelope.nometa.jsonl" connect.meta.data=false
run "$HERE/golden/naming/envelope.jsonl" "$OUT/naming/envelope.scrub.jsonl" scrub.invalid.names=true
