#!/usr/bin/env bash
# The strongest checks of the deployment files that run without a cluster or a Docker
# daemon (`make deploy-check`):
#   - Kubernetes: `kubectl kustomize` renders deploy/k8s, kubernetes-validate (PyPI, with
#     its bundled OpenAPI schemas, offline) validates every object strictly;
#   - Compose: `docker-compose config` (Debian's docker-compose 1.29, which checks the file
#     against its Compose schema and resolves anchors, secrets and interpolation), with
#     throw-away secrets;
#   - HAProxy: `haproxy -c` on deploy/haproxy/haproxy.cfg;
#   - shell syntax of the scripts; the static checks of tests/unit/test_deploy*.py.
# Tools missing here are installed (apt-get for Debian's, uv for kubernetes-validate into
# deploy/build/tools, ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=$ROOT/deploy/build/tools
failed=0
step() { echo "[deploy-check] $*"; }
check() {  # check <label> <command...>
    if "${@:2}"; then step "ok   $1"; else step "ÉCHEC $1"; failed=1; fi
}

need_deb() {  # need_deb <command> <package>
    command -v "$1" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need_deb haproxy haproxy
need_deb docker-compose docker-compose
if [ ! -x "$TOOLS/bin/kubernetes-validate" ]; then
    .venv/bin/uv venv -q --python "$(command -v python3)" "$TOOLS"
    VIRTUAL_ENV=$TOOLS .venv/bin/uv pip install -q kubernetes-validate==1.37.0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Kubernetes
if command -v kubectl >/dev/null; then
    check "kubectl kustomize deploy/k8s" sh -c "kubectl kustomize deploy/k8s > '$work/k8s.yaml'"
else
    step "kubectl absent : les manifestes sont validés un par un (sans kustomize)"
    cat deploy/k8s/*.yaml | grep -v '^kind: Kustomization' > "$work/k8s.yaml"
fi
check "kubernetes-validate --strict ($(grep -c '^kind:' "$work/k8s.yaml") objets)" \
    "$TOOLS/bin/kubernetes-validate" --strict --quiet "$work/k8s.yaml"

# Compose, on a copy with throw-away secrets (the real ones are never touched).
mkdir -p "$work/compose/secrets"
cp -r deploy/compose.yaml deploy/haproxy "$work/compose/"
cp deploy/secrets/make-secrets.sh "$work/compose/secrets/"
bash "$work/compose/secrets/make-secrets.sh" >/dev/null 2>&1
check "docker-compose config" sh -c "cd '$work/compose' && WEBHOOK_URL=https://bot.example.org/telegram \
    docker-compose -f compose.yaml config -q"

# (servers are Compose names, unresolvable here: HAProxy warns and starts them later)
check "haproxy -c" haproxy -c -q -f deploy/haproxy/haproxy.cfg

for script in deploy/images/build.sh deploy/images/smoke.sh deploy/compose-local/run.sh deploy/validate.sh deploy/secrets/make-secrets.sh deploy/netns/run.sh; do
    [ -f "$script" ] && check "bash -n $script" bash -n "$script"
done
check "sh -n deploy/images/app-entrypoint.sh" sh -n deploy/images/app-entrypoint.sh

check "tests/unit/test_deploy*.py" .venv/bin/python -m pytest -q -p no:cacheprovider tests/unit/test_deploy_files.py \
    tests/unit/test_deploy_images.py

exit $failed
