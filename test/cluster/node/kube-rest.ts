// A small Kubernetes REST client for the process node: JSON calls with a
// bearer token and the test CA, merge patches, and line-delimited watches.
// The node needs only these few verbs, and owning them keeps the patch
// content types and watch restarts explicit.
import { Agent, request } from 'undici';

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
    this.name = 'KubeError';
  }
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class KubeRest {
  private readonly agent: Agent;

  constructor(
    readonly server: string,
    private readonly token: string,
    caPem: string,
  ) {
    this.agent = new Agent({ connect: { ca: caPem }, keepAliveTimeout: 30_000 });
  }

  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await request(`${this.server}${path}`, {
      method: method as 'GET',
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.agent,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new KubeError(res.statusCode, text, `${method} ${path}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** undefined for 404, so callers can treat "gone" as a state rather than an error. */
  async getOrUndefined<T>(path: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', path);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.call<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  /**
   * Streams a watch until it ends or signal aborts; the caller re-lists and
   * re-watches, which is how a kubelet survives expired resourceVersions.
   */
  async watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const sep = path.includes('?') ? '&' : '?';
    const res = await request(`${this.server}${path}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=240`, {
      method: 'GET',
      headers: { accept: 'application/json', authorization: `Bearer ${this.token}` },
      dispatcher: this.agent,
      signal,
      headersTimeout: 15_000,
      bodyTimeout: 0,
    });
    if (res.statusCode !== 200) throw new KubeError(res.statusCode, await res.body.text(), `WATCH ${path}`);
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') onEvent(JSON.parse(line) as WatchEvent<T>);
        nl = buffered.indexOf('\n');
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
