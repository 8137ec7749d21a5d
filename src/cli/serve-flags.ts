// The flags every serving command shares (`hearth up`, `hearth gateway`):
// where to listen, who may call, how much at once. One place decides the
// rule of the design: authentication is on wherever Hearth listens beyond
// loopback, unless switched off explicitly.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../gateway/auth/credentials-file.js';
import { ALWAYS_OPEN_ROUTES, DEFAULT_OPEN_ROUTES } from '../gateway/auth/route-target.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import type { ConnectionLimits } from '../gateway/connection-guard.js';
import { LAMBDA_STREAM_LIMITS, type StreamLimits } from '../streaming/stream-limits.js';
import { parseSize } from './up-bounds.js';

/** The operations routes that may be closed to anonymous callers; the probes stay open for the kubelet. */
export const OPTIONAL_OPEN_ROUTES: readonly string[] = DEFAULT_OPEN_ROUTES.filter((r) => !ALWAYS_OPEN_ROUTES.includes(r));

export const SERVE_OPTIONS = {
  port: { type: 'string', default: '8080' },
  credentials: { type: 'string' },
  'no-auth': { type: 'boolean', default: false },
  'max-concurrent-invocations': { type: 'string' },
  'open-routes': { type: 'string' },
  'shutdown-delay-seconds': { type: 'string' },
  'drain-timeout-seconds': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-address': { type: 'string' },
  'headers-timeout-seconds': { type: 'string' },
  'body-timeout-seconds': { type: 'string' },
  'stream-max-bytes': { type: 'string' },
  'stream-burst-bytes': { type: 'string' },
  'stream-bytes-per-second': { type: 'string' },
  // A value, not a switch: the chart renders --management-api=false.
  'management-api': { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
} as const;

/** What the shutdown flags mean when not given; the delay differs per command (ShutdownDefaults). */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 60;

export interface ShutdownDefaults {
  /** hearth up: 0 (nothing routes to it but its own callers); hearth gateway: a few seconds for its Service's endpoints. */
  shutdownDelaySeconds: number;
}

export interface ServeFlags {
  host: string;
  port: string;
  credentials?: string | undefined;
  'no-auth': boolean;
  'max-concurrent-invocations'?: string | undefined;
  'open-routes'?: string | undefined;
  'shutdown-delay-seconds'?: string | undefined;
  'drain-timeout-seconds'?: string | undefined;
  'max-connections'?: string | undefined;
  'max-connections-per-address'?: string | undefined;
  'headers-timeout-seconds'?: string | undefined;
  'body-timeout-seconds'?: string | undefined;
  'stream-max-bytes'?: string | undefined;
  'stream-burst-bytes'?: string | undefined;
  'stream-bytes-per-second'?: string | undefined;
  'management-api'?: string | undefined;
}

export interface ServeSettings {
  port: number;
  maxConcurrentInvocations?: number;
  /** Operations routes served to anonymous callers when authentication is on (unset: the default, all of them). */
  openRoutes?: string[];
  /** On SIGTERM: how long to keep serving with /readyz failing, while endpoints drop this gateway. */
  shutdownDelayMs: number;
  /** Then: how long calls in flight and running async events may take before they are cut. */
  drainTimeoutMs: number;
  /** The connection flags given; what is not given keeps the gateway's default (README: Connection limits). */
  connections: Partial<ConnectionLimits>;
  /** What a streamed response may be: the stream flags over Lambda's limits (200 MiB, 6 MiB at full speed, then 2 MiB/s). */
  streamLimits: StreamLimits;
  /** Set only by --management-api: false serves invocation only, the control-plane routes answering 403. */
  managementApi?: boolean;
}

/** Parses the connection flags; a string is the problem to print. */
export function parseConnectionFlags(v: Pick<ServeFlags, 'max-connections' | 'max-connections-per-address' | 'headers-timeout-seconds' | 'body-timeout-seconds'>): Partial<ConnectionLimits> | string {
  const out: Partial<ConnectionLimits> = {};
  const count = (flag: 'max-connections' | 'max-connections-per-address', key: 'maxConnections' | 'maxConnectionsPerAddress'): string | undefined => {
    const raw = v[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < 1) return `--${flag} must be a positive integer, not ${raw}`;
    out[key] = n;
    return undefined;
  };
  // At most Node's requestTimeout of the gateway (300 s), which bounds receiving a whole request anyway.
  const timeout = (flag: 'headers-timeout-seconds' | 'body-timeout-seconds', key: 'headersTimeoutMs' | 'bodyTimeoutMs'): string | undefined => {
    const raw = v[flag];
    if (raw === undefined) return undefined;
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > 300) return `--${flag} must be a number of seconds above 0 and at most 300, not ${raw}`;
    out[key] = Math.round(n * 1000);
    return undefined;
  };
  return (
    count('max-connections', 'maxConnections') ??
    count('max-connections-per-address', 'maxConnectionsPerAddress') ??
    timeout('headers-timeout-seconds', 'headersTimeoutMs') ??
    timeout('body-timeout-seconds', 'bodyTimeoutMs') ??
    out
  );
}

type StreamFlag = 'stream-max-bytes' | 'stream-burst-bytes' | 'stream-bytes-per-second';

/**
 * Parses the streaming flags over Lambda's limits; a string is the problem to
 * print. Sizes take K/M/G (binary). A stream must be allowed at least a byte;
 * a burst of 0 paces from the first byte, a pace of 0 is none.
 */
export function parseStreamLimitFlags(v: Pick<ServeFlags, StreamFlag>): StreamLimits | string {
  const out: StreamLimits = { ...LAMBDA_STREAM_LIMITS };
  const size = (flag: StreamFlag, key: keyof StreamLimits, min: number): string | undefined => {
    const raw = v[flag];
    if (raw === undefined) return undefined;
    const n = parseSize(raw);
    if (n === undefined || n < min) return `--${flag} must be a number of bytes of at least ${min} (K, M, G accepted, e.g. 200M), not ${raw}`;
    out[key] = n;
    return undefined;
  };
  return size('stream-max-bytes', 'maxBytes', 1) ?? size('stream-burst-bytes', 'burstBytes', 0) ?? size('stream-bytes-per-second', 'bytesPerSecond', 0) ?? out;
}

/** Parses a number of seconds (fractions allowed); a string is the problem to print. */
function seconds(flag: string, raw: string | undefined, dflt: number): number | string {
  if (raw === undefined) return dflt;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 3600) return `--${flag} must be a number of seconds between 0 and 3600, not ${raw}`;
  return n;
}

/** Parses --open-routes; a string is the problem to print. */
export function parseOpenRoutes(raw: string): string[] | string {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 1 && items[0] === 'none') return [];
  const unknown = items.filter((r) => !OPTIONAL_OPEN_ROUTES.includes(r));
  if (items.length === 0 || unknown.length > 0) {
    return `--open-routes takes a comma-separated subset of ${OPTIONAL_OPEN_ROUTES.join(',')}, or none (/healthz and /readyz are always open), not ${JSON.stringify(raw)}`;
  }
  return [...new Set(items)];
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Checks the shared flags; a string is the problem to print. */
export function checkServeFlags(v: ServeFlags, defaults: ShutdownDefaults = { shutdownDelaySeconds: 0 }): ServeSettings | string {
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number, not ${v.port}`;
  if (v.credentials !== undefined && v['no-auth']) return '--credentials and --no-auth contradict each other; pass one.';
  const raw = v['max-concurrent-invocations'];
  const max = raw === undefined ? undefined : Number(raw);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) return `--max-concurrent-invocations must be a positive integer, not ${raw}`;
  const openRoutes = v['open-routes'] === undefined ? undefined : parseOpenRoutes(v['open-routes']);
  if (typeof openRoutes === 'string') return openRoutes;
  if (openRoutes !== undefined && v.credentials === undefined) {
    return '--open-routes closes routes to callers without credentials, so it needs --credentials FILE: without authentication every route is open.';
  }
  if (!isLoopback(v.host) && !v['no-auth'] && v.credentials === undefined) {
    return `serving on ${v.host} lets other machines invoke your functions; authentication is required there.\nPass --credentials FILE to require it, or --no-auth to serve without it anyway.`;
  }
  const delay = seconds('shutdown-delay-seconds', v['shutdown-delay-seconds'], defaults.shutdownDelaySeconds);
  if (typeof delay === 'string') return delay;
  const drain = seconds('drain-timeout-seconds', v['drain-timeout-seconds'], DEFAULT_DRAIN_TIMEOUT_SECONDS);
  if (typeof drain === 'string') return drain;
  const connections = parseConnectionFlags(v);
  if (typeof connections === 'string') return connections;
  const streamLimits = parseStreamLimitFlags(v);
  if (typeof streamLimits === 'string') return streamLimits;
  const management = v['management-api'];
  if (management !== undefined && management !== 'true' && management !== 'false') return `--management-api takes true or false, not ${management}`;
  return {
    port,
    ...(max !== undefined ? { maxConcurrentInvocations: max } : {}),
    ...(openRoutes !== undefined ? { openRoutes } : {}),
    shutdownDelayMs: Math.round(delay * 1000),
    drainTimeoutMs: Math.round(drain * 1000),
    connections,
    streamLimits,
    ...(management !== undefined ? { managementApi: management === 'true' } : {}),
  };
}

/** The gateway's auth options: the callers of the credentials file, and which operations routes stay open. */
export function authOptions(auth: CredentialsFileAuth | undefined, settings: Partial<ServeSettings>): AuthOptions | undefined {
  if (auth === undefined) return undefined;
  return { ...auth.options, ...(settings.openRoutes !== undefined ? { openRoutes: settings.openRoutes } : {}) };
}

export async function loadAuth(credentials: string | undefined, logger: Logger): Promise<CredentialsFileAuth | undefined> {
  return credentials === undefined ? undefined : authFromCredentialsFile(credentials, { logger });
}

export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
