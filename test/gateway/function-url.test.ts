// ANY /fn/{name}/{path*} against the real embedded platform.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { setHandVersions } from '../helpers/hand-versions.js';
import { node, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;
/** Says which build answers. */
const build = (code: string) => node(`export const handler = async () => ({ statusCode: 200, body: ${JSON.stringify(code)} });\n`);
const helloPython = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;

describe('function URL routes', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({
      'hello-python': helloPython,
      mirror: node('export const handler = async (event) => ({ statusCode: 201, headers: { "x-seen-path": event.rawPath }, cookies: ["s=1"], body: JSON.stringify({ method: event.requestContext.http.method, q: event.queryStringParameters, body: event.body, cookies: event.cookies }) });\n'),
      plain: node('export const handler = async () => ({ message: "no status code" });\n'),
      failing: node('export const handler = async () => { throw new Error("nope"); };\n'),
      versioned: build('latest'),
    });
    setHandVersions(platform.catalog, 'versioned', { '1': build('one'), '2': build('two') }, [
      { name: 'live', version: '1' },
      { name: 'next', version: '2' },
    ]);
  }, 120_000);
  afterAll(async () => platform?.close());

  it('answers the Lambda guide\'s handler with 200 "Hello, world!"', async () => {
    const res = await fetch(`${platform.url}/fn/hello-python/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('"Hello, world!"');
  });

  it('passes method, path, query, cookies and body, and maps the response back', async () => {
    const res = await fetch(`${platform.url}/fn/mirror/a/b?x=1&x=2`, { method: 'PUT', headers: { cookie: 'c=d', 'content-type': 'text/plain' }, body: 'hello' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-seen-path')).toBe('/a/b');
    expect(res.headers.get('set-cookie')).toBe('s=1');
    expect(await res.json()).toEqual({ method: 'PUT', q: { x: '1,2' }, body: 'hello', cookies: ['c=d'] });
  });

  it('answers any other value as a 200 JSON body', async () => {
    const res = await fetch(`${platform.url}/fn/plain`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ message: 'no status code' });
  });

  it('hides function errors behind a 502 and unknown functions behind a 404', async () => {
    expect((await fetch(`${platform.url}/fn/failing/`)).status).toBe(502);
    const missing = await fetch(`${platform.url}/fn/missing/`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ message: expect.stringContaining('missing') });
  });

  it('queues the request with Prefer: respond-async', async () => {
    const res = await fetch(`${platform.url}/fn/mirror/`, { method: 'POST', headers: { prefer: 'respond-async' }, body: '{}' });
    expect(res.status).toBe(202);
    const { requestId } = (await res.json()) as { requestId: string };
    expect(res.headers.get('location')).toBe(`/invocations/${requestId}`);
  });

  it.each([
    ['/fn/versioned/', 'latest'],
    ['/fn/versioned:live/', 'one'],
    ['/fn/versioned:next/a/b', 'two'],
    ['/fn/versioned:next', 'two'],
    ['/fn/versioned:$LATEST/', 'latest'],
    ['/fn/versioned:%24LATEST/x', 'latest'],
  ])('%s answers with %s', async (path, code) => {
    const res = await fetch(`${platform.url}${path}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(code);
    // Function URLs do not say which version ran.
    expect(res.headers.get('x-amz-executed-version')).toBeNull();
  });

  it.each(['/fn/versioned:1/', '/fn/versioned:2', '/fn/versioned:nope/', '/fn/versioned:live:1/', '/fn/missing:live/'])('%s has no URL: 404', async (path) => {
    const res = await fetch(`${platform.url}${path}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: `Function not found: ${path.split('/')[2]}` });
  });

  it('queues a request to an alias with its qualifier, and refuses an unknown alias before queueing', async () => {
    expect((await fetch(`${platform.url}/fn/versioned:nope/`, { method: 'POST', headers: { prefer: 'respond-async' }, body: '{}' })).status).toBe(404);
    const res = await fetch(`${platform.url}/fn/versioned:next/`, { method: 'POST', headers: { prefer: 'respond-async' }, body: '{}' });
    expect(res.status).toBe(202);
    const { requestId } = (await res.json()) as { requestId: string };
    const rec = await waitFor('the event ran', async () => {
      const r = (await (await fetch(`${platform.url}/invocations/${requestId}`)).json()) as { status: string; qualifier?: string; executedVersion?: string; result?: { payload: string } };
      return r.status === 'succeeded' ? r : undefined;
    });
    expect(rec).toMatchObject({ qualifier: 'next', executedVersion: '2' });
    expect(JSON.parse(rec.result?.payload ?? '')).toMatchObject({ body: 'two' });
  });

  it('serves health, readiness, metrics and its OpenAPI description', async () => {
    expect((await fetch(`${platform.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${platform.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).toContain('hearth_invocations_total');
    const openapi = (await (await fetch(`${platform.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/2015-03-31/functions/{name}/invocations');
  });
});
