// Shared pieces of the agent tests: requests, a silent logger, the fixture runtime.
import { waitFor } from '../helpers/wait.js';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { InvokeRequest } from '../../src/agent/invocation.js';

export const silent = pino({ level: 'silent' });

export const FAKE_RUNTIME = fileURLToPath(new URL('./fixtures/fake-runtime.mjs', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function request(event: unknown, opts: { timeoutMs?: number; tailLogs?: boolean; requestId?: string } = {}): InvokeRequest {
  const req: InvokeRequest = {
    requestId: opts.requestId ?? randomUUID(),
    payload: Buffer.from(JSON.stringify(event)),
    timeoutMs: opts.timeoutMs ?? 3000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
  };
  if (opts.tailLogs) req.tailLogs = true;
  return req;
}

export function json(buf: Buffer): unknown {
  return JSON.parse(buf.toString('utf8'));
}

/** The runtime's side of the Runtime API, done by hand with fetch. */
export class RawRuntime {
  constructor(private readonly api: string) {}

  url(path: string): string {
    return `http://${this.api}/2018-06-01/runtime/${path}`;
  }

  async next(): Promise<{ id: string; headers: Headers; body: string }> {
    const r = await fetch(this.url('invocation/next'));
    const id = r.headers.get('lambda-runtime-aws-request-id') ?? '';
    return { id, headers: r.headers, body: await r.text() };
  }

  post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.url(path), { method: 'POST', body, headers });
  }
}

export async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  await waitFor('condition', cond, timeoutMs);
}
