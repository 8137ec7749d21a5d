// The gateway's view of functions running in the cluster. The controller owns
// every object; this backend only reads the EndpointSlices of each function's
// Service (so it knows which pods exist and which are ready) and writes the
// Function's scale subresource (so the controller sizes the Deployment).
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { HearthFunction } from '../../api/function.js';
import { AgentClient } from '../../agent/client.js';
import { Informer } from '../../kube/informer.js';
import { scaleFunction } from '../../kube/objects.js';
import { RESOURCES } from '../../kube/paths.js';
import { KubeRest } from '../../kube/rest.js';
import { AGENT_PORT } from '../../controller/resources/names.js';
import type { Backend, Instance } from '../backend.js';
import { SERVICE_NAME_LABEL, endpointsOf, type EndpointSlice } from './endpoints.js';
import { KubernetesInstance, type InvokeClient } from './instance.js';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** The namespace whose Functions this gateway serves. */
  namespace: string;
  agentPort?: number;
  /** How an instance talks to its agent; the agent's HTTP client by default. */
  makeClient?: (url: string) => InvokeClient;
  now?: () => number;
  onError?: (err: unknown) => void;
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
    const changed = (s: SliceObject): void => {
      const name = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (name !== undefined) this.#refresh(name);
    };
    this.#slices.on({ add: changed, update: changed, delete: changed });
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

  async scale(name: string, desired: number): Promise<void> {
    await scaleFunction(this.#rest, this.#o.namespace, name, Math.max(0, Math.floor(desired)));
  }

  instances(name: string): readonly Instance[] {
    return this.#instances.get(name) ?? [];
  }

  onChange(listener: (functionName: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#slices.stop();
    const all = [...this.#instances.values()].flat();
    this.#instances.clear();
    await Promise.all(all.map((i) => i.close()));
    this.#rest.close();
  }

  /** Rebuilds the function's instance list from its slices, keeping the objects of pods that stay. */
  #refresh(name: string): void {
    const now = this.#o.now?.() ?? Date.now();
    const slices = this.#slices.list(this.#o.namespace).filter((s) => s.metadata?.labels?.[SERVICE_NAME_LABEL] === name);
    const records = endpointsOf(slices);
    const before = this.#instances.get(name) ?? [];
    const byId = new Map(before.map((i) => [i.id, i]));
    let changed = records.length !== before.length;
    const next: KubernetesInstance[] = [];
    for (const r of records) {
      let inst = byId.get(r.id);
      if (inst !== undefined && inst.address !== r.address) inst = undefined;
      if (inst === undefined) {
        inst = new KubernetesInstance(r.id, name, r.address, this.#concurrency.get(name) ?? 1, r.state, this.#makeClient, this.#o.agentPort ?? AGENT_PORT, now);
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
