#!/usr/bin/env bash
# The runtime-go image carries module and build caches warmed by building
# runtimes/go/testdata/hello (aws-lambda-go downloaded, the standard library
# compiled), so a first start needs no network and little memory. The process
# node has no image: this prepares the same /go on the machine, readable by any
# user, before the cluster's namespace (which has no module proxy) is entered.
# Prints the directory that stands for the image's /go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(bash "$here/build.sh" --print-bin-dir)
dir="$bin/../go-image"
sum="$(go env GOVERSION) $(sha256sum "$here/../../runtimes/go/testdata/hello/go.sum" | cut -c1-16)"
if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$sum" ]; then
  mkdir -p "$dir/pkg/mod"
  out=$(mktemp -d)
  GOMODCACHE="$dir/pkg/mod" GOCACHE="$dir/cache" GOFLAGS=-mod=mod bash "$here/../../runtimes/go/build.sh" "$here/../../runtimes/go/testdata/hello" "$out" >/dev/null
  rm -rf "$out"
  chmod -R a+rX "$dir"
  printf '%s' "$sum" > "$dir/.stamp"
fi
cd "$dir" && pwd
