// The web console in a real browser (Debian's Chromium, driven by
// playwright-core) against a real `hearth up` on 127.0.0.1: the functions
// list, Create function from the editor, Invoke with its result, log tail and
// billed duration, a chart that moves, an async event dead-lettered and
// redriven once the code is fixed, the keyboard, and a 375 px window.
// Screenshots go to docs/console-*.png, which the README shows, with HEARTH_SCREENSHOTS=docs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionYaml } from '../helpers/platform.js';
import { killOnExit } from '../helpers/kill-on-exit.js';
import { assertConsoleBuilt } from './console-build.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

// The page's globals as the functions below that run in the browser use them: this file is type-checked without the DOM library.
interface PageElement {
  id: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number };
};

// Written to docs/ (committed, shown in the README) when HEARTH_SCREENSHOTS=docs; otherwise to a scratch
// directory, so a test run leaves the checkout as it found it.
const DOCS = process.env.HEARTH_SCREENSHOTS === 'docs' ? resolve('docs') : mkdtempSync(join(tmpdir(), 'hearth-console-shots-'));
const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(DOCS, `console-${name}.png`), fullPage });

const run = promisify(execFile);
let hearth: ChildProcess;
let browser: Browser;
let page: Page;
let base: string;
let hearthLog = '';
/** Requests the page made to anywhere but the gateway. */
const elsewhere: string[] = [];

/** Replaces the whole text of the CodeMirror editor inside `box` as pasting would (input events; no auto-indent, so the code carries its own). */
async function typeCode(box: string, code: string): Promise<void> {
  await page.locator(`${box} .cm-content`).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
}

const invocationsCharted = () => page.locator('#chart-invocations').getAttribute('data-invocations').then(Number);

beforeAll(async () => {
  // The console as this tree has it, built into dist/console, which the gateway serves.
  assertConsoleBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-console-'));
  writeFileSync(
    join(dir, 'hello-python.yaml'),
    functionYaml('hello-python', { runtime: 'python3.12', handler: 'lambda_function.lambda_handler', code: { inline: { 'lambda_function.py': "import json\n\ndef lambda_handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps('Hello, world!')}\n" } } }),
  );
  // Fails every time; the test sets its async retries to 0 in the console, so an event of it goes straight to the dead-letter queue.
  writeFileSync(
    join(dir, 'flaky.yaml'),
    functionYaml('flaky', { runtime: 'python3.12', handler: 'lambda_function.lambda_handler', code: { inline: { 'lambda_function.py': "def lambda_handler(event, context):\n    raise RuntimeError('the database is down')\n" } } }),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  hearth = spawn(resolve('node_modules/.bin/tsx'), [resolve('src/cli/main.ts'), 'up', '--dir', dir, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(hearth);
  const keep = (b: Buffer) => (hearthLog = (hearthLog + b.toString()).slice(-20_000));
  hearth.stdout?.on('data', keep);
  hearth.stderr?.on('data', keep);
  await until('hearth up to be ready', async () => ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok ? true : undefined), 90_000).catch((err: unknown) => {
    throw new Error(`${String(err)}\nhearth up's output:\n${hearthLog}`);
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Nothing outside the gateway: the console fetches no CDN, font or API elsewhere (checked by the last test).
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) elsewhere.push(r.url());
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (hearth && hearth.exitCode === null) {
    hearth.kill('SIGTERM');
    await new Promise((r) => hearth.once('exit', r));
  }
});

describe('the console in Chromium', { timeout: 240_000 }, () => {
  it('is served at /console with its content types, caching and CSP, without credentials; hearth up says where', async () => {
    expect(hearthLog).toContain(`"console":"${base}/console/"`);
    const index = await fetch(`${base}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await index.text())?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${base}${script}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${base}/console`, { redirect: 'manual' })).headers.get('location')).toBe('/console/');
    expect((await fetch(`${base}/console/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/console/assets/nothing.js`)).status).toBe(404);
  });

  it('lists the functions', async () => {
    await page.goto(`${base}/console/`);
    await page.getByRole('heading', { name: 'Functions' }).waitFor();
    const row = page.locator('tr[data-function="hello-python"]');
    await row.waitFor();
    expect(await row.locator('td').nth(0).textContent()).toBe('Active');
    expect(await row.locator('td').nth(1).textContent()).toBe('python3.12');
    await page.locator('tr[data-function="flaky"]').waitFor();
    await shot(page, 'functions');
  });

  it('creates a function from code written in the editor, and invokes it: result, log tail, duration and billed duration', async () => {
    await page.getByRole('link', { name: 'Create function' }).first().click();
    await page.getByRole('heading', { name: 'Create function' }).waitFor();
    await page.getByLabel('Function name').fill('greeter');
    await page.getByLabel('Runtime').selectOption('python3.12');
    await page.locator('#create-editor .cm-content').waitFor();
    await typeCode('#create-editor', "import json\n\ndef lambda_handler(event, context):\n    print('greeting', event.get('name'))\n    return {'greeting': 'Hello, ' + event.get('name', 'world') + '!'}\n");
    // One source at a time: the .zip field shows only once chosen.
    expect(await page.getByLabel('.zip file', { exact: true }).isVisible()).toBe(false);
    await shot(page, 'create', true);
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.getByRole('heading', { name: 'greeter', level: 1 }).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('fn-state')?.textContent === 'Active', undefined, { timeout: 60_000 });
    await page.locator('#chart-invocations').waitFor();
    const before = await invocationsCharted();
    const canvas = () => page.locator('#chart-invocations canvas').evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    const drawnBefore = await canvas();

    await page.getByLabel('Event JSON').fill('{"name": "Ada"}');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.locator('#result-payload').waitFor({ timeout: 30_000 });
    expect(JSON.parse((await page.locator('#result-payload').textContent()) ?? '')).toEqual({ greeting: 'Hello, Ada!' });
    expect(await page.locator('#invoke-result h3').textContent()).toBe('Succeeded');
    expect(await page.locator('#result-duration').textContent()).toMatch(/^\d+\.\d\d ms$/);
    expect(await page.locator('#result-billed').textContent()).toMatch(/^[1-9]\d* ms$/);
    const log = (await page.locator('#result-log').textContent()) ?? '';
    expect(log).toContain('greeting Ada');
    expect(log).toMatch(/REPORT RequestId: \S+\tDuration: /);

    // The chart moves: its invocations count, and what the canvas shows.
    await page.waitForFunction((n) => Number(document.getElementById('chart-invocations')?.getAttribute('data-invocations')) > n, before, { timeout: 30_000 });
    expect(await invocationsCharted()).toBe(before + 1);
    expect(await canvas()).not.toBe(drawnBefore);
    await page.locator('#s-monitor').screenshot({ path: join(DOCS, 'console-charts.png') });
    await page.locator('#s-test').scrollIntoViewIfNeeded();
    await shot(page, 'function', true);
  });

  it('is usable from the keyboard: Tab from the event reaches Invoke, and Enter invokes', async () => {
    const before = await invocationsCharted();
    await page.getByLabel('Event JSON').fill('{"name": "Grace"}');
    await page.getByLabel('Event JSON').focus();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.id === 'invoke');
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('result-payload')?.textContent?.includes('Hello, Grace!'), undefined, { timeout: 30_000 });

    // The code editor indents with Ctrl-] and Ctrl-[ and leaves Tab to move on: Tab from it reaches Deploy.
    const firstLine = page.locator('#code-editor .cm-line').first();
    await page.locator('#code-editor .cm-content').focus();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Control+BracketRight');
    expect(await firstLine.textContent()).toMatch(/^\s+import json$/);
    await page.keyboard.press('Control+BracketLeft');
    expect(await firstLine.textContent()).toBe('import json');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('deploy');
    await page.waitForFunction((n) => Number(document.getElementById('chart-invocations')?.getAttribute('data-invocations')) > n, before, { timeout: 30_000 });
  });

  it('saves a test event, changes the configuration, publishes versions and routes an alias by weight', async () => {
    const api = (path: string) => fetch(`${base}/2015-03-31/functions/greeter${path}`).then((r) => r.json() as Promise<Record<string, unknown>>);
    await page.getByLabel('Event name').fill('ada');
    await page.getByLabel('Event JSON').fill('{"name": "Ada Lovelace"}');
    await page.getByRole('button', { name: 'Save event' }).click();
    await page.getByText('Saved event ada.').waitFor();
    await page.reload();
    await page.getByLabel('Saved events').selectOption('ada');
    expect(await page.getByLabel('Event JSON').inputValue()).toBe('{"name": "Ada Lovelace"}');

    await page.getByLabel('Memory (MB)').fill('256');
    await page.getByLabel('Environment variables').fill('GREETING=Hi there');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByText('Configuration saved.').waitFor({ timeout: 30_000 });
    expect(await api('/configuration')).toMatchObject({ MemorySize: 256, Environment: { Variables: { GREETING: 'Hi there' } } });

    await page.getByRole('button', { name: 'Publish new version' }).click();
    await page.getByText('Published version 1.').waitFor({ timeout: 30_000 });
    await page.locator('#code-editor .cm-content').waitFor();
    await typeCode('#code-editor', "import os\n\ndef lambda_handler(event, context):\n    return {'greeting': os.environ['GREETING'] + ', ' + event['name'] + '!'}\n");
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('Deployed: the next invocation runs the new code.').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Publish new version' }).click();
    await page.getByText('Published version 2.').waitFor({ timeout: 30_000 });
    await page.getByLabel('New alias').fill('live');
    await page.locator('#s-aliases form.row').getByLabel('Version').selectOption('1');
    await page.getByRole('button', { name: 'Create alias' }).click();
    await page.getByText('Alias live created.').waitFor({ timeout: 30_000 });
    const alias = page.locator('form[data-alias="live"]');
    await alias.getByLabel('Additional version', { exact: true }).selectOption('2');
    await alias.getByLabel('Weight of the additional version').fill('25');
    expect(await alias.locator('output').textContent()).toBe('25%');
    await alias.getByRole('button', { name: 'Save routing' }).click();
    await page.getByText('Alias live saved.').waitFor({ timeout: 30_000 });
    expect(await api('/aliases/live')).toMatchObject({ FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.25 } } });
    await page.locator('#s-aliases').screenshot({ path: join(DOCS, 'console-aliases.png') });

    // Invoke runs the version or alias chosen: version 2 has the new code and the saved environment.
    await page.getByLabel('Version or alias').selectOption({ label: 'version 2' });
    await page.getByLabel('Event JSON').fill('{"name": "Ada"}');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('result-version')?.textContent === '2', undefined, { timeout: 30_000 });
    expect(JSON.parse((await page.locator('#result-payload').textContent()) ?? '')).toEqual({ greeting: 'Hi there, Ada!' });
    const previous = await page.locator('#result-request-id').textContent();
    await page.getByLabel('Version or alias').selectOption({ label: 'alias live' });
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.waitForFunction((id) => document.getElementById('result-request-id')?.textContent !== id, previous, { timeout: 30_000 });
    // The alias sends 75% to version 1 and 25% to version 2.
    expect(['1', '2']).toContain(await page.locator('#result-version').textContent());
  });

  it('creates a Node.js function from an uploaded .zip (deflated), shows its code in the editor and invokes it', async () => {
    const zipPath = join(mkdtempSync(join(tmpdir(), 'hearth-console-zip-')), 'fn.zip');
    const source = "export const handler = async (event) => ({ from: 'a zip', got: event });\n";
    // Python's zipfile, deflated: the console inflates it to show the code (DecompressionStream).
    await run('python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z: z.writestr("index.mjs", sys.argv[2])', zipPath, source]);
    await page.goto(`${base}/console/#/create`);
    await page.getByLabel('Function name').fill('zipped');
    await page.getByLabel('Runtime').selectOption('nodejs20.x');
    expect(await page.getByLabel('Handler').inputValue()).toBe('index.handler');
    await page.getByLabel('Upload a .zip file').check();
    expect(await page.locator('#create-editor').isVisible()).toBe(false);
    await page.getByLabel('.zip file', { exact: true }).setInputFiles(zipPath);
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.getByRole('heading', { name: 'zipped', level: 1 }).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('fn-state')?.textContent === 'Active', undefined, { timeout: 60_000 });
    await page.locator('#code-editor .cm-content').waitFor();
    expect(await page.locator('#code-editor .cm-content').textContent()).toContain("from: 'a zip'");
    await page.getByLabel('Event JSON').fill('{"n": 7}');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('result-payload')?.textContent?.includes('a zip'), undefined, { timeout: 30_000 });
    expect(JSON.parse((await page.locator('#result-payload').textContent()) ?? '')).toEqual({ from: 'a zip', got: { n: 7 } });
  });

  it('dead-letters a failing async event and redrives it once the code is fixed', async () => {
    await page.goto(`${base}/console/#/functions/flaky`);
    await page.getByRole('heading', { name: 'flaky', level: 1 }).waitFor();
    await page.waitForFunction(() => document.getElementById('fn-state')?.textContent === 'Active', undefined, { timeout: 30_000 });
    // The form is enabled once filled from the function.
    await page.waitForFunction(() => (document.querySelector('#config-form fieldset') as unknown as { disabled: boolean } | null)?.disabled === false, undefined, { timeout: 30_000 });
    expect(await page.getByLabel('Async retry attempts').inputValue()).toBe('2');
    await page.getByLabel('Async retry attempts').fill('0');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByText('Configuration saved.').waitFor({ timeout: 60_000 });
    expect(await (await fetch(`${base}/2019-09-25/functions/flaky/event-invoke-config`)).json()).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 21600 });
    await page.getByLabel('Event JSON').fill('{"order": 42}');
    await page.getByRole('button', { name: 'Invoke asynchronously' }).click();
    const dlq = page.locator('table#dlq');
    await page.waitForFunction(() => document.querySelector('table#dlq')?.getAttribute('data-count') === '1', undefined, { timeout: 60_000 });
    const requestId = await dlq.locator('tbody tr').first().getAttribute('data-request-id');
    expect(requestId).toMatch(/\S/);
    expect(await dlq.locator('tbody tr td').nth(2).textContent()).toBe('RetriesExhausted');
    expect(await dlq.locator('tbody tr td').nth(4).textContent()).toContain('the database is down');
    await page.waitForFunction((id) => document.querySelector(`#records tr[data-request-id="${id}"] td:nth-child(2)`)?.textContent === 'dead-lettered', requestId, { timeout: 30_000 });
    await page.locator('#s-async').scrollIntoViewIfNeeded();
    await shot(page, 'dlq');

    // Fix the function in the editor, deploy, then redrive: the same event runs again and succeeds.
    await page.locator('#code-editor .cm-content').waitFor();
    await typeCode('#code-editor', "def lambda_handler(event, context):\n    return {'saved': event['order']}\n");
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('Deployed: the next invocation runs the new code.').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Redrive all' }).click();
    await page.getByText('Redrove 1 event into the queue.').waitFor({ timeout: 30_000 });
    await page.waitForFunction((id) => document.querySelector(`#records tr[data-request-id="${id}"] td:nth-child(2)`)?.textContent === 'succeeded', requestId, { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('table#dlq')?.getAttribute('data-count') === '0', undefined, { timeout: 30_000 });
    const record = (await (await fetch(`${base}/invocations/${requestId}`)).json()) as { status: string; result?: unknown };
    expect(record.status).toBe('succeeded');

    // The list after all this: instances and the hour's errors per function.
    await page.goto(`${base}/console/`);
    await page.waitForFunction(() => document.querySelector('tr[data-function="flaky"] td:nth-child(7)')?.textContent === '1', undefined, { timeout: 30_000 });
    await shot(page, 'functions');
  });

  it('fits a 375 px window without scrolling sideways', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.goto(`${base}/console/#/functions/greeter`);
    await page.locator('#chart-invocations canvas').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await shot(page, 'narrow');
    await page.goto(`${base}/console/`);
    await page.locator('tr[data-function="greeter"]').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);  });

  it('asked nothing of any server but the gateway', () => {
    expect(elsewhere).toEqual([]);
  });
});
