#!/usr/bin/env bash
# Builds the Kubernetes control-plane programs the tests run (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl
# from this module; kwok and helm with `go install`) into a per-version cache.
# Idempotent: a program is rebuilt only when its inputs changed, so only the
# first run on a machine pays the ~4 minute compile.
#
#   test/cluster/build.sh            build what is missing, print the bin dir
#   test/cluster/build.sh --print-bin-dir
#
# Without Go it fails under CI=true and otherwise says why and exits 0, so a
# developer machine without Go can still run the other suites.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${HEARTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/k8s-${K8S_VERSION}}
bin="$cache_root/bin"
if [ "${1:-}" = "--print-bin-dir" ]; then echo "$bin"; exit 0; fi

log() { echo "cluster-build: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    log "FATAL: the Go toolchain is not on PATH; the Kubernetes tests need it to build the control plane"
    exit 1
  fi
  log "skipping: the Go toolchain is not on PATH, so the Kubernetes control plane cannot be built (the Kubernetes tests will skip)"
  exit 0
fi

# Build with exactly the machine's toolchain and no C, so the binaries match
# across machines of the same kind and no compiler download is attempted.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

k8s_major=${K8S_VERSION#v}; k8s_major=${k8s_major%%.*}
k8s_minor=${K8S_VERSION#v*.}; k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=${k8s_major} -X k8s.io/component-base/version.gitMinor=${k8s_minor}"
module_programs=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)
module_packages=(./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)

# A stamp per program records what it was built from; a changed go.sum,
# main, version or flag makes it stale.
go_version=$(go env GOVERSION)
module_stamp=$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" | sha256sum | cut -c1-16)
module_stamp="$go_version $module_stamp $k8s_ldflags"
kwok_stamp="$go_version sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
helm_stamp="$go_version helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"

fresh() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.stamp" 2>/dev/null)" = "$2" ]; }
all_fresh() {
  local p
  for p in "${module_programs[@]}"; do fresh "$p" "$module_stamp" || return 1; done
  fresh kwok "$kwok_stamp" && fresh helm "$helm_stamp"
}

if all_fresh; then log "cached in $bin"; echo "$bin"; exit 0; fi

mkdir -p "$bin"
# One build at a time per cache: a second caller waits, then finds it fresh.
exec 9>"$cache_root/.build.lock"
flock 9
tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

install_into_cache() { # name stamp
  mv -f "$tmp/$1" "$bin/$1"
  printf '%s' "$2" > "$bin/.$1.stamp"
}

stale=0
for p in "${module_programs[@]}"; do fresh "$p" "$module_stamp" || stale=1; done
if [ "$stale" = 1 ]; then
  log "building ${module_programs[*]} (Kubernetes ${K8S_VERSION}; several minutes the first time)"
  start=$SECONDS
  (cd "$here" && go build -mod=readonly -trimpath -ldflags "$k8s_ldflags" -o "$tmp/" "${module_packages[@]}")
  for p in "${module_programs[@]}"; do install_into_cache "$p" "$module_stamp"; done
  log "built Kubernetes programs in $((SECONDS - start)) s"
fi

if ! fresh kwok "$kwok_stamp"; then
  log "installing kwok ${KWOK_VERSION}"
  start=$SECONDS
  (cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}")
  install_into_cache kwok "$kwok_stamp"
  log "installed kwok in $((SECONDS - start)) s"
fi

if ! fresh helm "$helm_stamp"; then
  log "installing helm ${HELM_VERSION}"
  start=$SECONDS
  (cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")
  install_into_cache helm "$helm_stamp"
  log "installed helm in $((SECONDS - start)) s"
fi

log "ready in $bin"
echo "$bin"
