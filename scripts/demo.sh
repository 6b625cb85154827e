#!/usr/bin/env bash
# The main job on embedded defaults: a throwaway PostgreSQL and Kafka-compatible
# broker (tansu), the pgcdc worker, the example connector from connectors/, a few
# changes, and the change events they produce.
#
#   scripts/demo.sh            # everything, then stops and cleans up
#   KEEP=1 scripts/demo.sh     # leave PostgreSQL, broker and worker running
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\033[1m[demo] %s\033[0m\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

eval "$(scripts/install-deps.sh)"
log "building pgcdc"
cargo build --quiet --bin pgcdc
PGCDC="${CARGO_TARGET_DIR:-$ROOT/target}/debug/pgcdc"

WORK=$(mktemp -d /tmp/pgcdc-demo.XXXXXX)
chmod 755 "$WORK"
PG_PORT=$(free_port); KAFKA_PORT=$(free_port); REST_PORT=$(free_port)
PGDATA="$WORK/pg"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        log "left running: PostgreSQL 127.0.0.1:$PG_PORT, broker 127.0.0.1:$KAFKA_PORT, REST http://127.0.0.1:$REST_PORT (work dir $WORK)"
        return
    fi
    [ -n "${WORKER_PID:-}" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true
    [ -n "${BROKER_PID:-}" ] && kill "$BROKER_PID" 2>/dev/null || true
    as_pg "$PGCDC_PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
mkdir -p "$PGDATA"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK" "$PGDATA"
as_pg "$PGCDC_PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
CONF
echo "host replication all 127.0.0.1/32 trust" >> "$PGDATA/pg_hba.conf"
as_pg "$PGCDC_PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start >/dev/null
psql_() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
psql_ -d postgres -c "CREATE DATABASE ecommerce"
psql_ -d ecommerce <<'SQL'
CREATE TABLE product (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, created_at timestamp DEFAULT now());
CREATE TABLE stock (id serial PRIMARY KEY, product_id int NOT NULL, quantity int NOT NULL, reserved_quantity int DEFAULT 0);
CREATE TABLE sale (id serial PRIMARY KEY, product_id int NOT NULL, quantity int NOT NULL, sold_at timestamptz DEFAULT now());
-- A row from before the connector exists: the initial snapshot reads it (op r).
INSERT INTO product (name, price) VALUES ('Gizmo', 4.75);
SQL

log "starting the broker (tansu) on 127.0.0.1:$KAFKA_PORT"
"$PGCDC_TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
    >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!

log "starting the pgcdc worker (REST on 127.0.0.1:$REST_PORT)"
PGCDC_REST__LISTEN="127.0.0.1:$REST_PORT" PGCDC_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" \
PGCDC_WORKER__STATE_DIR="$WORK/state" \
    "$PGCDC" run --config config/pgcdc.toml >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$REST_PORT/" >/dev/null 2>&1 && break; sleep 0.1; done

log "registering connectors/postgres-source-connector.json"
sed "s/\"database.port\": *\"5432\"/\"database.port\": \"$PG_PORT\"/" connectors/postgres-source-connector.json |
    curl -fsS -X POST "http://127.0.0.1:$REST_PORT/connectors" -H 'Content-Type: application/json' -d @- ; echo
for _ in $(seq 100); do
    state=$(curl -fsS "http://127.0.0.1:$REST_PORT/connectors/postgres-source-connector/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d["tasks"] or [{}])[0].get("state","?"))')
    [ "$state" = RUNNING ] && break
    [ "$state" = FAILED ] && { curl -fsS "http://127.0.0.1:$REST_PORT/connectors/postgres-source-connector/status"; exit 1; }
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$REST_PORT/connectors/postgres-source-connector/status"; echo

log "making changes"
psql_ -d ecommerce <<'SQL'
INSERT INTO product (name, price) VALUES ('Widget', 9.99), ('Gadget', 24.50);
INSERT INTO stock (product_id, quantity) VALUES (2, 100), (3, 40);
BEGIN;
  INSERT INTO sale (product_id, quantity) VALUES (2, 3);
  UPDATE stock SET quantity = quantity - 3, reserved_quantity = 0 WHERE product_id = 2;
COMMIT;
DELETE FROM stock WHERE product_id = 3;
SQL

log "events on ecommerce.public.{product,stock,sale} (unwrapped rows with __op and __ts_ms):"
"$PGCDC" tail --bootstrap-servers "127.0.0.1:$KAFKA_PORT" --idle-secs 3 \
    ecommerce.public.product ecommerce.public.stock ecommerce.public.sale |
    python3 -c '
import json, sys
def body(x):
    return x.get("payload", x) if isinstance(x, dict) and "schema" in x else x
for line in sys.stdin:
    r = json.loads(line)
    print("%-26s key=%s value=%s" % (r["topic"], json.dumps(body(r["key"])), json.dumps(body(r["value"]))))
'
log "done"
