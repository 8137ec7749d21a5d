// The console's one way to the gateway: its public APIs, same origin, with the
// API key the user typed (sessionStorage: gone with the tab) as
// Authorization: Bearer, as any other caller sends it. Errors are Lambda's
// JSON error shape, turned into ApiError with the gateway's message.

const KEY = 'hearth.apiKey';

export function apiKey(): string {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setApiKey(key: string): void {
  if (key === '') sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fired when the gateway wants credentials (401) or refuses these (403 on who is asking). */
export const UNAUTHORIZED_EVENT = 'hearth:unauthorized';

export interface RequestOptions {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export async function request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = apiKey();
  if (key !== '') headers.authorization = `Bearer ${key}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  if (!res.ok) {
    const text = await res.text();
    let type = res.headers.get('x-amzn-errortype') ?? `HTTP ${res.status}`;
    let message = text;
    try {
      const doc = JSON.parse(text) as { message?: unknown; Message?: unknown; __type?: unknown };
      message = String(doc.message ?? doc.Message ?? text);
      if (typeof doc.__type === 'string') type = doc.__type;
    } catch {
      // Not JSON: the text as it came.
    }
    if (res.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    throw new ApiError(res.status, type, message);
  }
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request('GET', path)).json() as Promise<T>;
}

export async function sendJson<T>(method: string, path: string, json: unknown): Promise<T> {
  const res = await request(method, path, { json });
  const text = await res.text();
  return (text === '' ? {} : JSON.parse(text)) as T;
}

export const fnPath = (name: string) => `/2015-03-31/functions/${encodeURIComponent(name)}`;

/** Lambda's FunctionConfiguration, as far as the console reads it. */
export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn?: string;
  Runtime?: string;
  Handler?: string;
  PackageType?: string;
  State?: string;
  StateReason?: string;
  LastUpdateStatus?: string;
  LastUpdateStatusReason?: string;
  LastModified?: string;
  Description?: string;
  MemorySize?: number;
  Timeout?: number;
  Version?: string;
  RevisionId?: string;
  Environment?: { Variables?: Record<string, string> };
}

export interface AliasConfiguration {
  Name: string;
  FunctionVersion: string;
  Description?: string;
  RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.type}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
