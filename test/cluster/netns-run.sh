#!/usr/bin/env bash
# Runs a command inside a network namespace made for the process-node
# cluster, never in the machine's own: `netns-run.sh NAME -- CMD...`.
#   --create   make the namespace if missing and leave it (make cluster-up)
#   --delete   stop what runs in it and remove it (make cluster-down)
#   (default)  make it, run CMD inside, then remove it and check that no
#              process, namespace, cgroup or mount of it is left (e2e runs)
# Inside, /etc/resolv.conf points at the cluster DNS (a bind mount in a
# private mount namespace, so the machine's file is untouched).
#
# Leak checks name the run (test/cluster/leaks.ts): the namespace NAME is the
# run, and everything the process node makes carries it. Before a run or
# --create, what runs no longer live left is reported as theirs and removed
# (it never fails this run); after a run or --delete, what this run left is
# reported as its own leak, removed, and fails it.
set -euo pipefail
mode=run
case "${1:-}" in --create|--delete|--exec) mode=${1#--}; shift ;; esac
ns=${1:?usage: netns-run.sh [--create|--delete|--exec] NAME [-- CMD...]}; shift
[ "${1:-}" = "--" ] && shift
state=/run/hearth-netns/$ns
dns=${HEARTH_CLUSTER_DNS:-10.96.0.10}
root=$(cd "$(dirname "$0")/../.." && pwd)
leaks() { "$root/node_modules/.bin/tsx" "$root/test/cluster/leaks.ts" "$@"; }

make_ns() {
  if [ ! -e "/run/netns/$ns" ]; then
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  fi
  mkdir -p "$state"
  # The owner: while this script runs, the namespace's run is live (leaks.ts); the start time tells a reused pid apart.
  if [ "$mode" = run ]; then echo "$$ $(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$$/stat)" > "$state/owner"; fi
  printf 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5 timeout:2 attempts:3\n' "$dns" > "$state/resolv.conf"
}

enter() {
  HEARTH_NETNS=$ns nsenter --net="/run/netns/$ns" unshare --mount --propagation slave -- \
    bash -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$state/resolv.conf" "$@"
}

# Every process whose network namespace is this one: the cluster's own.
ns_pids() {
  [ -e "/run/netns/$ns" ] || return 0
  local inode
  inode=$(stat -L -c %i "/run/netns/$ns")
  for p in /proc/[0-9]*; do
    if [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$inode" ]; then echo "${p#/proc/}"; fi
  done
}

remove_ns() {
  local pids i
  for i in $(seq 1 30); do
    pids=$(ns_pids)
    [ -z "$pids" ] && break
    if [ "$i" = 1 ]; then kill -TERM $pids 2>/dev/null || true; elif [ "$i" -gt 20 ]; then kill -KILL $pids 2>/dev/null || true; fi
    sleep 1
  done
  [ -e "/run/netns/$ns" ] && ip netns del "$ns"
  rm -rf "$state"
}

case $mode in
  create) leaks sweep-stale || echo "netns-run: could not sweep earlier runs' leftovers" >&2; make_ns ;;
  exec) enter "$@" ;;
  delete)
    remove_ns
    leaks check "$ns" "make cluster-down, netns-run.sh pid $$"
    ;;
  run)
    leaks sweep-stale || echo "netns-run: could not sweep earlier runs' leftovers" >&2
    make_ns
    rc=0
    enter "$@" || rc=$?
    remove_ns
    leaks check "$ns" "netns-run.sh pid $$ running: $*" || rc=1
    exit $rc
    ;;
esac
