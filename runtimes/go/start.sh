#!/bin/sh
# Start a function of runtime `go`: run $LAMBDA_TASK_ROOT/bootstrap if the
# package ships one; otherwise build the sources in $LAMBDA_TASK_ROOT with
# build.sh (once per distinct source tree) and run the result. The program
# itself speaks the Lambda Runtime API (aws-lambda-go's lambda.Start reads
# AWS_LAMBDA_RUNTIME_API).
#
#   LAMBDA_TASK_ROOT=<dir> AWS_LAMBDA_RUNTIME_API=host:port runtimes/go/start.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${LAMBDA_TASK_ROOT:-/var/task}
cd "$root"

if [ -x "$root/bootstrap" ] && [ ! -d "$root/bootstrap" ]; then
  exec "$root/bootstrap"
fi

# A restricted pod's root file system is read-only and its user may not own
# the image's warm cache: build where writing works (the pod's /tmp).
# The image's warm cache (the standard library already compiled) seeds it:
# compiling that from nothing would not fit in a small function's memory.
if [ -z "${GOCACHE:-}" ] || ! { mkdir -p "$GOCACHE" 2>/dev/null && [ -w "$GOCACHE" ]; }; then
  warm=${GOCACHE:-}
  export GOCACHE="${TMPDIR:-/tmp}/go-cache"
  if [ -n "$warm" ] && [ -d "$warm" ] && [ ! -e "$GOCACHE/README" ]; then
    mkdir -p "$GOCACHE" && cp -R "$warm/." "$GOCACHE/" 2>/dev/null || true
  fi
fi

# Key the build by the content of the sources, so a new version rebuilds.
key=$(find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum -- | sha256sum | cut -c1-16)
out=${HEARTH_GO_BUILD_DIR:-${TMPDIR:-/tmp}/hearth-go-build}/$key
if [ ! -x "$out/bootstrap" ]; then
  "$here/build.sh" "$root" "$out" >&2
fi
exec "$out/bootstrap"
