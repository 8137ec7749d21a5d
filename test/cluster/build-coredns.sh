#!/usr/bin/env bash
# Builds CoreDNS (the cluster DNS of the process-node cluster) into the same
# cache as build.sh's programs, only when missing or stale. ~75 s cold.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
COREDNS_VERSION=v1.12.4
bin=$(bash "$here/build.sh" --print-bin-dir)
stamp="$(go env GOVERSION) github.com/coredns/coredns@${COREDNS_VERSION}"
if [ -x "$bin/coredns" ] && [ "$(cat "$bin/.coredns.stamp" 2>/dev/null)" = "$stamp" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
exec 9>"$bin/../.coredns.lock"
flock 9
tmp=$(mktemp -d "$bin/../.coredns.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "cluster-build: installing coredns ${COREDNS_VERSION}" >&2
(cd "$tmp" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@${COREDNS_VERSION}")
mv -f "$tmp/coredns" "$bin/coredns"
printf '%s' "$stamp" > "$bin/.coredns.stamp"
echo "$bin"
