// A small client for the Kubernetes REST API that keeps objects in their wire
// form. The generated client turns lists into model objects (Dates, `_from`)
// while watch events stay plain JSON; mixing the two in one cache would make
// every comparison lie, so everything here is plain JSON, end to end.
// Connections are kept alive: a reconcile makes several calls.
import http from 'node:http';
import https from 'node:https';

/**
 * What KubeRest needs of a kubeconfig: the server, and TLS and auth options
 * per request. client-node's KubeConfig has this shape, and so has the
 * lighter LightKubeConfig (kubeconfig.ts) the controller uses.
 */
export interface KubeAccess {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly method: string,
    readonly path: string,
    readonly status: { reason?: string; message?: string } | undefined,
  ) {
    super(`${method} ${path}: HTTP ${statusCode}${status?.message ? `: ${status.message}` : ''}`);
    this.name = 'KubeApiError';
  }
}

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.statusCode === code;
}

export const CONTENT_APPLY = 'application/apply-patch+yaml';
export const CONTENT_MERGE = 'application/merge-patch+json';
export const CONTENT_JSON_PATCH = 'application/json-patch+json';
export const CONTENT_STRATEGIC = 'application/strategic-merge-patch+json';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export class KubeRest {
  readonly server: URL;
  readonly #kc: KubeAccess;
  #agent: http.Agent | undefined;

  constructor(kc: KubeAccess) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.#kc = kc;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const { statusCode, text, url } = await this.#exchange(method, path, opts, { accept: 'application/json' });
    const body: unknown = text.length > 0 ? safeJson(text) : undefined;
    if (statusCode < 200 || statusCode >= 300) {
      throw new KubeApiError(statusCode, method, url.pathname, typeof body === 'object' && body !== null ? (body as { reason?: string; message?: string }) : undefined);
    }
    return body as T;
  }

  /** A GET answered with text rather than an object, such as a pod's /metrics through the API server's proxy. */
  async getText(path: string, opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
    const { statusCode, text, url } = await this.#exchange('GET', path, opts, { accept: 'text/plain, */*', ...opts.headers });
    if (statusCode < 200 || statusCode >= 300) {
      // The API server's own refusals are Status objects; what a proxied pod answers is its own text.
      const status = safeJson(text) as { message?: unknown } | undefined;
      throw new KubeApiError(statusCode, 'GET', url.pathname, { message: typeof status?.message === 'string' ? status.message.slice(0, 500) : text.slice(0, 500) });
    }
    return text;
  }

  /**
   * A GET whose answer is read as it arrives (a pod's log with follow=true),
   * on a connection of its own: a stream held for minutes must not take one
   * of the kept-alive sockets the other calls share. Rejects with the API
   * server's refusal; the caller destroys the answer when done.
   */
  async openStream(path: string, opts: { query?: RequestOptions['query']; signal?: AbortSignal } = {}): Promise<http.IncomingMessage> {
    const reqOpts: https.RequestOptions = { method: 'GET', headers: { accept: '*/*' } };
    await this.#kc.applyToHTTPSOptions(reqOpts);
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const mod = this.server.protocol === 'https:' ? https : http;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, { ...reqOpts, agent: false, ...(opts.signal ? { signal: opts.signal } : {}) }, resolve);
      req.on('error', reject);
      req.end();
    });
    const statusCode = res.statusCode ?? 0;
    if (statusCode >= 200 && statusCode < 300) return res;
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const status = safeJson(Buffer.concat(chunks).toString('utf8')) as { reason?: string; message?: string } | undefined;
    throw new KubeApiError(statusCode, 'GET', url.pathname, status);
  }

  async #exchange(method: string, path: string, opts: RequestOptions, extraHeaders: Record<string, string>): Promise<{ statusCode: number; text: string; url: URL }> {
    const reqOpts: https.RequestOptions = { method, headers: { ...extraHeaders } };
    // Credentials may rotate (token files, exec plugins), so they are asked for on every call.
    await this.#kc.applyToHTTPSOptions(reqOpts);
    const secure = this.server.protocol === 'https:';
    this.#agent ??= secure
      ? new https.Agent({ keepAlive: true, maxSockets: 32, ca: reqOpts.ca, cert: reqOpts.cert, key: reqOpts.key, ...(reqOpts.rejectUnauthorized !== undefined ? { rejectUnauthorized: reqOpts.rejectUnauthorized } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: http.OutgoingHttpHeaders = { ...(reqOpts.headers as http.OutgoingHttpHeaders) };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = payload.length;
    }
    const mod = secure ? https : http;
    const { statusCode, text } = await new Promise<{ statusCode: number; text: string }>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.#agent, ...(reqOpts.auth ? { auth: reqOpts.auth } : {}), timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    return { statusCode, text, url };
  }

  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 500) };
  }
}
