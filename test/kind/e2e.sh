#!/usr/bin/env bash
# End-to-end check of an installed Hearth (make e2e, after make deploy): apply
# the examples with kubectl, invoke each through the gateway Service, check
# the answers, then delete the examples and uninstall the release.
#   RELEASE (hearth)  NAMESPACE (hearth-system)  FN_NAMESPACE (NAMESPACE)  KUBECTL  HELM
# FN_NAMESPACE must be the namespace the release serves: the release's, or its watchNamespace.
set -euo pipefail
cd "$(dirname "$0")/../.."
RELEASE=${RELEASE:-hearth}
NAMESPACE=${NAMESPACE:-hearth-system}
FN_NAMESPACE=${FN_NAMESPACE:-$NAMESPACE}
KUBECTL=${KUBECTL:-kubectl}
HELM=${HELM:-helm}
READY_TIMEOUT=${READY_TIMEOUT:-600s}
PORT=${E2E_PORT:-18080}
# The chart's object prefix: the release name, plus -hearth unless it holds it.
if [[ "$RELEASE" == *hearth* ]]; then svc="$RELEASE-gateway"; else svc="$RELEASE-hearth-gateway"; fi

log() { echo "e2e: $*" >&2; }
fail() { echo "e2e: FAIL: $*" >&2; exit 1; }

pf_pid=""
cleanup() {
  [ -n "$pf_pid" ] && kill "$pf_pid" 2>/dev/null || true
  if [ "${E2E_KEEP:-}" != "1" ]; then
    log "deleting the examples and uninstalling $RELEASE"
    "$KUBECTL" -n "$FN_NAMESPACE" delete -f examples/ --ignore-not-found --wait=true --timeout=120s >/dev/null || true
    "$HELM" uninstall "$RELEASE" --namespace "$NAMESPACE" --wait --timeout 5m >/dev/null || true
  fi
}
trap cleanup EXIT

log "applying examples/ in namespace $FN_NAMESPACE"
"$KUBECTL" -n "$FN_NAMESPACE" apply -f examples/
# hello-go compiles on its first start, so give it time.
log "waiting for the Functions to be Ready (up to $READY_TIMEOUT)"
"$KUBECTL" -n "$FN_NAMESPACE" wait --for=condition=Ready --timeout="$READY_TIMEOUT" \
  function/hello-python function/hello-node function/hello-go \
  || { "$KUBECTL" -n "$FN_NAMESPACE" get functions,deploy,pods -o wide; fail "Functions not Ready"; }

"$KUBECTL" -n "$NAMESPACE" port-forward "svc/$svc" "$PORT:80" >/dev/null 2>&1 &
pf_pid=$!
for _ in $(seq 1 50); do curl -fsS "localhost:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

auth=()
key=$("$KUBECTL" -n "$NAMESPACE" get secret "$svc-auth" -o jsonpath='{.data.api-key}' 2>/dev/null | base64 -d || true)
if [ -n "$key" ]; then auth=(-H "Authorization: Bearer $key"); fi

invoke() { # function payload expected-substring
  local out
  out=$(curl -sS -X POST "localhost:$PORT/2015-03-31/functions/$1/invocations" "${auth[@]}" -d "$2") || fail "$1: curl failed"
  [[ "$out" == *"$3"* ]] || fail "$1: expected …$3… in $out"
  log "ok $1: $out"
}
invoke hello-python '{"key":"value"}' 'Hello, world!'
invoke hello-node '{"name":"Ada"}' 'Hello from Node.js, Ada!'
invoke hello-go '{"name":"Ada"}' 'Hello from Go, Ada!'

# The function URL route.
out=$(curl -sS -i "localhost:$PORT/fn/hello-python/" "${auth[@]}") || fail "function URL: curl failed"
[[ "$out" == *"200"*"Hello, world!"* ]] || fail "function URL: expected 200 and Hello, world! in $out"
log "ok /fn/hello-python/"

# Without the key the gateway refuses (when auth is on).
if [ -n "$key" ]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "localhost:$PORT/2015-03-31/functions/hello-python/invocations" -d '{}')
  [ "$code" = 401 ] || [ "$code" = 403 ] || fail "an unauthenticated call got $code, not 401/403"
  log "ok unauthenticated call refused ($code)"
fi
log "PASS"
