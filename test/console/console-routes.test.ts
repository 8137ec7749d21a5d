// The console's routes behind the gateway's authentication: its static files
// are served to anyone (a browser loading a page sends no credentials) with
// their content types and caching, and nothing outside the built directory;
// the metrics history needs a caller allowed to list every function; an
// unbuilt console says how to build it. Then in Chromium against an embedded
// platform that takes API keys: the console asks for the key, and with it
// typed lists the functions.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import auth from '../../src/gateway/plugins/auth.js';
import { consoleStatic, DEFAULT_CONSOLE_DIR } from '../../src/gateway/plugins/console.js';
import { metricsHistory } from '../../src/gateway/plugins/metrics-history.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { py, startPlatform } from '../helpers/platform.js';
import { assertConsoleBuilt } from './console-build.js';

const KEYS = { admin: 'admin-key-0123456789abcdef', invoker: 'invoker-key-0123456789abcdef', narrow: 'narrow-key-0123456789abcdef' };
const callers = new CallerTable({
  callers: [
    { name: 'admin', apiKey: KEYS.admin, functions: ['*'], actions: ['lambda:*'] },
    // The default actions: invoke only.
    { name: 'invoker', apiKey: KEYS.invoker, functions: ['*'] },
    { name: 'narrow', apiKey: KEYS.narrow, functions: ['orders-*'], actions: ['lambda:List*', 'lambda:Get*'] },
  ],
});

async function app(dir: string): Promise<FastifyInstance> {
  const a = Fastify();
  await a.register(auth, { callers: () => callers });
  await a.register(consoleStatic, { dir });
  await a.register(metricsHistory, { registry: createRegistry({ defaultMetrics: false }) });
  return a;
}

describe('console routes', () => {
  let built: FastifyInstance;
  let unbuilt: FastifyInstance;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-console-dist-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'main-abc123.js'), 'export {};');
    writeFileSync(join(dir, 'assets', 'main-abc123.css'), 'body{}');
    // A file beside the built directory, which no path may reach.
    writeFileSync(join(dir, '..', 'hearth-console-secret.txt'), 'top-secret-content');
    built = await app(dir);
    unbuilt = await app(join(dir, 'missing'));
  });
  afterAll(async () => {
    await built.close();
    await unbuilt.close();
  });

  it.each([
    { url: '/console/', type: 'text/html; charset=utf-8', cache: 'no-cache' },
    { url: '/console/index.html', type: 'text/html; charset=utf-8', cache: 'no-cache' },
    { url: '/console/assets/main-abc123.js', type: 'text/javascript; charset=utf-8', cache: 'public, max-age=31536000, immutable' },
    { url: '/console/assets/main-abc123.css', type: 'text/css; charset=utf-8', cache: 'public, max-age=31536000, immutable' },
  ])('$url without credentials: $type, $cache', async ({ url, type, cache }) => {
    const res = await built.inject({ url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(res.headers['cache-control']).toBe(cache);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it.each(['/console/../hearth-console-secret.txt', '/console/%2e%2e/hearth-console-secret.txt', '/console/..%2fhearth-console-secret.txt', '/console/assets/../../hearth-console-secret.txt', '/console/nothing.js'])(
    '%s: 404, nothing outside the build',
    async (url) => {
      const res = await built.inject({ url });
      expect([404, 401]).toContain(res.statusCode);
      expect(res.body).not.toContain('top-secret-content');
    },
  );

  it('/console redirects to /console/; an unbuilt console says how to build it', async () => {
    const res = await built.inject({ url: '/console' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/console/');
    const none = await unbuilt.inject({ url: '/console/' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ message: expect.stringContaining('npm run build') });
  });

  it.each([
    { who: 'no one', key: undefined, status: 401 },
    { who: 'an invoker (default actions)', key: KEYS.invoker, status: 403 },
    { who: 'a caller of orders-* only', key: KEYS.narrow, status: 403 },
    { who: 'a caller allowed every function and action', key: KEYS.admin, status: 200 },
  ])('/metrics/history for $who: $status', async ({ key, status }) => {
    const res = await built.inject({ url: '/metrics/history', headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect(res.statusCode).toBe(status);
  });

  it('the default directory is dist/console of this checkout', () => {
    expect(DEFAULT_CONSOLE_DIR).toBe(join(process.cwd(), 'dist', 'console') + '/');
  });
});

describe('the console in Chromium against a gateway that takes API keys', { timeout: 120_000 }, () => {
  it('asks for the key, and lists the functions once it is typed; the key stays in the tab; metrics a key may not read show as -', async () => {
    assertConsoleBuilt();
    const platform = await startPlatform({ 'orders-api': py('def handler(event, context):\n    return 1\n') }, { auth: { callers: () => callers } });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
      await page.goto(`${platform.url}/console/`);
      await page.getByText('This gateway needs an API key: enter it above.').waitFor({ timeout: 30_000 });
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe('api-key');
      await page.getByLabel('API key').fill(KEYS.admin);
      await page.getByRole('button', { name: 'Use key' }).click();
      await page.locator('tr[data-function="orders-api"]').waitFor({ timeout: 30_000 });
      expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('hearth.apiKey'))).toBe(KEYS.admin);
      // A caller that may not read every function's metrics sees '-' for them, not a made-up 0.
      await page.getByLabel('API key').fill(KEYS.narrow);
      await page.getByRole('button', { name: 'Use key' }).click();
      await page.locator('tr[data-function="orders-api"]').waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('tr[data-function="orders-api"] td:nth-child(6)')?.textContent === '-', undefined, { timeout: 30_000 });
      // A wrong key is told apart from none.
      await page.getByLabel('API key').fill('wrong-key-0123456789abcdef');
      await page.getByRole('button', { name: 'Use key' }).click();
      await page.getByText('The gateway did not accept this API key.').waitFor({ timeout: 30_000 });
    } finally {
      await browser.close();
      await platform.close();
    }
  });
});
