// The gateway's view of functions running in the cluster. The controller owns
// every object; this backend only reads the EndpointSlices of each serving
// unit's Service (so it knows which pods exist and which are ready) and
// writes the unit's scale subresource (so the controller sizes the
// Deployment): the Function's for $LATEST (key NAME), the FunctionVersion's
// for a published version (key NAME:N).
// On a scale-down it picks the pods that leave itself: it stops choosing
// them at once and gives them a low pod-deletion-cost before writing the new
// count, so the ReplicaSet deletes those pods, whose agents then drain.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { HearthFunction } from '../../api/function.js';
import { AgentClient } from '../../agent/client.js';
import { Informer } from '../../kube/informer.js';
import { scaleFunction, scaleFunctionVersion, setPodDeletionCost } from '../../kube/objects.js';
import { RESOURCES } from '../../kube/paths.js';
import { KubeRest } from '../../kube/rest.js';
import { AGENT_PORT } from '../../controller/resources/names.js';
import type { Backend, Instance } from '../backend.js';
import { LATEST } from '../../api/function.js';
import { splitUnitKey, versionObjectName } from '../../versions/units.js';
import { SERVICE_NAME_LABEL, endpointsOf, unitKeyOfSlice, type EndpointSlice } from './endpoints.js';
import { KubernetesInstance, type HoldKind, type InvokeClient } from './instance.js';
import { chooseVictims, VICTIM_DELETION_COST } from './victims.js';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** The namespace whose Functions this gateway serves. */
  namespace: string;
  agentPort?: number;
  /** How an instance talks to its agent; the agent's HTTP client by default. */
  makeClient?: (url: string) => InvokeClient;
  now?: () => number;
  onError?: (err: unknown) => void;
  logger?: Logger;
  /** Longest this gateway holds an instance back on its own (default instance.ts HOLD_MS); tests shorten it. */
  holdMs?: number;
}

type SliceObject = EndpointSlice & KubernetesObject;

export class KubernetesBackend implements Backend {
  readonly kind = 'kubernetes' as const;
  readonly #o: KubernetesBackendOptions;
  readonly #rest: KubeRest;
  readonly #slices: Informer<SliceObject>;
  readonly #instances = new Map<string, KubernetesInstance[]>();
  readonly #concurrency = new Map<string, number>();
  readonly #listeners = new Set<(name: string) => void>();
  readonly #makeClient: (url: string) => InvokeClient;
  /** Per unit: the scale calls in order, so the latest count is the one written last. */
  readonly #writes = new Map<string, { seq: number; chain: Promise<void> }>();
  /** The unit each slice was last seen under: a slice whose Service's labels changed leaves its old unit, which is rebuilt too. */
  readonly #sliceUnits = new Map<string, string>();
  #started: Promise<void> | undefined;

  constructor(opts: KubernetesBackendOptions) {
    this.#o = opts;
    this.#rest = new KubeRest(opts.kubeConfig);
    this.#makeClient = opts.makeClient ?? ((url) => new AgentClient(url));
    this.#slices = new Informer<SliceObject>(opts.kubeConfig, this.#rest, RESOURCES.EndpointSlice, {
      namespace: opts.namespace,
      labelSelector: SERVICE_NAME_LABEL,
      ...(opts.onError !== undefined ? { onError: opts.onError } : {}),
    });
    const changed = (s: SliceObject, gone = false): void => {
      const slice = s.metadata?.name ?? '';
      const key = unitKeyOfSlice(s);
      const before = this.#sliceUnits.get(slice);
      if (gone || key === undefined) this.#sliceUnits.delete(slice);
      else this.#sliceUnits.set(slice, key);
      if (before !== undefined && before !== key) this.#refresh(before);
      if (key !== undefined) this.#refresh(key);
    };
    this.#slices.on({ add: (s) => changed(s), update: (s) => changed(s), delete: (s) => changed(s, true) });
  }

  /** Lists and starts watching EndpointSlices; instances() is empty until this resolves. */
  start(): Promise<void> {
    this.#started ??= this.#slices.start();
    return this.#started;
  }

  async upsert(fn: HearthFunction): Promise<void> {
    // The controller creates and rolls the objects; the gateway only needs the instance concurrency.
    this.#concurrency.set(fn.metadata.name, fn.spec.concurrency);
    for (const i of this.#instances.get(fn.metadata.name) ?? []) i.concurrency = fn.spec.concurrency;
  }

  async remove(name: string): Promise<void> {
    this.#concurrency.delete(name);
  }

  /**
   * Writes the unit's replica count: the Function's for NAME, the
   * FunctionVersion's for NAME:N. Scaling down, it first picks the
   * victims (chooseVictims), holds them back (this gateway stops choosing
   * them now, before their pods get SIGTERM) and gives their pods a low
   * deletion cost. Scaling up, victims whose pods are not leaving yet are
   * kept instead, and lose their low cost first. The choice is made when
   * called; the writes of successive calls go out in call order, and a count
   * a later call replaces is not written.
   */
  scale(name: string, desired: number): Promise<void> {
    const target = Math.max(0, Math.floor(desired));
    const all = this.#instances.get(name) ?? [];
    const live = all.filter((i) => i.state === 'ready' || i.state === 'starting');
    const costs: { pod: string; cost: number | null }[] = [];
    let changed = false;
    if (target < live.length) {
      const ids = new Set(chooseVictims(live.map((i) => ({ id: i.id, state: i.state, inFlight: i.inFlight, readyAt: i.readyAt })), target));
      for (const i of live) {
        if (!ids.has(i.id) || !i.hold('victim')) continue;
        changed = true;
        if (i.pod !== undefined) costs.push({ pod: i.pod, cost: VICTIM_DELETION_COST });
      }
      this.#o.logger?.info({ function: name, from: live.length, to: target, victims: [...ids] }, 'scale-down victims chosen');
    } else if (target > live.length) {
      const keep = all.filter((i) => i.held === 'victim' && (i.endpointState === 'ready' || i.endpointState === 'starting')).slice(0, target - live.length);
      for (const i of keep) {
        i.release();
        changed = true;
        if (i.pod !== undefined) costs.push({ pod: i.pod, cost: null });
      }
    }
    if (changed) this.#notifySoon(name);
    return this.#inOrder(name, async (superseded) => {
      await Promise.all(costs.map((c) => this.#setCost(c.pod, c.cost)));
      if (superseded()) return;
      const { name: fn, version } = splitUnitKey(name);
      if (version === LATEST) await scaleFunction(this.#rest, this.#o.namespace, fn, target);
      else await scaleFunctionVersion(this.#rest, this.#o.namespace, versionObjectName(fn, version), target);
    });
  }

  instances(name: string): readonly Instance[] {
    return this.#instances.get(name) ?? [];
  }

  onChange(listener: (functionName: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #inOrder(name: string, write: (superseded: () => boolean) => Promise<void>): Promise<void> {
    let entry = this.#writes.get(name);
    if (entry === undefined) {
      entry = { seq: 0, chain: Promise.resolve() };
      this.#writes.set(name, entry);
    }
    const mine = ++entry.seq;
    const e = entry;
    const run = e.chain.catch(() => undefined).then(() => write(() => e.seq !== mine));
    e.chain = run;
    return run;
  }

  /** A pod's deletion cost, best effort: without it the ReplicaSet may delete another pod, which then drains in turn. */
  async #setCost(pod: string, cost: number | null): Promise<void> {
    try {
      await setPodDeletionCost(this.#rest, this.#o.namespace, pod, cost);
    } catch (err) {
      this.#o.logger?.warn({ err, pod, cost }, 'could not set the pod deletion cost');
    }
  }

  /** After the current turn: a hold may change inside the dispatcher's own pass over its waiters. */
  #notifySoon(name: string): void {
    queueMicrotask(() => {
      for (const l of this.#listeners) l(name);
    });
  }

  #onHoldChange(instance: KubernetesInstance, change: { kind: HoldKind; held: boolean }): void {
    // A victim whose pod was not deleted after all serves again, and sheds its low cost.
    if (!change.held && change.kind === 'victim' && instance.pod !== undefined) void this.#setCost(instance.pod, null);
    this.#notifySoon(instance.functionName);
  }

  async close(): Promise<void> {
    await this.#slices.stop();
    const all = [...this.#instances.values()].flat();
    this.#instances.clear();
    await Promise.all(all.map((i) => i.close()));
    this.#rest.close();
  }

  /** Rebuilds the unit's instance list from its slices, keeping the objects of pods that stay. */
  #refresh(name: string): void {
    const now = this.#o.now?.() ?? Date.now();
    const slices = this.#slices.list(this.#o.namespace).filter((s) => unitKeyOfSlice(s) === name);
    const records = endpointsOf(slices);
    const before = this.#instances.get(name) ?? [];
    const byId = new Map(before.map((i) => [i.id, i]));
    let changed = records.length !== before.length;
    const next: KubernetesInstance[] = [];
    for (const r of records) {
      let inst = byId.get(r.id);
      if (inst !== undefined && inst.address !== r.address) inst = undefined;
      if (inst === undefined) {
        inst = new KubernetesInstance({
          id: r.id,
          functionName: name,
          address: r.address,
          pod: r.pod,
          concurrency: this.#concurrency.get(name) ?? 1,
          state: r.state,
          makeClient: this.#makeClient,
          port: this.#o.agentPort ?? AGENT_PORT,
          now,
          onHoldChange: (i, c) => this.#onHoldChange(i, c),
          ...(this.#o.holdMs !== undefined ? { holdMs: this.#o.holdMs } : {}),
        });
        changed = true;
      } else if (inst.setState(r.state, now)) {
        changed = true;
      }
      byId.delete(r.id);
      next.push(inst);
    }
    for (const gone of byId.values()) {
      changed = true;
      gone.close().catch((err: unknown) => this.#o.onError?.(err));
    }
    if (next.length === 0) this.#instances.delete(name);
    else this.#instances.set(name, next);
    if (changed) for (const l of this.#listeners) l(name);
  }
}
