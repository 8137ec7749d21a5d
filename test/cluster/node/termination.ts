// How the kubelet (v1.33: killContainer in kuberuntime_container.go and
// kuberuntime_termination_order.go) spends a container's grace period when
// it stops it, as pure decisions, and the cut-off a later, shorter grace
// (a force delete, the node stopping) imposes on a termination under way.
//
// Per container, all at once: the preStop hook runs, bounded by the grace
// period; what it took (in whole seconds, truncated) comes off the grace; a
// native sidecar then waits, bounded by what is left, for its turn (every app
// container and the sidecar declared after it have exited), and that wait
// comes off too; SIGTERM follows with what is left but never less than 2 s,
// then SIGKILL. So a sidecar's own preStop hook runs when the pod's
// termination begins, beside the app containers' hooks, while its SIGTERM
// waits for its turn.
import type { V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';

/** minimumGracePeriodInSeconds: the kubelet always gives SIGTERM this long before SIGKILL. */
export const MIN_KILL_GRACE_SECONDS = 2;

/** Why a container is killed: the pod's deletion, a failed probe, or its failed postStart hook (the pod's own grace). */
export type KillReason = 'deletion' | 'liveness' | 'startup' | 'postStart';

/**
 * setTerminationGracePeriod: the pod's deletion grace if it is being deleted;
 * else a failing probe's own terminationGracePeriodSeconds; else the pod's.
 */
export function killGraceSeconds(pod: V1Pod, container: V1Container, reason: KillReason): number {
  const deletion = pod.metadata?.deletionGracePeriodSeconds;
  if (deletion !== undefined && deletion !== null) return deletion;
  const podGrace = pod.spec?.terminationGracePeriodSeconds;
  if (podGrace === undefined || podGrace === null) return MIN_KILL_GRACE_SECONDS;
  const probe = reason === 'liveness' ? container.livenessProbe : reason === 'startup' ? container.startupProbe : undefined;
  return probe?.terminationGracePeriodSeconds ?? podGrace;
}

/** The grace left after a step (hook, waiting for the turn) that took elapsedMs; the kubelet counts whole seconds, truncated. */
export function graceLeft(graceSeconds: number, elapsedMs: number): number {
  return graceSeconds - Math.trunc(elapsedMs / 1000);
}

/** Seconds between SIGTERM and SIGKILL, given the grace left. */
export function sigtermGrace(graceLeftSeconds: number): number {
  return Math.max(graceLeftSeconds, MIN_KILL_GRACE_SECONDS);
}

/**
 * newTerminationOrdering: for each running native sidecar, the running
 * containers whose exit it waits for before its SIGTERM: every app container,
 * and the sidecar declared right after it (which waits in turn for the next),
 * so sidecars stop in reverse order after the app. Others wait for nothing.
 * As in the kubelet, a sidecar waits on the next one declared even if that
 * one is not running (then not at all): the chain is by declaration.
 */
export function terminationPrereqs(spec: Pick<V1PodSpec, 'containers' | 'initContainers'>, running: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const inits = spec.initContainers ?? [];
  if (!inits.some((c) => c.restartPolicy === 'Always')) return out;
  const apps = spec.containers.map((c) => c.name).filter((n) => running.has(n));
  let later: string | undefined;
  for (const c of [...inits].reverse()) {
    if (c.restartPolicy !== 'Always') continue;
    if (running.has(c.name)) out.set(c.name, [...apps, ...(later !== undefined && running.has(later) ? [later] : [])]);
    later = c.name;
  }
  return out;
}

/**
 * The latest moment a termination may still wait for anything, brought
 * forward (never back) when the pod is asked to stop again with a shorter
 * grace. Unbounded until then.
 */
export class Cutoff {
  private atMs = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly watchers = new Set<(atMs: number) => void>();

  get at(): number {
    return this.atMs;
  }

  get passed(): boolean {
    return Date.now() >= this.atMs;
  }

  bringForward(atMs: number): void {
    if (atMs >= this.atMs) return;
    this.atMs = atMs;
    for (const w of this.watchers) w(atMs);
    this.arm();
  }

  /** Calls fn with the new moment whenever it moves; returns the unsubscribe. */
  watch(fn: (atMs: number) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** Resolves once the cut-off has passed (never, if it never comes). */
  reached(): Promise<void> {
    if (this.passed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.add(resolve);
      this.arm();
    });
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.size === 0 || this.atMs === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.atMs - Date.now()));
    // A pending cut-off alone must not keep the node's event loop alive.
    this.timer.unref();
  }

  private fire(): void {
    if (!this.passed) {
      this.arm();
      return;
    }
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}

/** Waits for p, but no longer than ms nor past the cut-off. Resolves either way; never rejects. */
export async function within(p: Promise<unknown>, ms: number, cutoff: Cutoff): Promise<void> {
  if (ms <= 0 || cutoff.passed) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([p.then(() => undefined, () => undefined), timeout, cutoff.reached()]);
  } finally {
    clearTimeout(timer);
  }
}
