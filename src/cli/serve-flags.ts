// The flags every serving command shares (`hearth up`, `hearth gateway`):
// where to listen, who may call, how much at once. One place decides the
// rule of the design: authentication is on wherever Hearth listens beyond
// loopback, unless switched off explicitly.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../gateway/auth/credentials-file.js';

export const SERVE_OPTIONS = {
  port: { type: 'string', default: '8080' },
  credentials: { type: 'string' },
  'no-auth': { type: 'boolean', default: false },
  'max-concurrent-invocations': { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
} as const;

export interface ServeFlags {
  host: string;
  port: string;
  credentials?: string | undefined;
  'no-auth': boolean;
  'max-concurrent-invocations'?: string | undefined;
}

export interface ServeSettings {
  port: number;
  maxConcurrentInvocations?: number;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Checks the shared flags; a string is the problem to print. */
export function checkServeFlags(v: ServeFlags): ServeSettings | string {
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number, not ${v.port}`;
  if (v.credentials !== undefined && v['no-auth']) return '--credentials and --no-auth contradict each other; pass one.';
  const raw = v['max-concurrent-invocations'];
  const max = raw === undefined ? undefined : Number(raw);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) return `--max-concurrent-invocations must be a positive integer, not ${raw}`;
  if (!isLoopback(v.host) && !v['no-auth'] && v.credentials === undefined) {
    return `serving on ${v.host} lets other machines invoke your functions; authentication is required there.\nPass --credentials FILE to require it, or --no-auth to serve without it anyway.`;
  }
  return { port, ...(max !== undefined ? { maxConcurrentInvocations: max } : {}) };
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
