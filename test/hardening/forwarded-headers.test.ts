// A client that claims to be someone else at /fn: its own X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Port, and an X-Amzn-Trace-Id that is not
// a trace header, written on a bare socket (test/helpers/raw-http.ts) through
// the real embedded gateway to a function that answers its event. As
// Lambda's HTTP endpoints do, the client's list of forwarders is kept but the
// peer that connected is appended last and is the event's sourceIp; the
// scheme and port are the gateway's; a malformed trace header is replaced.
// Before issue 20 the client's headers reached the function unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionUrlEvent } from '../../src/gateway/function-url-event.js';
import { FaultLog } from '../faults/collector.js';
import { node, startPlatform } from '../helpers/platform.js';
import { rawGet, rawHttp } from '../helpers/raw-http.js';

const log = FaultLog.forFile(import.meta.url);
const TRACE = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/;

describe('forged forwarding and trace headers at /fn', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let port: number;
  beforeAll(async () => {
    platform = await startPlatform({ echo: node('export const handler = async (event) => ({ statusCode: 200, body: JSON.stringify(event) });\n') });
    port = Number(new URL(platform.url).port);
  }, 120_000);
  afterAll(async () => {
    await platform?.close();
    log.flush();
  });

  const eventFor = async (headers: readonly (readonly [string, string])[]): Promise<FunctionUrlEvent> => {
    const res = await rawHttp(port, rawGet('/fn/echo/whoami', [['Host', `127.0.0.1:${port}`], ...headers]));
    expect(res.status, res.body.toString()).toBe(200);
    return JSON.parse(res.body.toString('utf8')) as FunctionUrlEvent;
  };

  it("a client's own X-Forwarded-For, -Proto and -Port: the peer is appended and is sourceIp, scheme and port are the gateway's", async () => {
    await log.run(
      'bad input',
      "/fn called with the client's own X-Forwarded-For (one line and two), X-Forwarded-Proto: https and X-Forwarded-Port: 443 over plain HTTP",
      "the function's x-forwarded-for is the client's list with the connecting peer last, sourceIp that peer; x-forwarded-proto and -port say how the gateway was reached",
      async (rec) => {
        const seen: string[] = [];
        for (const lines of [[['X-Forwarded-For', '203.0.113.7']], [['X-Forwarded-For', '203.0.113.7'], ['X-Forwarded-For', '198.51.100.2']]] as const) {
          rec.tried();
          const e = await eventFor([...lines, ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Port', '443']]);
          const claimed = lines.map(([, v]) => v).join(',');
          expect(e.headers['x-forwarded-for']).toBe(`${claimed}, 127.0.0.1`);
          expect(e.requestContext.http.sourceIp).toBe('127.0.0.1');
          expect([e.headers['x-forwarded-proto'], e.headers['x-forwarded-port']]).toEqual(['http', String(port)]);
          seen.push(`x-forwarded-for "${e.headers['x-forwarded-for']}", sourceIp ${e.requestContext.http.sourceIp}, proto ${e.headers['x-forwarded-proto']}, port ${e.headers['x-forwarded-port'] === String(port) ? "the gateway's" : e.headers['x-forwarded-port']}`);
        }
        rec.observe(seen.join('; '));
      },
    );
  });

  it("a client's X-Amzn-Trace-Id: kept when it is a trace header, else replaced by a fresh one", async () => {
    await log.run(
      'bad input',
      '/fn called with an X-Amzn-Trace-Id that is not an X-Ray trace header (Root=bogus, a Root one hex digit short, free text, a script), and with a valid one',
      'a malformed one is replaced by a fresh Root=1-<8 hex>-<24 hex>; a valid one reaches the function as sent',
      async (rec) => {
        const valid = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
        rec.tried();
        expect((await eventFor([['X-Amzn-Trace-Id', valid]])).headers['x-amzn-trace-id']).toBe(valid);
        let replaced = 0;
        for (const bad of ['Root=bogus', 'Root=1-5759e988-bd862e3fe1be46a99427279', 'hello', 'Root=1-5759e988-bd862e3fe1be46a994272793;<script>=1']) {
          rec.tried();
          const got = (await eventFor([['X-Amzn-Trace-Id', bad]])).headers['x-amzn-trace-id'];
          expect(got).toMatch(TRACE);
          replaced++;
        }
        rec.observe(`valid header kept as sent; ${replaced}/4 malformed replaced by a fresh Root=1-…`);
      },
    );
  });
});
