#!/usr/bin/env bash
# Builds versitygw (an Apache-2.0 S3-compatible gateway over a directory), the
# S3 store test/uploads/s3-uploads.test.ts runs S3Uploads against, into
# ~/.cache/hearth/versitygw-VERSION/ only when missing or stale. About 80 s
# cold; `make test-unit` starts it in the background beside the unit suites,
# and the test waits on the same lock, so a cold run pays it once, overlapped.
#
#   test/uploads/build-versitygw.sh     build if needed, print the binary's path
#
# Without Go it fails under CI=true, and otherwise says why and exits 3 (the test skips).
set -euo pipefail
VERSITYGW_VERSION=v1.8.0
cache=${HEARTH_VERSITYGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/versitygw-${VERSITYGW_VERSION}}
log() { echo "versitygw-build: $*" >&2; }
if ! command -v go >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then log "FATAL: the Go toolchain is not on PATH; the S3 uploads test needs it to build versitygw"; exit 1; fi
  log "skipping: the Go toolchain is not on PATH"
  exit 3
fi
stamp="$(go env GOVERSION) github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}"
fresh() { [ -x "$cache/versitygw" ] && [ "$(cat "$cache/.versitygw.stamp" 2>/dev/null)" = "$stamp" ]; }
if fresh; then echo "$cache/versitygw"; exit 0; fi
mkdir -p "$cache"
# One build at a time: a second caller (the test, while make's background build runs) waits, then finds it fresh.
exec 9>"$cache/.build.lock"
flock 9
if fresh; then echo "$cache/versitygw"; exit 0; fi
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "installing versitygw ${VERSITYGW_VERSION}"
start=$SECONDS
(cd "$tmp" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}")
mv -f "$tmp/versitygw" "$cache/versitygw"
printf '%s' "$stamp" > "$cache/.versitygw.stamp"
log "built in $((SECONDS - start)) s"
echo "$cache/versitygw"
