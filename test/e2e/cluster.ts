// Helpers of the e2e suite: kubectl and helm of the cluster's release, API
// reads, waits, and Lambda Invoke API calls to the gateway by its DNS name.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { KubeRest } from '../cluster/node/kube-rest.js';
import { repoRoot } from '../cluster/node/images.js';
import type { E2eContext } from './global-setup.js';

export const NS = 'hearth';
export const GATEWAY = `http://hearth-gateway.${NS}.svc.cluster.local`;

export function ctx(): E2eContext {
  return inject('e2e');
}

let rest: KubeRest | undefined;
export function api(): KubeRest {
  const c = ctx();
  rest ??= new KubeRest(c.server, c.token, c.caPem);
  return rest;
}

export function tool(name: 'kubectl' | 'helm', args: string[], input?: string): Promise<string> {
  const c = ctx();
  return new Promise((resolve, reject) => {
    const child = execFile(join(c.binDir, name), args, { cwd: repoRoot, env: { ...process.env, KUBECONFIG: c.kubeconfigPath }, timeout: 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const kubectl = (...args: string[]): Promise<string> => tool('kubectl', args);

export { until } from '../helpers/wait.js';

export interface Invocation {
  status: number;
  headers: Headers;
  body: string;
}

let key: string | undefined;
/** The API key the chart generated (Secret hearth-gateway-auth, key api-key), as its NOTES say. */
export async function apiKey(): Promise<string> {
  if (key === undefined) {
    const s = await api().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${NS}/secrets/hearth-gateway-auth`);
    key = Buffer.from(s.data['api-key'] ?? '', 'base64').toString('utf8');
  }
  return key;
}

/** A call to the gateway's Service by its cluster DNS name, authenticated with the chart's key. */
export async function gatewayFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${await apiKey()}`);
  return fetch(`${GATEWAY}${path}`, { ...init, headers });
}

export async function invoke(fn: string, payload: unknown, opts: { type?: 'Event' | 'RequestResponse'; timeoutMs?: number } = {}): Promise<Invocation> {
  const res = await gatewayFetch(`/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.type === undefined ? {} : { 'x-amz-invocation-type': opts.type }) },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export interface PodView {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}

export interface ContainerStatusView {
  name: string;
  ready: boolean;
  restartCount: number;
  containerID?: string;
  state?: { running?: object; waiting?: { reason?: string; message?: string }; terminated?: { exitCode: number; reason?: string } };
  lastState?: { terminated?: { exitCode: number; reason?: string } };
}

export async function pods(ns: string, selector: string): Promise<PodView[]> {
  const list = await api().get<{ items: PodView[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
  return list.items;
}

export function isReady(p: PodView): boolean {
  return p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The pid behind a container: the process node's containerID is process://<pid>. */
export function containerPid(s: ContainerStatusView | undefined): number | undefined {
  const m = /^process:\/\/(\d+)$/.exec(s?.containerID ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The chart's release, installed as hearth.test.ts does when a file that needs it runs alone. */
export async function ensureRelease(): Promise<void> {
  const installed = await tool('helm', ['status', 'hearth', '--namespace', NS]).then(() => true, () => false);
  if (installed) return;
  await tool('helm', [
    'install', 'hearth', 'charts/hearth', '--namespace', NS, '--create-namespace',
    '--set', 'redis.bundled.persistence.enabled=false',
    '--wait', '--timeout', '4m',
  ]);
}

/** The labels of one Prometheus text-format series, `{a="x",b="y"}` → {a: 'x', b: 'y'}. */
function seriesLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1] ?? ''] = (m[2] ?? '').replace(/\\(.)/g, '$1');
  return out;
}

/**
 * A metric summed over every gateway pod's /metrics (each counts only what
 * it did) and over its series whose labels include `labels`.
 */
export async function gatewayMetricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
  const gateways = (await pods(NS, 'app.kubernetes.io/component=gateway')).filter((p) => p.status.podIP !== undefined && p.metadata.deletionTimestamp === undefined);
  let sum = 0;
  for (const g of gateways) {
    const res = await fetch(`http://${g.status.podIP ?? ''}:8080/metrics`, { headers: { authorization: `Bearer ${await apiKey()}` }, signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`${g.metadata.name} /metrics: HTTP ${res.status}`);
    for (const line of (await res.text()).split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
      if (m?.[1] !== name) continue;
      const have = seriesLabels(m[2] ?? '');
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
    }
  }
  return sum;
}
