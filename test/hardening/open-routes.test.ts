// --open-routes (`hearth up` and `hearth gateway`): which operations routes
// anonymous callers may use while authentication is on. By default /metrics
// and /openapi.json stay open as before; `none` closes both, so only a caller
// with credentials reads them. The probes stay open whatever is given.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authOptions, checkServeFlags, parseOpenRoutes } from '../../src/cli/serve-flags.js';
import { LAMBDA_STREAM_LIMITS } from '../../src/streaming/stream-limits.js';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { get } from '../faults/support.js';

const KEY = 'open-routes-key-0123456789';

describe('--open-routes, parsed', () => {
  it.each([
    ['none', []],
    ['/metrics', ['/metrics']],
    [' /openapi.json , /metrics,/metrics', ['/openapi.json', '/metrics']],
  ])('reads %j', (raw, want) => {
    expect(parseOpenRoutes(raw)).toEqual(want);
  });

  it.each(['', '/healthz', '/fn/x', 'metrics', 'none,/metrics'])('refuses %j, saying what it takes', (raw) => {
    expect(parseOpenRoutes(raw)).toBe(
      `--open-routes takes a comma-separated subset of /metrics,/openapi.json, or none (/healthz and /readyz are always open), not ${JSON.stringify(raw)}`,
    );
  });

  it('needs credentials, and reaches the auth options', () => {
    const base = { host: '127.0.0.1', port: '0', 'no-auth': false };
    expect(checkServeFlags({ ...base, 'open-routes': 'none' })).toMatch(/^--open-routes closes routes to callers without credentials, so it needs --credentials FILE/);
    const settings = checkServeFlags({ ...base, credentials: 'c.yaml', 'open-routes': 'none' });
    expect(settings).toEqual({ port: 0, openRoutes: [], shutdownDelayMs: 0, drainTimeoutMs: 60_000, connections: {}, streamLimits: LAMBDA_STREAM_LIMITS });
    expect(checkServeFlags({ ...base, credentials: 'c.yaml' })).toEqual({ port: 0, shutdownDelayMs: 0, drainTimeoutMs: 60_000, connections: {}, streamLimits: LAMBDA_STREAM_LIMITS });
    const callers = () => {
      throw new Error('not called');
    };
    const auth = { options: { callers }, reload: async () => true, close: () => undefined };
    expect(authOptions(auth, { port: 0, openRoutes: [] })).toEqual({ callers, openRoutes: [] });
    expect(authOptions(auth, { port: 0 })).toEqual({ callers });
    expect(authOptions(undefined, { port: 0, openRoutes: [] })).toBeUndefined();
  });
});

describe('hearth up --open-routes', () => {
  const children: ChildPlatform[] = [];
  let closed: ChildPlatform;
  let onlyOpenApi: ChildPlatform;
  let byDefault: ChildPlatform;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-open-routes-'));
    const credentials = join(dir, 'credentials.yaml');
    writeFileSync(credentials, stringify({ callers: [{ name: 'ops', apiKey: KEY, functions: ['*'] }] }));
    const up = async (...extra: string[]) => {
      const c = await startChildPlatform(['--dir', dir, '--port', '0', '--warm-pool', '0', '--credentials', credentials, ...extra]);
      children.push(c);
      return c;
    };
    [closed, onlyOpenApi, byDefault] = await Promise.all([up('--open-routes', 'none'), up('--open-routes', '/openapi.json'), up()]);
  }, 120_000);

  afterAll(() => {
    for (const c of children) c.killAll();
  });

  const status = async (p: ChildPlatform, path: string, headers: Record<string, string> = {}) => (await get(p.url, path, headers)).status;

  it('with none: anonymous /metrics and /openapi.json answer 401, an authenticated caller gets 200', async () => {
    const anonymous = await get(closed.url, '/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['x-amzn-errortype']).toBe('UnrecognizedClientException');
    expect(await status(closed, '/openapi.json')).toBe(401);
    const authed = await get(closed.url, '/metrics', { authorization: `Bearer ${KEY}` });
    expect(authed.status).toBe(200);
    expect(authed.text).toContain('hearth_');
    expect(await status(closed, '/openapi.json', { 'x-api-key': KEY })).toBe(200);
    expect(await status(closed, '/healthz')).toBe(200);
    expect(await status(closed, '/readyz')).toBe(200);
  });

  it('with a subset: only those stay open', async () => {
    expect(await status(onlyOpenApi, '/metrics')).toBe(401);
    expect(await status(onlyOpenApi, '/openapi.json')).toBe(200);
  });

  it('without it: both stay open, as before', async () => {
    expect(await status(byDefault, '/metrics')).toBe(200);
    expect(await status(byDefault, '/openapi.json')).toBe(200);
  });
});
