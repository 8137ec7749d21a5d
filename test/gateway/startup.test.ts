// What a caller meets around a function's start: code that cannot be built
// is a clear 502, not a wait ending in a throttle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform } from '../helpers/platform.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

describe('function start-up', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({
      broken: { runtime: 'go', code: { inline: { 'main.go': 'package main\n\nfunc main() { this is not go }\n', 'go.mod': 'module broken\n\ngo 1.22\n' } } },
      'no-handler': { runtime: 'python3.12', handler: 'app.missing', code: { inline: { 'app.py': 'x = 1\n' } } },
    });
  }, 120_000);
  afterAll(async () => platform?.close());

  it('answers 502 with the build error when a function cannot be prepared', async () => {
    const t0 = Date.now();
    const res = await fetch(`${platform.url}/2015-03-31/functions/broken/invocations`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotReadyException');
    expect(((await res.json()) as { message: string }).message).toMatch(/could not be prepared/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('returns an init error to the caller, as Lambda does', async () => {
    const res = await fetch(`${platform.url}/2015-03-31/functions/no-handler/invocations`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(((await res.json()) as { errorType: string }).errorType).toBe('Runtime.HandlerNotFound');
  });
});
