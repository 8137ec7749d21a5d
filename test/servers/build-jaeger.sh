#!/usr/bin/env bash
# Builds Jaeger v2 (all-in-one on the OTel collector, in-memory storage), the
# trace backend test/tracing/*.test.ts export to over OTLP/HTTP and query over
# its HTTP API, into ~/.cache/hearth/jaeger-VERSION/ only when missing or
# stale. About 6 minutes cold on a loaded machine; `make test-unit` starts it in
# the background beside the unit suites, and the tests wait on the same lock.
#
#   test/servers/build-jaeger.sh     build if needed, print the binary's path
#
# `go install …/cmd/jaeger@VERSION` refuses Jaeger's module (its go.mod has a
# replace directive), so it is built as a tool of a scratch module instead.
# Without Go it fails under CI=true, and otherwise says why and exits 3 (the tests skip).
set -euo pipefail
JAEGER_VERSION=v1.75.0
cache=${HEARTH_JAEGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/jaeger-${JAEGER_VERSION}}
log() { echo "jaeger-build: $*" >&2; }
if ! command -v go >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then log "FATAL: the Go toolchain is not on PATH; the tracing tests need it to build Jaeger"; exit 1; fi
  log "skipping: the Go toolchain is not on PATH"
  exit 3
fi
stamp="$(go env GOVERSION) github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}"
fresh() { [ -x "$cache/jaeger" ] && [ "$(cat "$cache/.jaeger.stamp" 2>/dev/null)" = "$stamp" ]; }
if fresh; then echo "$cache/jaeger"; exit 0; fi
mkdir -p "$cache"
# One build at a time: a second caller (a test, while make's background build runs) waits, then finds it fresh.
exec 9>"$cache/.build.lock"
flock 9
if fresh; then echo "$cache/jaeger"; exit 0; fi
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building jaeger ${JAEGER_VERSION}"
start=$SECONDS
(
  cd "$tmp"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  go mod init hearth-jaeger-build >/dev/null 2>&1
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}"
  go build -trimpath -ldflags "-s -w" -o "$tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
)
mv -f "$tmp/jaeger" "$cache/jaeger"
printf '%s' "$stamp" > "$cache/.jaeger.stamp"
log "built in $((SECONDS - start)) s"
echo "$cache/jaeger"
