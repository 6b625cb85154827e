#!/usr/bin/env bash
# Regenerates src/transform/golden/*.json with the real transform classes
# (Debezium 3.6.3, Kafka Connect 4.3): compiles the envelope's Golden.java and
# SmtGolden.java against $PGCDC_DEBEZIUM_LIBS and runs SmtGolden.
#   eval "$(scripts/install-deps.sh --debezium)"; scripts/smt-goldens.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
libs="${PGCDC_DEBEZIUM_LIBS:?set it: eval \"\$(scripts/install-deps.sh --debezium)\"}"
out="${1:-src/transform/golden}"
classes="$(mktemp -d)"
trap 'rm -rf "$classes"' EXIT
javac -nowarn -cp "$libs/*" -d "$classes" src/envelope/golden/Golden.java src/transform/golden/SmtGolden.java
java -cp "$classes:$libs/*" io.debezium.connector.postgresql.SmtGolden "$out" 2> >(grep -v '^SLF4J' >&2)
