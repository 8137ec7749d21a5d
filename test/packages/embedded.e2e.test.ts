// The three packages Lambda users ship, answering through the embedded
// platform's gateway: a Python handler with a vendored library, a shell
// `bootstrap` speaking the Runtime API with curl, and a Go `bootstrap` built
// with aws-lambda-go. Plus a layer, a refused archive and `hearth deploy`
// into a running platform's functions directory.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { HearthFunction } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';
import { buildPackage } from '../../src/packages/build.js';
import { deployToDir } from '../../src/packages/deploy-local.js';
import { startEmbedded, type EmbeddedPlatform } from '../../src/platform/embedded.js';
import { functionYaml } from '../helpers/platform.js';
import { zipBytes } from './zip-bytes.js';

const CURL_BOOTSTRAP = `#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"echo\\": $EVENT, \\"shell\\": true}" >/dev/null
  rm -f "$HEADERS"
done
`;

const PY_HANDLER = `import vendored_titlecase
def lambda_handler(event, context):
    return {"greeting": vendored_titlecase.title("hello " + event.get("name", "world"))}
`;

const LAYER_USER = `import layer_greeting
def handler(event, context):
    return {"from_layer": layer_greeting.greet(event["name"])}
`;

let work: string;
let fnDir: string;
let platform: EmbeddedPlatform;

async function writePackage(name: string, files: Record<string, { text: string; mode?: number }>): Promise<void> {
  const src = join(work, `${name}-src`);
  for (const [file, { text, mode }] of Object.entries(files)) {
    mkdirSync(join(src, file, '..'), { recursive: true });
    writeFileSync(join(src, file), text);
    if (mode !== undefined) chmodSync(join(src, file), mode);
  }
  writeFileSync(join(fnDir, `${name}.zip`), (await buildPackage(src)).zip);
}

async function invoke(name: string, payload: unknown): Promise<{ status: number; body: string }> {
  const res = await fetch(`${platform.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: JSON.stringify(payload) });
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('the shell bootstrap test needs curl on this machine (apt-get install -y curl)');
  }
  work = mkdtempSync(join(tmpdir(), 'hearth-pkg-e2e-'));
  fnDir = join(work, 'functions');
  mkdirSync(fnDir);
  await writePackage('py', {
    'lambda_function.py': { text: PY_HANDLER },
    'vendored_titlecase/__init__.py': { text: 'def title(s):\n    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))\n' },
  });
  await writePackage('shell', { bootstrap: { text: CURL_BOOTSTRAP, mode: 0o755 } });
  // The Go program of runtimes/go/testdata, built as Lambda users build it: a static bootstrap.
  const goOut = join(work, 'go-src');
  execFileSync(resolve('runtimes/go/build.sh'), [resolve('runtimes/go/testdata/hello'), goOut], { stdio: 'pipe', timeout: 240_000 });
  writeFileSync(join(fnDir, 'go.zip'), (await buildPackage(goOut)).zip);
  writeFileSync(join(fnDir, 'go-sources.zip'), (await buildPackage(resolve('runtimes/go/testdata/hello'))).zip);
  await writePackage('noexec', { bootstrap: { text: CURL_BOOTSTRAP, mode: 0o644 } });
  await writePackage('layer', { 'python/layer_greeting.py': { text: 'def greet(n):\n    return "hi " + n + " from a layer"\n' } });
  writeFileSync(join(fnDir, 'evil.zip'), zipBytes([{ name: 'bootstrap', data: '#!/bin/sh\n', mode: 0o100755 }, { name: '../escaped.txt', data: 'pwned' }]));

  writeFileSync(join(fnDir, 'pkg-python.yaml'), functionYaml('pkg-python', { runtime: 'python3.12', handler: 'lambda_function.lambda_handler', code: { package: { path: 'py.zip' } } }));
  writeFileSync(join(fnDir, 'pkg-shell.yaml'), functionYaml('pkg-shell', { runtime: 'provided', code: { package: { path: 'shell.zip' } } }));
  writeFileSync(join(fnDir, 'pkg-go.yaml'), functionYaml('pkg-go', { runtime: 'provided', code: { package: { path: 'go.zip' } } }));
  writeFileSync(join(fnDir, 'pkg-go-sources.yaml'), functionYaml('pkg-go-sources', { runtime: 'go', code: { package: { path: 'go-sources.zip' } } }));
  writeFileSync(join(fnDir, 'noexec.yaml'), functionYaml('noexec', { runtime: 'provided', code: { package: { path: 'noexec.zip' } } }));
  writeFileSync(join(fnDir, 'layer-user.yaml'), functionYaml('layer-user', { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': LAYER_USER } }, layers: [{ path: 'layer.zip' }] }));
  writeFileSync(join(fnDir, 'evil.yaml'), functionYaml('evil', { runtime: 'provided', code: { package: { path: 'evil.zip' } } }));

  platform = await startEmbedded({
    dir: fnDir,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: process.env.HEARTH_TEST_LOG ?? 'silent' }),
    backend: { cacheDir: join(work, 'cache') },
  });
}, 300_000);

afterAll(async () => {
  await platform?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('ZIP packages on the embedded platform', () => {
  it('runs a Python handler with a vendored pure-Python library', async () => {
    const r = await invoke('pkg-python', { name: 'ada lovelace' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ greeting: 'Hello Ada Lovelace' });
  });

  it('runs a shell bootstrap that speaks the Runtime API with curl', async () => {
    const r = await invoke('pkg-shell', { n: 1 });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ echo: { n: 1 }, shell: true });
  });

  it('runs a Go bootstrap built with aws-lambda-go, also through a function URL', async () => {
    const r = await invoke('pkg-go', { name: 'Gopher' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ statusCode: 200, body: expect.stringContaining('Hello from Go, Gopher!') });
    const url = await fetch(`${platform.url}/fn/pkg-go/`);
    expect(url.status).toBe(200);
    expect(await url.text()).toContain('Hello from Go, world!');
  });

  it('builds Go sources shipped in a package for runtime go', async () => {
    const r = await invoke('pkg-go-sources', { name: 'source' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('Hello from Go, source!');
  });

  it('says so when the bootstrap is not executable', async () => {
    const r = await invoke('noexec', {});
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body).toContain('bootstrap in the package is not executable');
  });

  it('lets a function import a library that only its layer ships', async () => {
    const r = await invoke('layer-user', { name: 'Grace' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ from_layer: 'hi Grace from a layer' });
  });

  it('refuses a malicious package with its reason and writes nothing outside', async () => {
    const r = await invoke('evil', {});
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body).toContain('path-traversal');
    expect(r.body).toContain('../escaped.txt');
    expect(readdirSync(work).sort()).toEqual(['cache', 'functions', 'go-src', 'layer-src', 'noexec-src', 'py-src', 'shell-src']);
    expect(readdirSync(join(work, 'cache', 'packages', 'task')).some((d) => d.includes('.tmp-'))).toBe(false);
  });

  it('hearth deploy copies a package into the functions directory of a running platform', async () => {
    const elsewhere = join(work, 'project');
    mkdirSync(join(elsewhere, 'src'), { recursive: true });
    writeFileSync(join(elsewhere, 'src', 'app.py'), 'def handler(event, context):\n    return "deployed"\n');
    const text = functionYaml('deployed', { runtime: 'python3.12', handler: 'app.handler', code: { package: { path: 'src' } } });
    writeFileSync(join(elsewhere, 'fn.yaml'), text);
    const checked = validateFunction(parse(text));
    if (!checked.ok) throw new Error('invalid test function');
    const fn: HearthFunction = checked.value;
    const out = await deployToDir(fn, parse(text), elsewhere, fnDir);
    expect(out.files).toEqual(['deployed.zip', 'deployed.yaml']);
    let r = { status: 0, body: '' };
    for (let i = 0; i < 100; i++) {
      r = await invoke('deployed', {});
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(r).toEqual({ status: 200, body: '"deployed"' });
  });
});
