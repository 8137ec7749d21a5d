import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { costRows } from '../../src/cli/cost.js';
import { gatewayPods } from '../../src/cli/cost-sources.js';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { parseExposition } from '../../src/metrics/exposition.js';
import { billedMilliseconds, BYTES_PER_GB, byteSeconds, cost } from '../../src/metrics/invocations.js';
import { invokePath, post } from '../faults/support.js';
import { py, startPlatform } from '../helpers/platform.js';

const run = promisify(execFile);

describe('cost model C = k·t + p·n', () => {
  it('bills each invocation rounded up to a millisecond', () => {
    expect(billedMilliseconds(0.2)).toBe(1);
    expect(billedMilliseconds(1.0)).toBe(1);
    expect(billedMilliseconds(1.01)).toBe(2);
  });
  it('computes byte-seconds (GB-seconds × 2^30) and cost', () => {
    expect(byteSeconds(1000, 1024)).toBe(BYTES_PER_GB);
    expect(byteSeconds(500, 128) / BYTES_PER_GB).toBeCloseTo(0.0625);
    expect(cost({ gbSeconds: 2, requests: 10, pricePerGbSecond: 3, pricePerRequest: 0.5 })).toBe(11);
  });
  it('reads a gateway\'s metrics into rows per function, counting only requests that ran', () => {
    const text = [
      '# HELP hearth_invocations_total x',
      'hearth_invocations_total{function="a",type="sync",outcome="success"} 3',
      'hearth_invocations_total{function="a",type="async",outcome="unhandled"} 1',
      'hearth_invocations_total{function="a",type="sync",outcome="throttled"} 9',
      'hearth_billed_duration_seconds_total{function="a"} 0.04',
      `hearth_billed_byte_seconds_total{function="a"} ${0.005 * BYTES_PER_GB}`,
    ].join('\n');
    expect(parseExposition(text)).toHaveLength(5);
    const [row] = costRows([text], { pricePerGbSecond: 2, pricePerRequest: 0.1 });
    expect(row).toEqual({ function: 'a', requests: 4, billedMs: 40, gbSeconds: 0.005, cost: 2 * 0.005 + 0.1 * 4 });
  });
  it('sums the metrics of several gateways per function', () => {
    const replica = (fn: string, n: number, gbs: number) =>
      [`hearth_invocations_total{function="${fn}",type="sync",outcome="success"} ${n}`, `hearth_billed_duration_seconds_total{function="${fn}"} ${n * 0.01}`, `hearth_billed_byte_seconds_total{function="${fn}"} ${gbs * BYTES_PER_GB}`].join('\n');
    const rows = costRows([replica('a', 3, 0.25), replica('a', 2, 0.5), replica('b', 1, 1)], { pricePerGbSecond: 1, pricePerRequest: 0 });
    expect(rows).toEqual([
      { function: 'a', requests: 5, billedMs: 50, gbSeconds: 0.75, cost: 0.75 },
      { function: 'b', requests: 1, billedMs: 10, gbSeconds: 1, cost: 1 },
    ]);
  });
  it('reads the names before the renames too, so replicas not yet upgraded still count', () => {
    const renamed = ['hearth_invocations_total{function="a",type="sync",outcome="success"} 1', 'hearth_billed_duration_seconds_total{function="a"} 0.003', `hearth_billed_byte_seconds_total{function="a"} ${0.25 * BYTES_PER_GB}`].join('\n');
    const before = ['hearth_invocations_total{function="a",type="sync",outcome="success"} 2', 'hearth_billed_duration_milliseconds_total{function="a"} 7', 'hearth_gb_seconds_total{function="a"} 0.5'].join('\n');
    expect(costRows([renamed, before], { pricePerGbSecond: 1, pricePerRequest: 0 })).toEqual([{ function: 'a', requests: 3, billedMs: 10, gbSeconds: 0.75, cost: 0.75 }]);
  });
});

describe('gateway pods behind a Service', () => {
  const slice = (ports: Array<{ name?: string; port?: number }>, pods: Array<string | undefined>) => ({
    ports,
    endpoints: pods.map((p) => ({ addresses: ['10.0.0.1'], ...(p !== undefined ? { targetRef: { kind: 'Pod', name: p } } : {}) })),
  });
  it.each([
    ['one slice', [slice([{ name: 'http', port: 8080 }], ['gw-b', 'gw-a'])], [{ pod: 'gw-a', port: 8080 }, { pod: 'gw-b', port: 8080 }]],
    ['a pod in two slices counts once', [slice([{ name: 'http', port: 8080 }], ['gw-a']), slice([{ name: 'http', port: 8080 }], ['gw-a', 'gw-c'])], [{ pod: 'gw-a', port: 8080 }, { pod: 'gw-c', port: 8080 }]],
    ['another port name is not the gateway', [slice([{ name: 'metrics', port: 9464 }], ['ctl-a'])], []],
    ['an endpoint naming no pod', [slice([{ name: 'http', port: 8080 }], [undefined])], []],
  ])('%s', (_what, slices, want) => {
    expect(gatewayPods(slices, 'http')).toEqual(want);
  });
});

describe('hearth cost over several gateways', () => {
  const KEY = 'cost-test-key-0123456789';
  let open: Awaited<ReturnType<typeof startPlatform>>;
  let closed: Awaited<ReturnType<typeof startPlatform>>;
  let auth: CredentialsFileAuth;

  beforeAll(async () => {
    const credFile = join(mkdtempSync(join(tmpdir(), 'hearth-cost-')), 'credentials.yaml');
    writeFileSync(credFile, stringify({ callers: [{ name: 'ops', apiKey: KEY, functions: ['*'] }] }));
    auth = await authFromCredentialsFile(credFile, { pollIntervalMs: 60_000 });
    const echo = py('def handler(event, context):\n    return event\n');
    // Two embedded platforms stand for two gateway replicas; the second closes /metrics to anonymous callers.
    [open, closed] = await Promise.all([
      startPlatform({ echo }, { warmPoolSize: 0 }),
      startPlatform({ echo }, { warmPoolSize: 0, auth: { ...auth.options, openRoutes: [] } }),
    ]);
    for (let i = 0; i < 3; i++) expect((await post(open.url, invokePath('echo'), '{}')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await post(closed.url, invokePath('echo'), '{}', { authorization: `Bearer ${KEY}` })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([open?.close(), closed?.close()]);
    auth?.close();
  });

  const echoRow = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('echo'))?.trim().split(/\s+/);

  it('sums the requests of every gateway given, and names them', async () => {
    const r = await hearth('cost', '--url', open.url, '--url', closed.url, '--api-key', KEY);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Summed over 2 gateways: ${open.url}, ${closed.url}`);
    expect(Number(echoRow(r.stdout)?.[1])).toBe(5);
    const one = await hearth('cost', '--url', open.url);
    expect(one.stdout).toContain(`Summed over 1 gateway: ${open.url}`);
    expect(Number(echoRow(one.stdout)?.[1])).toBe(3);
  });

  it('says which gateway it could not read, and exits non-zero with the partial sum', async () => {
    const r = await hearth('cost', '--url', open.url, '--url', closed.url);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not read ${closed.url}: ${closed.url}/metrics answered 401 (give the key with --api-key or HEARTH_API_KEY)`);
    expect(r.stdout).toContain(`Summed over 1 gateway (1 of 2 could not be read and are left out): ${open.url}`);
    expect(Number(echoRow(r.stdout)?.[1])).toBe(3);
  });
});

async function hearth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.HEARTH_API_KEY;
  try {
    const { stdout, stderr } = await run('node_modules/.bin/tsx', ['src/cli/main.ts', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
