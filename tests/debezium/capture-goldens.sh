#!/usr/bin/env bash
# Capture Debezium 3.6.3 golden events for the scenarios under scenarios/<name>/.
#
#   capture-goldens.sh OUTDIR SCENARIO [VARIANT...]
#
# Needs a PostgreSQL (wal_level=logical, trust auth for user postgres) at $PGHOST:$PGPORT
# (default 127.0.0.1:55432). For a scenario it: recreates database <scenario>, runs setup.sql
# (tables + publication dbz_publication), creates one pgoutput slot per variant, runs changes.sql
# once, then runs the oracle once per variant on its own slot, so every variant sees the very
# same WAL. Variants are defined in scenarios/<name>/variants (lines "name|prop=v;prop=v").
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$1"; SC="$2"; shift 2
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-55432}" PGUSER=postgres
DIR="$HERE/scenarios/$SC"
WORK="${ORACLE_WORK:-/tmp/oracle-work}/$SC"
rm -rf "$WORK"; mkdir -p "$WORK" "$OUT/$SC"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

mapfile -t VARIANTS < <(grep -v '^#' "$DIR/variants" | grep -v '^$')
want() { [ $# -eq 0 ] && return 0; local v; for v in "${SELECTED[@]}"; do [ "$v" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")

for db in $(command psql -X -At -d postgres -c "select slot_name from pg_replication_slots where database='$SC'"); do
  psql -d postgres -c "select pg_drop_replication_slot('$db')"
done
psql -d postgres -c "DROP DATABASE IF EXISTS $SC" -c "CREATE DATABASE $SC"
psql -d "$SC" -f "$DIR/setup.sql"
for line in "${VARIANTS[@]}"; do
  name="${line%%|*}"
  if [ "${SELECTED[*]:-}" = "" ] || want "$name"; then
    case "$line" in *snapshot.mode=initial*) continue ;; esac   # those create their own slot
    psql -d "$SC" -c "select pg_create_logical_replication_slot('${SC}_${name}', 'pgoutput')" >/dev/null
  fi
done
t0=$(date +%s.%N)
psql -d "$SC" -f "$DIR/changes.sql"
{ echo "-- ===== setup.sql (before the slots were created) ====="; cat "$DIR/setup.sql";
  echo; echo "-- ===== changes.sql (after the slots were created) ====="; cat "$DIR/changes.sql"; } > "$OUT/$SC/scenario.sql"

for line in "${VARIANTS[@]}"; do
  name="${line%%|*}"; extra="${line#*|}"
  if [ "${SELECTED[*]:-}" != "" ] && ! want "$name"; then continue; fi
  P="$WORK/$name.properties"
  cat > "$P" <<PROPS
name=oracle-$SC-$name
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$WORK/$name.offsets
offset.flush.interval.ms=1000
database.hostname=$PGHOST
database.port=$PGPORT
database.user=postgres
database.password=postgres
database.dbname=$SC
topic.prefix=$SC
plugin.name=pgoutput
slot.name=${SC}_${name}
publication.name=dbz_publication
snapshot.mode=no_data
key.converter.schemas.enable=true
value.converter.schemas.enable=true
PROPS
  # later lines win in java.util.Properties
  # oracle.avro.subjects=true: also write what Confluent's AvroConverter registers to <variant>.subjects.json
  IFS=';' read -ra kvs <<< "$extra"; for kv in "${kvs[@]}"; do
    case "$kv" in
      oracle.avro.subjects=true) echo "oracle.avro.subjects=$OUT/$SC/$name.subjects.json" >> "$P" ;;
      ?*) echo "$kv" >> "$P" ;;
    esac
  done
  echo "== $SC/$name" >&2
  s=$(date +%s.%N)
  "$HERE/run-oracle.sh" "$P" "$OUT/$SC/$name.jsonl" 1000000 "${IDLE_SECS:-4}" "${MAX_SECS:-90}" 2> "$WORK/$name.log" || { tail -50 "$WORK/$name.log"; exit 1; }
  grep -E 'oracle:' "$WORK/$name.log" >&2 || true
  echo "   $(wc -l < "$OUT/$SC/$name.jsonl") records, $(echo "$(date +%s.%N) - $s" | bc) s wall" >&2
done
