// Where a cold start's time goes, as the API server shows it: watches on the
// namespace's Functions, Deployments, ReplicaSets and Pods, each event kept
// with the time this process received it. After a trial, `milestones` reads
// back when each step first became visible after the call was sent: the
// scale written, the Deployment and ReplicaSet scaled, the pod created,
// bound, given an IP, its containers running and started, Ready. Watch
// delivery adds a few ms to each; the API's own timestamps have 1 s steps,
// too coarse for this.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeRest } from '../test/cluster/node/kube-rest.js';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  deletionTimestamp?: string;
}

interface ContainerStatus {
  name: string;
  started?: boolean;
  ready?: boolean;
  state?: { running?: object };
}

export interface Obj {
  kind?: string;
  metadata?: Meta;
  spec?: { replicas?: number; nodeName?: string };
  status?: {
    podIP?: string;
    readyReplicas?: number;
    conditions?: { type: string; status: string }[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface Seen {
  at: number;
  kind: 'Function' | 'Deployment' | 'ReplicaSet' | 'Pod';
  type: string;
  obj: Obj;
}

const PATHS: Record<Seen['kind'], (ns: string) => string> = {
  Function: (ns) => `/apis/hearth.dev/v1alpha1/namespaces/${ns}/functions`,
  Deployment: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  ReplicaSet: (ns) => `/apis/apps/v1/namespaces/${ns}/replicasets`,
  Pod: (ns) => `/api/v1/namespaces/${ns}/pods`,
};

/** Records every change of those kinds in `ns` from start() until stop(). */
export class Timeline {
  private events: Seen[] = [];
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly rest: KubeRest,
    private readonly ns: string,
    private readonly kinds: readonly Seen['kind'][] = ['Function', 'Deployment', 'ReplicaSet', 'Pod'],
  ) {}

  async start(): Promise<void> {
    const listed = this.kinds.map((k) => this.loop(k));
    this.loops = listed.map((l) => l.done);
    await Promise.all(listed.map((l) => l.watching));
  }

  /** Forgets what was seen so far: a trial reads only its own events. */
  reset(): void {
    this.events = [];
  }

  seen(): readonly Seen[] {
    return this.events;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  /** List, then watch from there; again on any end (the API server ends watches after a while). */
  private loop(kind: Seen['kind']): { watching: Promise<void>; done: Promise<void> } {
    let opened: () => void = () => undefined;
    const watching = new Promise<void>((r) => (opened = r));
    const path = PATHS[kind](this.ns);
    const done = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          const list = await this.rest.get<{ metadata?: { resourceVersion?: string }; items: Obj[] }>(path);
          const at = performance.now();
          for (const o of list.items) this.events.push({ at, kind, type: 'LISTED', obj: o });
          opened();
          await this.rest.watch<Obj>(`${path}?resourceVersion=${list.metadata?.resourceVersion ?? ''}`, (e) => {
            if (e.type === 'BOOKMARK' || e.type === 'ERROR') return;
            this.events.push({ at: performance.now(), kind, type: e.type, obj: e.object });
          }, this.abort.signal);
        } catch {
          if (this.abort.signal.aborted) return;
          await sleep(200);
        }
      }
    })();
    return { watching, done };
  }
}

export type Milestone = { name: string; test: (s: Seen) => boolean };

const container = (s: Seen, name: string): ContainerStatus | undefined => s.obj.status?.containerStatuses?.find((c) => c.name === name);

const labelled = (s: Seen, key: string, value: string): boolean => s.obj.metadata?.labels?.[key] === value;

/** The steps of a new pod of the Deployment whose pods carry `key=value`, as Kubernetes records them; `containers` in the pod's order. */
export function podMilestones(key: string, value: string, containers: readonly string[]): Milestone[] {
  const pod = (s: Seen): boolean => s.kind === 'Pod' && labelled(s, key, value) && s.obj.metadata?.deletionTimestamp === undefined;
  const out: Milestone[] = [
    { name: 'ReplicaSet scaled (deployment controller)', test: (s) => s.kind === 'ReplicaSet' && labelled(s, key, value) && (s.obj.spec?.replicas ?? 0) > 0 },
    { name: 'pod created (ReplicaSet controller)', test: pod },
    { name: 'pod bound (scheduler)', test: (s) => pod(s) && s.obj.spec?.nodeName !== undefined },
    { name: 'pod IP (node: sandbox, volumes)', test: (s) => pod(s) && s.obj.status?.podIP !== undefined },
  ];
  for (const name of containers) out.push({ name: `${name} running (node started it)`, test: (s) => pod(s) && container(s, name)?.state?.running !== undefined });
  out.push(
    { name: 'pod Ready (readiness probe)', test: (s) => pod(s) && (s.obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false) },
  );
  return out;
}

/** ms from t0 to the first event after t0 that meets each milestone (NaN: never seen). */
export function milestones(events: readonly Seen[], t0: number, list: readonly Milestone[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of list) {
    const hit = events.find((e) => e.at >= t0 && m.test(e));
    out.set(m.name, hit === undefined ? Number.NaN : hit.at - t0);
  }
  return out;
}
