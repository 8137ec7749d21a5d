#!/bin/sh
# Hearth's build recipe for runtime `go`: build a Lambda-style Go program
# (e.g. one written with github.com/aws/aws-lambda-go, lambda.Start) into a
# static `bootstrap` executable.
#
#   runtimes/go/build.sh <source-dir> <out-dir>
#
# <source-dir> holds main.go and go.mod (and normally go.sum). The result is
# <out-dir>/bootstrap. Without go.sum, dependencies are resolved with -mod=mod
# in a scratch copy, so the source directory is never modified. Running it
# again rebuilds in place (Go's build cache makes that cheap); the binary is
# replaced atomically, so a running copy is never half-written.
set -eu

if [ "$#" -ne 2 ]; then
  echo "usage: $0 <source-dir> <out-dir>" >&2
  exit 2
fi
src=$1
out=$2
if [ ! -f "$src/go.mod" ]; then
  echo "build.sh: $src has no go.mod" >&2
  exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

scratch=""
cleanup() { [ -n "$scratch" ] && rm -rf "$scratch"; rm -f "$out/.bootstrap.$$"; }
trap cleanup EXIT INT TERM

modflag=""
if [ ! -f "$src/go.sum" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/hearth-go-src.XXXXXX")
  cp -R "$src/." "$scratch/"
  src=$scratch
  modflag="-mod=mod"
fi

cd "$src"
# -tags lambda.norpc, as AWS builds for its provided runtimes: aws-lambda-go
# leaves out the go1.x RPC mode, which Hearth never uses (and which cannot
# stream an io.Reader response).
# shellcheck disable=SC2086 # modflag is empty or one word
CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -tags lambda.norpc $modflag -o "$out/.bootstrap.$$" .
mv -f "$out/.bootstrap.$$" "$out/bootstrap"
