// Lifecycle handlers (preStop) as the kubelet runs them (pkg/kubelet/lifecycle/handlers.go):
// httpGet to the pod IP unless a host is given, the port by number or by the
// name of one of the container's own ports, any status counting as done (only
// a failed request fails the hook), HTTPS without certificate checks; exec
// inside the container as exec probes run; sleep. Each ends when signal
// aborts (the grace period ran out).
import type { V1LifecycleHandler } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { execInContainer, resolvePort, type ProbeTarget } from './probes.js';

export function describeHandler(h: V1LifecycleHandler): string {
  if (h.httpGet !== undefined) return `httpGet ${(h.httpGet.scheme ?? 'HTTP').toLowerCase()}://${h.httpGet.host ?? '<pod IP>'}:${String(h.httpGet.port)}${h.httpGet.path ?? '/'}`;
  if (h.exec !== undefined) return `exec ${JSON.stringify(h.exec.command ?? [])}`;
  if (h.sleep !== undefined) return `sleep ${h.sleep.seconds}s`;
  return 'an unsupported handler';
}

async function httpGet(g: NonNullable<V1LifecycleHandler['httpGet']>, t: ProbeTarget, signal: AbortSignal): Promise<void> {
  const host = g.host ?? t.podIp;
  const port = resolvePort(g.port as number | string, t.container);
  const scheme = (g.scheme ?? 'HTTP').toLowerCase();
  const headers: Record<string, string> = { 'user-agent': 'kube-lifecycle/1.33', accept: '*/*' };
  for (const h of g.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  const path = g.path ?? '';
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${scheme}://${host}:${port}${path.startsWith('/') || path === '' ? path : `/${path}`}`, { headers, signal, dispatcher, headersTimeout: 0, bodyTimeout: 0 });
    await res.body.dump({ limit: 10 * 1024, signal });
  } finally {
    void dispatcher.close().catch(() => undefined);
  }
}

async function exec(e: NonNullable<V1LifecycleHandler['exec']>, t: ProbeTarget, signal: AbortSignal): Promise<void> {
  if (t.pid === undefined) throw new Error('container is not running');
  // No time limit of its own: the grace period (signal) bounds it, as the kubelet's ExecSync with timeout 0.
  const r = await execInContainer({ ...t, pid: t.pid }, e.command ?? [], 2 ** 31 - 1, signal);
  if (signal.aborted) throw new Error('aborted');
  if (r.code !== 0) throw new Error(`command ${JSON.stringify(e.command ?? [])} exited ${String(r.code)}: ${(r.stdout + r.stderr).trim().slice(0, 500)}`);
}

/** Throws when the handler fails; the caller logs that and goes on terminating. */
export async function runLifecycleHandler(h: V1LifecycleHandler, t: ProbeTarget, signal: AbortSignal): Promise<void> {
  if (h.httpGet !== undefined) return httpGet(h.httpGet, t, signal);
  if (h.exec !== undefined) return exec(h.exec, t, signal);
  if (h.sleep !== undefined) {
    await sleep(h.sleep.seconds * 1000, undefined, { signal });
    return;
  }
  throw new Error('invalid handler: only httpGet, exec and sleep are lifecycle handlers (tcpSocket is not)');
}
