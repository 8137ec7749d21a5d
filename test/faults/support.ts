// Shared pieces of the fault suites: HTTP calls to a gateway, polling of
// async records until they are terminal, and process clean-up.
import { waitFor as sharedWaitFor } from '../helpers/wait.js';
import { request } from 'undici';
import type { InvocationRecord } from '../../src/queue/queue.js';

export const TERMINAL = new Set(['succeeded', 'failed', 'dead-lettered']);

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function post(url: string, path: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${url}${path}`, { method: 'POST', body, headers, headersTimeout: 120_000, bodyTimeout: 120_000 });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

export async function get(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${url}${path}`, { method: 'GET', headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

export const invokePath = (fn: string) => `/2015-03-31/functions/${fn}/invocations`;

/** Like the shared waitFor, but a probe that throws (a server still down) counts as not yet. */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  return sharedWaitFor(what, () => probe().catch(() => undefined), timeoutMs, everyMs);
}

/** Polls GET /invocations/{id} for each id until every one is terminal; returns the records. */
export async function terminalRecords(url: string, ids: readonly string[], timeoutMs: number, headers: Record<string, string> = {}): Promise<Map<string, InvocationRecord>> {
  const done = new Map<string, InvocationRecord>();
  await waitFor(
    `${ids.length} terminal records`,
    async () => {
      for (const id of ids) {
        if (done.has(id)) continue;
        const r = await get(url, `/invocations/${id}`, headers);
        if (r.status !== 200) continue;
        const rec = JSON.parse(r.text) as InvocationRecord;
        if (TERMINAL.has(rec.status)) done.set(id, rec);
      }
      return done.size === ids.length;
    },
    timeoutMs,
    200,
  );
  return done;
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export function errorType(a: Answer): string | undefined {
  try {
    return (JSON.parse(a.text) as { errorType?: string }).errorType;
  } catch {
    return undefined;
  }
}
