// One probe attempt: httpGet (2xx/3xx), tcpSocket (connects) or exec (exit 0
// inside the container's namespaces, as its user), each within timeoutSeconds.
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import { connect } from 'node:net';
import { request } from 'undici';
import { run, type RunResult } from './exec.js';

export interface ProbeTarget {
  podIp: string;
  container: V1Container;
  /** Main process of the running container; exec probes enter its namespaces. */
  pid: number | undefined;
  uid: number;
  gid: number;
  env: Record<string, string>;
}

/** A port by number, or by the name of one of the container's own ports (as the kubelet resolves it). */
export function resolvePort(port: number | string, c: V1Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = c.ports?.find((p) => p.name === port);
  if (named === undefined) throw new Error(`no port named ${port}`);
  return named.containerPort;
}

async function httpGet(p: NonNullable<V1Probe['httpGet']>, t: ProbeTarget, timeoutMs: number): Promise<boolean> {
  const host = p.host ?? t.podIp;
  const port = resolvePort(p.port as number | string, t.container);
  const scheme = (p.scheme ?? 'HTTP').toLowerCase();
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.33' };
  for (const h of p.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  try {
    const res = await request(`${scheme}://${host}:${port}${p.path ?? '/'}`, { headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 400;
  } catch {
    return false;
  }
}

function tcpSocket(p: NonNullable<V1Probe['tcpSocket']>, t: ProbeTarget, timeoutMs: number): Promise<boolean> {
  const port = resolvePort(p.port as number | string, t.container);
  return new Promise((resolve) => {
    const s = connect({ host: p.host ?? t.podIp, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** A command in the running container's namespaces, as its user, with its env: exec probes and exec lifecycle hooks. */
export function execInContainer(t: ProbeTarget & { pid: number }, command: string[], timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
  const env = Object.entries(t.env).map(([k, v]) => `${k}=${v}`);
  return run(
    'nsenter',
    ['-t', String(t.pid), '--net', '--mount', '--uts', '--', 'setpriv', `--reuid=${t.uid}`, `--regid=${t.gid}`, '--clear-groups', '--', 'env', '-i', ...env, ...command],
    { timeoutMs, ...(signal === undefined ? {} : { signal }) },
  );
}

async function execProbe(p: NonNullable<V1Probe['exec']>, t: ProbeTarget, timeoutMs: number): Promise<boolean> {
  if (t.pid === undefined) return false;
  const r = await execInContainer({ ...t, pid: t.pid }, p.command ?? [], timeoutMs);
  return r.code === 0;
}

/**
 * When a startup or liveness probe next runs, as the kubelet v1.33 schedules
 * it (pkg/kubelet/prober/worker.go run): each probe's worker is made when the
 * pod is added and ticks every periodSeconds from then; a tick before the
 * container runs, or within initialDelaySeconds of its start, probes
 * nothing. So the first probe of a new container waits for the next tick,
 * anywhere within one period of its start, not right at it. (Readiness is
 * also run at once whenever the pod's status is computed while the container
 * is not yet ready, prober_manager.go UpdatePodStatus: the node runs that
 * one right after the container starts, then every period.) Pure.
 */
export function nextProbeTick(epochMs: number, periodMs: number, notBeforeMs: number): number {
  if (periodMs <= 0 || notBeforeMs <= epochMs) return Math.max(epochMs, notBeforeMs);
  return epochMs + Math.ceil((notBeforeMs - epochMs) / periodMs) * periodMs;
}

export async function runProbe(p: V1Probe, t: ProbeTarget): Promise<boolean> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  if (p.httpGet !== undefined) return httpGet(p.httpGet, t, timeoutMs);
  if (p.tcpSocket !== undefined) return tcpSocket(p.tcpSocket, t, timeoutMs);
  if (p.exec !== undefined) return execProbe(p.exec, t, timeoutMs);
  return false;
}
