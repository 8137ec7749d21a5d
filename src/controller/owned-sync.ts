// Writing the objects one owner should own: apply what differs from the
// informer cache, remove what is no longer wanted, and trust our own recent
// applies while the cache catches up with them. One owner is a Function's
// $LATEST or one of its published versions; the reconciler calls this for
// each with the objects the builders made.
import type { WireObject } from '../kube/objects.js';
import { upToDate, withAppliedHash } from './resources/apply-plan.js';

export type OwnedKind = 'Deployment' | 'Service' | 'ConfigMap' | 'ServiceAccount' | 'NetworkPolicy';

/** One object an owner should (obj) or should no longer (undefined) have. */
export interface Want {
  kind: OwnedKind;
  name: string;
  obj: WireObject | undefined;
  /** Not removed when unwanted: the spec names it (a version's ConfigMap copy the store made carries the name its inline code would). */
  keep?: boolean;
}

export interface SyncDeps {
  getOwned(kind: OwnedKind, namespace: string, name: string): WireObject | undefined;
  apply<T extends WireObject>(obj: T): Promise<T>;
  remove(kind: OwnedKind, namespace: string, name: string): Promise<void>;
  now(): number;
}

/** What an apply replaced: for events (the Deployment created, its code rolled). */
export interface Applied {
  want: Want;
  obj: WireObject;
  /** What the cache held before (undefined: the object is new, or the cache had not seen our last apply). */
  cached: WireObject | undefined;
  /** Whether an apply of ours was still expected in the cache. */
  wasExpected: boolean;
}

export interface SyncResult {
  /** Objects as our applies left them, by kind/name, where the cache does not show them yet. */
  pending: Map<string, WireObject>;
  /** Come back after this long to check the cache caught up (0: no need). */
  recheckMs: number;
}

/** How long the result of an apply stands in for an informer cache that has not seen it yet. */
export const EXPECTATION_MS = 5_000;

export class OwnedSync {
  /** Our latest applies not yet known to be in the cache, by scope (an owner), then kind/name. */
  readonly #expected = new Map<string, Map<string, { obj: WireObject; at: number }>>();

  constructor(private readonly deps: SyncDeps) {}

  /** Forgets what was expected of a scope (its owner is gone). */
  forget(scope: string): void {
    this.#expected.delete(scope);
  }

  /** Forgets every scope that starts with prefix. */
  forgetPrefix(prefix: string): void {
    for (const k of this.#expected.keys()) if (k.startsWith(prefix)) this.#expected.delete(k);
  }

  /**
   * Syncs the wanted objects phase by phase: what pods mount or run as
   * comes first (a pod created before its ServiceAccount or ConfigMap is
   * refused and retried with backoff); within a phase in parallel, as
   * reconciles are round-trip bound.
   */
  async sync(scope: string, namespace: string, ownerUid: string, phases: readonly (readonly Want[])[], onApplied?: (a: Applied) => void): Promise<SyncResult> {
    const d = this.deps;
    const pending = new Map<string, WireObject>();
    let recheckMs = 0;
    const one = async (want: Want): Promise<void> => {
      const id = `${want.kind}/${want.name}`;
      const cached = d.getOwned(want.kind, namespace, want.name);
      if (want.obj === undefined) {
        this.#expected.get(scope)?.delete(id);
        if (cached !== undefined && !want.keep && ownedBy(cached, ownerUid)) await d.remove(want.kind, namespace, want.name);
        return;
      }
      const obj = withAppliedHash(want.obj);
      if (upToDate(obj, cached)) {
        this.#expected.get(scope)?.delete(id);
        return;
      }
      // The cache may not have caught up with our own last apply yet: trust that apply for a
      // while, and look again once it would have (a hand edit meanwhile is then repaired).
      const expected = this.#expected.get(scope)?.get(id);
      const age = d.now() - (expected?.at ?? 0);
      if (expected !== undefined && age < EXPECTATION_MS && upToDate(obj, expected.obj)) {
        recheckMs = Math.max(recheckMs, EXPECTATION_MS - age);
        pending.set(id, expected.obj);
        return;
      }
      const applied = await d.apply(obj);
      let forScope = this.#expected.get(scope);
      if (forScope === undefined) this.#expected.set(scope, (forScope = new Map()));
      forScope.set(id, { obj: applied, at: d.now() });
      pending.set(id, applied);
      onApplied?.({ want, obj, cached, wasExpected: expected !== undefined });
    };
    for (const phase of phases) await Promise.all(phase.map(one));
    if (this.#expected.get(scope)?.size === 0) this.#expected.delete(scope);
    return { pending, recheckMs };
  }
}

export function ownedBy(obj: WireObject, uid: string): boolean {
  const refs = (obj.metadata as { ownerReferences?: { uid?: string }[] } | undefined)?.ownerReferences ?? [];
  return refs.some((r) => r.uid === uid);
}
