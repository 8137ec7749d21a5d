// Bad input at the gateway: random methods, paths, headers, encodings and
// bodies (huge, deeply nested, not JSON, not UTF-8) against the Invoke API
// and /fn, with authentication on and off. The gateway never crashes, never
// answers 5xx to bad input, and every error is JSON; its heap does not grow
// across 100,000 bad requests.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import { FaultLog } from '../faults/collector.js';
import { standInGateway } from './stand-in.js';

const log = FaultLog.forFile(import.meta.url);
const KEY = 'fuzz-key-0123456789abcdef';
const LIMITS = { syncBytes: 64 * 1024, asyncBytes: 16 * 1024 };
let open: FastifyInstance;
let guarded: FastifyInstance;

beforeAll(async () => {
  open = await standInGateway({ limits: LIMITS });
  const callers = new CallerTable({ callers: [{ name: 'fuzzer', apiKey: KEY, functions: ['echo', 'orders-*'] }, { name: 'signer', accessKeyId: 'AKIAFUZZ', secretAccessKey: 'fuzz-secret', functions: ['*'] }] });
  guarded = await standInGateway({ limits: LIMITS, auth: { callers: () => callers } });
});

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  log.flush();
});

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObj = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

const functionName = fc.oneof(
  fc.constantFrom('echo', 'orders-create', 'billing', 'nope', 'echo:$LATEST', 'echo:1', 'echo:a:b', 'arn:aws:lambda:us-east-1:000000000000:function:echo', 'function:echo', '%00', '..', '%2e%2e%2f', 'a'.repeat(200), 'ÿ', '😀'),
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
);
const path = fc.oneof(
  functionName.map((n) => `/2015-03-31/functions/${n}/invocations`),
  fc.tuple(functionName, fc.string({ maxLength: 40 })).map(([n, p]) => `/fn/${n}/${encodeURIComponent(p)}`),
  fc.tuple(functionName, fc.constantFrom('', '?Qualifier=1', '?Qualifier=%24LATEST', '?Qualifier=', '?a=%zz', '?x=' + 'y'.repeat(2000))).map(([n, q]) => `/2015-03-31/functions/${n}/invocations${q}`),
  fc.constantFrom('/dlq/echo', '/invocations/x', '/', '//', '/2015-03-31/functions', '/fn', '/%zz', '/fn/%zz/x'),
);
const headerValue = fc.oneof(fc.string({ maxLength: 60 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)), fc.constantFrom('', ' ', 'Event', 'DryRun', 'RequestResponse', 'Tail', 'None', 'gzip', 'br', 'deflate', 'chunked', 'e30=', '!!!', 'x'.repeat(3000)));
const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', '', 'ÿ/ÿ'.replace(/ÿ/g, 'x')),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'zstd'),
    'x-amz-invocation-type': headerValue,
    'x-amz-log-type': headerValue,
    'x-amz-client-context': headerValue,
    'x-hearth-idempotency-key': headerValue,
    authorization: fc.oneof(headerValue, fc.constantFrom(`Bearer ${KEY}`, 'Bearer ', 'AWS4-HMAC-SHA256 Credential=AKIAFUZZ/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64), 'AWS4-HMAC-SHA256 garbage')),
    'x-api-key': fc.oneof(headerValue, fc.constant(KEY)),
    'x-amz-date': fc.constantFrom('20240101T000000Z', 'garbage', ''),
    prefer: fc.constantFrom('respond-async', 'wait=1'),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.constantFrom(nested(5000), nestedObj(5000), nested(100_000), '{"a":', '\uFEFF{}', '\u0000', 'null', '"x"', '1e999999', '{"__proto__":{"x":1}}', 'x'.repeat(LIMITS.syncBytes + 1), JSON.stringify({ s: 'y'.repeat(LIMITS.asyncBytes) })),
  fc.nat({ max: 3 * LIMITS.syncBytes }).map((n) => Buffer.alloc(n, 0x7b)),
);
const method = fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

function checkAnswer(res: { statusCode: number; headers: Record<string, unknown>; body: string }, reqMethod: string, tally: Map<number, number>): void {
  tally.set(res.statusCode, (tally.get(res.statusCode) ?? 0) + 1);
  expect(res.statusCode).toBeLessThan(500);
  if (res.statusCode >= 400 && reqMethod !== 'HEAD') {
    const parsed = JSON.parse(res.body) as { message?: unknown };
    expect(typeof parsed.message).toBe('string');
  }
}

it('answers every random request with a result or a JSON 4xx, never a crash or 5xx', { timeout: 120_000 }, async () => {
  await log.run('bad input', 'Invoke API and /fn requests: random methods, paths (names, ARNs, qualifiers, bad escapes), headers (invocation/log types, client context, encodings, credentials), bodies (bytes, invalid JSON, 5,000- and 100,000-deep nesting, up to 3x the body limit); auth on and off', 'no crash, no 5xx; every 4xx is JSON with a message', async (rec) => {
    const tally = new Map<number, number>();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), method, path, headers, body, async (withAuth, m, url, h, b) => {
        runs++;
        const app = withAuth ? guarded : open;
        const res = await app.inject({ method: m as 'POST', url, headers: h, ...(m === 'GET' || m === 'HEAD' ? {} : { payload: b }) });
        checkAnswer(res, m, tally);
      }),
      { numRuns: 3000, seed: 20 },
    );
    rec.tried(runs);
    rec.observe([...tally].sort(([a], [b]) => a - b).map(([s, n]) => `${n}× ${s}`).join(', '));
  });
});

/** Forced full GC: vitest workers are not started with --expose-gc. */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

it('does not grow its heap across 100,000 bad requests', { timeout: 120_000 }, async () => {
  await log.run('bad input', '100,000 bad requests in a row (unknown function, bad JSON, bad invocation type, too large, no key, wrong key, forbidden function, bad SigV4, bad ARN, unknown route)', 'all 4xx JSON; heap after forced GC grows less than 8 MB', async (rec) => {
    const shapes: Array<{ app: FastifyInstance; method: 'POST' | 'GET'; url: string; headers?: Record<string, string>; payload?: string | Buffer }> = [
      { app: open, method: 'POST', url: '/2015-03-31/functions/nope/invocations', payload: '{}' },
      { app: open, method: 'POST', url: '/2015-03-31/functions/echo/invocations', payload: '{"a":' },
      { app: open, method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers: { 'x-amz-invocation-type': 'Sometimes' }, payload: '{}' },
      { app: open, method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers: { 'x-amz-invocation-type': 'Event' }, payload: Buffer.alloc(LIMITS.asyncBytes + 1, 0x20) },
      { app: guarded, method: 'POST', url: '/2015-03-31/functions/echo/invocations', payload: '{}' },
      { app: guarded, method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers: { 'x-api-key': 'wrong-key-0123456789' }, payload: '{}' },
      { app: guarded, method: 'POST', url: '/2015-03-31/functions/billing/invocations', headers: { authorization: `Bearer ${KEY}` }, payload: '{}' },
      { app: guarded, method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIAFUZZ/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64), 'x-amz-date': '20240101T000000Z' }, payload: '{}' },
      { app: open, method: 'POST', url: '/2015-03-31/functions/arn:aws:lambda:x:function:/invocations', payload: '{}' },
      { app: open, method: 'GET', url: '/no/such/route' },
      { app: open, method: 'GET', url: '/fn/nope/x' },
    ];
    const TOTAL = 100_000;
    const tally = new Map<number, number>();
    const send = async (i: number) => {
      const s = shapes[i % shapes.length];
      if (!s) return;
      // A different request id and body each time, so nothing can be served from a cache.
      const payload = typeof s.payload === 'string' ? s.payload.replace('{}', `{"i":${i}}`) : s.payload;
      const res = await s.app.inject({ method: s.method, url: s.url, headers: { ...s.headers, 'x-hearth-idempotency-key': String(i) }, ...(payload !== undefined ? { payload } : {}) });
      if (res.statusCode < 400) throw new Error(`request shape ${i % shapes.length} answered ${res.statusCode}`);
      checkAnswer(res, s.method, tally);
    };
    const batch = async (from: number, to: number) => {
      for (let i = from; i < to; i += 100) await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, j) => send(i + j)));
    };
    await batch(0, 10_000); // warm-up: JIT, pools and caches reach their steady size
    tally.clear();
    gc();
    const before = process.memoryUsage().heapUsed;
    await batch(10_000, 10_000 + TOTAL);
    gc();
    const after = process.memoryUsage().heapUsed;
    const growthMB = (after - before) / 1024 / 1024;
    rec.tried(TOTAL);
    rec.observe(`heap ${(before / 1048576).toFixed(1)} MB → ${(after / 1048576).toFixed(1)} MB after GC (${growthMB >= 0 ? '+' : ''}${growthMB.toFixed(2)} MB); ${[...tally].sort(([a], [b]) => a - b).map(([s, n]) => `${n}× ${s}`).join(', ')}`);
    console.log(`memory: ${TOTAL} bad requests, heap growth ${growthMB.toFixed(2)} MB`);
    expect(growthMB).toBeLessThan(8);
  });
});
