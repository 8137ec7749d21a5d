// Where `hearth cost` reads gateway metrics from. Each gateway replica counts
// only the calls it served, so a total is the sum over every replica: gateways
// named by URL, or in a cluster every pod behind the gateway Service (found
// through its EndpointSlices and read through the API server's pod proxy, so
// it works from outside the cluster with a kubeconfig).
import { request } from 'undici';
import { SERVICE_NAME_LABEL, type EndpointSlice } from '../backends/kubernetes/endpoints.js';
import { RESOURCES, resourcePath } from '../kube/paths.js';
import type { KubeRest } from '../kube/rest.js';

export interface MetricsSource {
  /** How the output names it: a URL, or namespace/pod. */
  label: string;
  read(): Promise<string>;
}

/** A gateway's /metrics at its base URL; the key is sent when /metrics needs credentials (--open-routes). */
export function urlSource(baseUrl: string, apiKey?: string): MetricsSource {
  const url = `${baseUrl.replace(/\/$/, '')}/metrics`;
  return {
    label: baseUrl,
    async read() {
      const res = await request(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {}, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}${res.statusCode === 401 ? ' (give the key with --api-key or HEARTH_API_KEY)' : ''}`);
      return text;
    },
  };
}

/** EndpointSlices in wire form, with the ports this reads. */
export type GatewaySlice = EndpointSlice & { ports?: { name?: string | null; port?: number | null }[] | null };

/**
 * The gateway pods behind a Service and the port of theirs named `portName`,
 * once each, in name order. Terminating and not-yet-ready pods are included:
 * they are gateway processes whose counters belong to the total too.
 */
export function gatewayPods(slices: readonly GatewaySlice[], portName: string): Array<{ pod: string; port: number }> {
  const pods = new Map<string, number>();
  for (const s of slices) {
    const port = s.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (typeof port !== 'number') continue;
    for (const e of s.endpoints ?? []) {
      if (e.targetRef?.kind === 'Pod' && e.targetRef.name !== undefined) pods.set(e.targetRef.name, port);
    }
  }
  return [...pods].sort(([a], [b]) => a.localeCompare(b)).map(([pod, port]) => ({ pod, port }));
}

/** One source per gateway pod behind the Service; none found is an error naming the Service. */
export async function serviceSources(rest: KubeRest, namespace: string, service: string, opts: { portName?: string; apiKey?: string } = {}): Promise<MetricsSource[]> {
  const list = await rest.request<{ items?: GatewaySlice[] }>('GET', resourcePath(RESOURCES.EndpointSlice, namespace), { query: { labelSelector: `${SERVICE_NAME_LABEL}=${service}` } });
  const pods = gatewayPods(list.items ?? [], opts.portName ?? 'http');
  if (pods.length === 0) throw new Error(`Service ${namespace}/${service} has no gateway pods (no EndpointSlice endpoint naming a pod with a port named ${opts.portName ?? 'http'})`);
  return pods.map(({ pod, port }) => ({
    label: `${namespace}/${pod}`,
    // The API server keeps its own Authorization header; the gateway's key travels as X-Api-Key.
    read: () => rest.getText(`${resourcePath(RESOURCES.Pod, namespace, pod)}:${port}/proxy/metrics`, { headers: opts.apiKey ? { 'x-api-key': opts.apiKey } : {}, timeoutMs: 10_000 }),
  }));
}

export interface ScrapeResult {
  read: Array<{ label: string; text: string }>;
  failed: Array<{ label: string; error: string }>;
}

/** Reads every source at once; a source that fails is reported, not silently left out of a sum. */
export async function scrapeAll(sources: readonly MetricsSource[]): Promise<ScrapeResult> {
  const results = await Promise.allSettled(sources.map((s) => s.read()));
  const out: ScrapeResult = { read: [], failed: [] };
  results.forEach((r, i) => {
    const label = sources[i]?.label ?? '?';
    if (r.status === 'fulfilled') out.read.push({ label, text: r.value });
    else out.failed.push({ label, error: r.reason instanceof Error ? r.reason.message : String(r.reason) });
  });
  return out;
}
