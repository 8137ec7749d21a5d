import { Agent, request } from 'undici';

export interface Probe {
  status: number;
  body: string;
}

/** One HTTP(S) call with a short timeout; errors come back as status 0 so polling loops stay simple. */
export async function probe(
  url: string,
  opts: { agent: Agent; token?: string; method?: 'GET' | 'POST' | 'PATCH'; body?: unknown; contentType?: string },
): Promise<Probe> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  try {
    const res = await request(url, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      dispatcher: opts.agent,
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    return { status: 0, body: err instanceof Error ? err.message : String(err) };
  }
}

/** For the API server: verify against the test CA. */
export function caAgent(caPem: string): Agent {
  return new Agent({ connect: { ca: caPem } });
}

/**
 * For controller-manager and scheduler health endpoints only: they serve a
 * self-signed certificate made at start-up, and /healthz carries no secrets.
 */
export function selfSignedAgent(): Agent {
  return new Agent({ connect: { rejectUnauthorized: false } });
}
