// The function URL event as a client's bytes reach it: each request is
// written on a bare socket (test/helpers/raw-http.ts), since an HTTP client
// would normalise what these cases send (repeated header lines, a Host of
// our choosing, percent-encodings), through the real embedded gateway to a
// Node function that answers the event it got. One case per defect of
// issue 20 in the event against AWS's payload format 2.0 (a client's own
// forwarding and trace headers: test/hardening/forwarded-headers.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionUrlEvent } from '../../src/gateway/function-url-event.js';
import { setHandVersions } from '../helpers/hand-versions.js';
import { node, startPlatform } from '../helpers/platform.js';
import { rawGet, rawHttp } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;
const echo = node('export const handler = async (event) => ({ statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(event) });\n');
const TRACE = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const URL_ID = /^[a-z0-9]{32}$/;

describe('the function URL event through the gateway, from raw requests', () => {
  let platform: Platform;
  let port: number;
  beforeAll(async () => {
    platform = await startPlatform({
      echo,
      other: echo,
      // What the function's trace context is beside the event's header.
      traced: node('export const handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ header: event.headers["x-amzn-trace-id"], env: process.env._X_AMZN_TRACE_ID }) });\n'),
    });
    setHandVersions(platform.catalog, 'echo', { '1': echo }, [{ name: 'live', version: '1' }]);
    port = Number(new URL(platform.url).port);
  }, 120_000);
  afterAll(async () => platform?.close());

  /** The event the function got for `target` sent with these header lines (Host first unless given). */
  const eventFor = async (target: string, headers: readonly (readonly [string, string])[] = []): Promise<FunctionUrlEvent> => {
    const lines = headers.some(([k]) => k.toLowerCase() === 'host') ? headers : [['Host', `127.0.0.1:${port}`] as const, ...headers];
    const res = await rawHttp(port, rawGet(target, lines));
    expect(res.status, res.body.toString()).toBe(200);
    return JSON.parse(res.body.toString('utf8')) as FunctionUrlEvent;
  };

  it.each([
    ['/fn/echo/users/me%3Fadmin=true', '/users/me%3Fadmin=true', ''],
    ['/fn/echo/a%2Fb/c%20d?x=%2F&y=1', '/a%2Fb/c%20d', 'x=%2F&y=1'],
    ['/fn/echo:%24LATEST/files/%2e%2e%2Fsecret', '/files/%2e%2e%2Fsecret', ''],
    ['/fn/echo:live/caf%C3%A9', '/caf%C3%A9', ''],
    ['/fn/echo', '/', ''],
    ['/fn/echo?q=1', '/', 'q=1'],
  ])('%s: rawPath and requestContext.http.path keep the encoding as sent (%s)', async (target, path, query) => {
    const e = await eventFor(target);
    expect([e.rawPath, e.requestContext.http.path, e.rawQueryString]).toEqual([path, path, query]);
  });

  it('joins a repeated header\'s lines with "," and gathers cookies from every Cookie line', async () => {
    const e = await eventFor('/fn/echo/', [
      ['X-Multi', 'a'],
      ['X-Multi', 'b c'],
      ['Accept', 'text/html'],
      ['Accept', 'application/json'],
      ['Cookie', 'a=1; b=2'],
      ['Cookie', 'c=3'],
    ]);
    expect(e.headers['x-multi']).toBe('a,b c');
    expect(e.headers.accept).toBe('text/html,application/json');
    expect(e.cookies).toEqual(['a=1', 'b=2', 'c=3']);
    expect(e.headers.cookie).toBeUndefined();
  });

  it('adds x-forwarded-for (the peer), x-forwarded-proto, x-forwarded-port and a fresh x-amzn-trace-id', async () => {
    const e = await eventFor('/fn/echo/');
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(e.requestContext.http.sourceIp).toBe('127.0.0.1');
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-forwarded-port']).toBe(String(port));
    expect(e.headers['x-amzn-trace-id']).toMatch(TRACE);
    // Its time part is now, in seconds.
    const seconds = Number.parseInt(e.headers['x-amzn-trace-id']?.slice(7, 15) ?? '', 16);
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(600);
    expect((await eventFor('/fn/echo/')).headers['x-amzn-trace-id']).not.toBe(e.headers['x-amzn-trace-id']);
  });

  it("the function's trace context (_X_AMZN_TRACE_ID) is the event's x-amzn-trace-id, fresh or the client's", async () => {
    const valid = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    for (const lines of [[], [['X-Amzn-Trace-Id', valid]]] as const) {
      const res = await rawHttp(port, rawGet('/fn/traced/', [['Host', `127.0.0.1:${port}`], ...lines]));
      const seen = JSON.parse(res.body.toString('utf8')) as { header: string; env?: string };
      if (lines.length > 0) expect(seen.header).toBe(valid);
      else expect(seen.header).toMatch(TRACE);
      expect(seen.env).toBe(seen.header);
    }
    // Queued with Prefer: respond-async, the trace goes with the event.
    const queued = await rawHttp(port, rawGet('/fn/traced/', [['Host', `127.0.0.1:${port}`], ['Prefer', 'respond-async'], ['X-Amzn-Trace-Id', valid]]));
    expect(queued.status).toBe(202);
    const { requestId } = JSON.parse(queued.body.toString('utf8')) as { requestId: string };
    const rec = await waitFor('the queued call ran', async () => {
      const r = (await (await fetch(`${platform.url}/invocations/${requestId}`)).json()) as { status: string; result?: { payload: string } };
      return r.status === 'succeeded' ? r : undefined;
    });
    const answer = JSON.parse(rec.result?.payload ?? '{}') as { body: string };
    expect(JSON.parse(answer.body)).toEqual({ header: valid, env: valid });
  });

  it('gives apiId and domainPrefix a stable url-id of the function URL when the Host is an IP address or has no dot', async () => {
    const plain = await eventFor('/fn/echo/');
    const id = plain.requestContext.apiId;
    expect(id).toMatch(URL_ID);
    expect(plain.requestContext).toMatchObject({ apiId: id, domainPrefix: id, domainName: '127.0.0.1' });
    // The same URL, however the host is named; $LATEST's URL is the plain one.
    for (const [target, host] of [
      ['/fn/echo/x', 'localhost'],
      ['/fn/echo:%24LATEST/', `[::1]:${port}`],
      ['/fn/echo', 'hearth-gateway'],
    ] as const) {
      const e = await eventFor(target, [['Host', host]]);
      expect([e.requestContext.apiId, e.requestContext.domainPrefix]).toEqual([id, id]);
    }
    // Another URL: another id.
    const alias = (await eventFor('/fn/echo:live/')).requestContext.apiId;
    const other = (await eventFor('/fn/other/')).requestContext.apiId;
    expect(alias).toMatch(URL_ID);
    expect(new Set([id, alias, other]).size).toBe(3);
  });

  it("takes domainPrefix from a name host's first label, apiId staying the url-id", async () => {
    const id = (await eventFor('/fn/echo/')).requestContext.apiId;
    const e = await eventFor('/fn/echo/', [['Host', `abcdefgh.fn.example.com:${port}`]]);
    expect(e.requestContext).toMatchObject({ apiId: id, domainPrefix: 'abcdefgh', domainName: 'abcdefgh.fn.example.com' });
    expect(e.headers.host).toBe(`abcdefgh.fn.example.com:${port}`);
  });
});
