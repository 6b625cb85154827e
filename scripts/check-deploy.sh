#!/usr/bin/env bash
# Check the deploy files: exits non-zero if any check fails.
#
#   scripts/check-deploy.sh
#
#   1. kubernetes-validate --strict   every manifest in deploy/kubernetes/*/ against the Kubernetes
#                                      $KUBERNETES_VERSION schemas (unknown fields are errors)
#   2. checkov -d deploy/kubernetes    security scan: no failed check. Skipped: CKV_K8S_21 (no
#                                      namespace in the files: apply them with -n), and the checks
#                                      named with their reason in the manifests' checkov.io/skip*
#                                      annotations (the image digest)
#   2b. kubectl kustomize              the Kustomize bases (standalone, distributed) and the example
#                                      overlay render, and the result validates (kubectl ships kustomize)
#   3. systemd-analyze verify          the unit (ExecStart pointed at /bin/true: the binary need
#                                      not be installed)
#   4. systemd-analyze security        the unit's exposure (--offline=yes) at most $MAX_EXPOSURE
#   5. promtool check rules / test rules   deploy/monitoring/pgcdc-alerts.yaml and its unit tests
#                                      (promtool from Debian's prometheus package, installed if missing)
#   6. monitoring names                the dashboard JSON parses, and every pgcdc_* metric the
#                                      dashboard and the alerts use is one src/metrics.rs exposes
#   7. compose.yaml                    parsed by compose-spec (PyPI bindings of the compose_spec
#                                      crate: the Compose specification, unknown keys refused) in
#                                      $PGCDC_TOOLS_DIR/compose-venv; every file it mounts, the
#                                      secrets and the Containerfile exist
#
# kubernetes-validate and checkov (PyPI) are installed into $PGCDC_TOOLS_DIR/deploy-venv (a venv
# of their own: checkov pins many libraries) on the first run; later runs take a few seconds.
# The container image is not built here (no container engine): deploy/container is not checked.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS_DIR="${PGCDC_TOOLS_DIR:-${HOME:-/root}/.cache/pgcdc-tools}"
VENV="$TOOLS_DIR/deploy-venv"
KUBERNETES_VALIDATE_VERSION="1.37.0"
CHECKOV_VERSION="3.3.30"
KUBERNETES_VERSION="${PGCDC_KUBERNETES_VERSION:-1.32}"
# systemd-analyze security's score of deploy/systemd/pgcdc.service (1.4 with systemd 252).
MAX_EXPOSURE="${PGCDC_MAX_UNIT_EXPOSURE:-2.0}"

log() { printf '[check-deploy] %s\n' "$*" >&2; }
die() { printf '[check-deploy] error: %s\n' "$*" >&2; exit 1; }

pip_version() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }

install_tools() {
    command -v python3 >/dev/null 2>&1 || die "python3 missing (apt-get install python3 python3-venv)"
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$VENV"
        mkdir -p "$TOOLS_DIR"
        python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    fi
    if [ "$(pip_version kubernetes-validate)" != "$KUBERNETES_VALIDATE_VERSION" ] \
        || [ "$(pip_version checkov)" != "$CHECKOV_VERSION" ]; then
        log "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION checkov==$CHECKOV_VERSION into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION" >&2
    fi
    [ -x "$VENV/bin/kubernetes-validate" ] && [ -x "$VENV/bin/checkov" ] || die "validators missing from $VENV after install"
}

failed=0
check() {
    local name="$1"; shift
    log "$name"
    if "$@"; then log "$name: ok"; else log "$name: FAILED"; failed=1; fi
}

kube_validate() {
    "$VENV/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" deploy/kubernetes/*/pgcdc-*.yaml
}

# The Kustomize bases and the example overlay render (`kubectl kustomize`; the overlay's
# secret files are placeholders made here, in a copy) and what they render validates.
kustomize_render() {
    local dir rc=0 k
    command -v kubectl >/dev/null 2>&1 || { echo "kubectl missing (it carries kustomize)"; return 1; }
    dir="$(mktemp -d)"
    cp -r deploy/kubernetes "$dir/"
    printf 'password=placeholder\n' >"$dir/kubernetes/overlays/example/db.properties"
    printf 'password=placeholder\n' >"$dir/kubernetes/overlays/example/kafka.properties"
    for k in standalone distributed overlays/example; do
        kubectl kustomize "$dir/kubernetes/$k" >"$dir/rendered-${k//\//-}.yaml" || { echo "kustomize $k failed"; rc=1; }
    done
    [ "$rc" -eq 0 ] && "$VENV/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" "$dir"/rendered-*.yaml || rc=1
    [ "$rc" -eq 0 ] && echo "rendered and valid: standalone, distributed, overlays/example"
    rm -rf "$dir"
    return "$rc"
}

kube_scan() {
    # --skip-download: no calls to the vendor's platform (checks run from the package).
    "$VENV/bin/checkov" -d deploy/kubernetes --framework kubernetes --compact --quiet --skip-download \
        --skip-check CKV_K8S_21 2>&1 | grep -v '^$'
    return "${PIPESTATUS[0]}"
}

unit_verify() {
    local dir rc=0
    dir="$(mktemp -d)"
    sed 's|^ExecStart=/usr/local/bin/pgcdc |ExecStart=/bin/true |' deploy/systemd/pgcdc.service >"$dir/pgcdc.service"
    systemd-analyze verify "$dir/pgcdc.service" || rc=$?
    rm -rf "$dir"
    return "$rc"
}

unit_security() {
    local out score
    out="$(systemd-analyze security --offline=yes --no-pager deploy/systemd/pgcdc.service 2>&1)" || true
    score="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for pgcdc.service: \([0-9.]*\).*/\1/p')"
    [ -n "$score" ] || { printf '%s\n' "$out" >&2; echo "no exposure score in the output" >&2; return 1; }
    echo "exposure $score (at most $MAX_EXPOSURE)"
    awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'
}

alert_rules() {
    (cd deploy/monitoring && promtool check rules pgcdc-alerts.yaml && promtool test rules pgcdc-alerts.test.yaml)
}

monitoring_names() {
    python3 - <<'PY'
import json, re, sys
exposed = set(re.findall(r'"(pgcdc_[a-z_]+)"', open("src/metrics.rs").read()))
dashboard = json.load(open("deploy/monitoring/pgcdc-dashboard.json"))
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
used = set(re.findall(r"pgcdc_[a-z_]+", " ".join(exprs) + open("deploy/monitoring/pgcdc-alerts.yaml").read()))
used = {re.sub(r"_(bucket|sum|count)$", "", u) if re.sub(r"_(bucket|sum|count)$", "", u) in exposed else u for u in used}
unknown = sorted(used - exposed)
print(f"{len(dashboard['panels'])} panels; {len(used)} metrics used, all exposed" if not unknown else f"not exposed by src/metrics.rs: {unknown}")
sys.exit(1 if unknown else 0)
PY
}

COMPOSE_VENV="$TOOLS_DIR/compose-venv"
COMPOSE_SPEC_VERSION="0.2.1"

compose_file() {
    if [ ! -x "$COMPOSE_VENV/bin/python" ] || ! "$COMPOSE_VENV/bin/python" -c "import compose_spec" >/dev/null 2>&1; then
        rm -rf "$COMPOSE_VENV"
        python3 -m venv "$COMPOSE_VENV" && "$COMPOSE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-input "compose-spec==$COMPOSE_SPEC_VERSION" >&2 || return 1
    fi
    "$COMPOSE_VENV/bin/python" - <<'PY'
import pathlib, sys
from compose_spec import PyCompose
text = pathlib.Path("compose.yaml").read_text()
compose = PyCompose.from_yaml(text)
d = compose.to_dict()
missing = []
for name, svc in d.get("services", {}).items():
    for v in svc.get("volumes", []) or []:
        src = v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
        if isinstance(src, str) and src.startswith("./") and not pathlib.Path(src).exists():
            missing.append(f"services.{name}.volumes: {src}")
    build = svc.get("build")
    if isinstance(build, dict):
        ctx = pathlib.Path(build.get("context", "."))
        dockerfile = build.get("dockerfile", "Dockerfile")
        if not (ctx / dockerfile).exists():
            missing.append(f"services.{name}.build.dockerfile: {ctx / dockerfile}")
for name, sec in (d.get("secrets") or {}).items():
    f = sec.get("file") if isinstance(sec, dict) else None
    if f and not pathlib.Path(f).exists():
        missing.append(f"secrets.{name}.file: {f}")
print(f"services {compose.service_names()}; files it names: " + ("missing " + ", ".join(missing) if missing else "all present"))
sys.exit(1 if missing else 0)
PY
}

install_tools
if ! command -v promtool >/dev/null 2>&1; then
    log "apt-get install prometheus (promtool)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } \
        || log "cannot install prometheus (promtool)"
fi
check "kubernetes-validate (Kubernetes $KUBERNETES_VERSION)" kube_validate
check "checkov $CHECKOV_VERSION" kube_scan
check "kustomize (bases and the example overlay)" kustomize_render
if command -v systemd-analyze >/dev/null 2>&1; then
    check "systemd-analyze verify" unit_verify
    check "systemd-analyze security" unit_security
else
    log "systemd-analyze missing (apt-get install systemd): unit not checked"
    failed=1
fi
if command -v promtool >/dev/null 2>&1; then
    check "promtool check/test rules" alert_rules
else
    log "promtool missing: alert rules not checked"
    failed=1
fi
check "dashboard and alert metric names" monitoring_names
check "compose.yaml (compose-spec $COMPOSE_SPEC_VERSION)" compose_file
[ "$failed" -eq 0 ] || die "deploy checks failed"
log "all deploy checks passed"
