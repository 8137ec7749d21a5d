// The local backend with Hearth's real runtimes, cold and from the warm pool.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LocalBackend, type LocalBackendEvent } from '../../src/backends/local/local-backend.js';
import { json, REPO_ROOT, request, silent, until } from '../agent/helpers.js';
import { example, fn } from './helpers.js';
import { probeSandbox } from '../../src/sandbox/support.js';

const sandboxHere = (await probeSandbox()).enabled;

const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-local-rt-'));
const backends: LocalBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const runtimesPresent = existsSync(join(REPO_ROOT, 'runtimes/python/bootstrap.py')) && existsSync(join(REPO_ROOT, 'runtimes/nodejs/bootstrap.mjs'));

describe.skipIf(!runtimesPresent)('LocalBackend with Hearth\'s runtimes', () => {
  for (const warmPoolSize of [0, 1]) {
    it(`runs the Python and Node examples (warm pool ${warmPoolSize})`, async () => {
      const events: LocalBackendEvent[] = [];
      const b = new LocalBackend({ cacheDir, logger: silent, warmPoolSize, onEvent: (e) => events.push(e) });
      backends.push(b);
      await b.upsert(example('hello-python.yaml'));
      await b.upsert(example('hello-node.yaml'));
      if (warmPoolSize > 0) await until(() => b.warmIdle('python3.12') === 1 && b.warmIdle('nodejs20') === 1);
      await Promise.all([b.scale('hello-python', 1), b.scale('hello-node', 1)]);
      const py = await b.instances('hello-python')[0]!.invoke(request({}));
      expect(json(py.payload)).toEqual({ statusCode: 200, body: '"Hello, world!"' });
      const node = await b.instances('hello-node')[0]!.invoke(request({ name: 'pool' }));
      expect(JSON.parse((json(node.payload) as { body: string }).body)).toMatchObject({ message: 'Hello from Node.js, pool!' });
      const cold = events.filter((e) => e.type === 'cold-start');
      expect(cold).toHaveLength(2);
      expect(cold.every((e) => e.type === 'cold-start' && e.pooled === warmPoolSize > 0)).toBe(true);
    });
  }

  for (const sandbox of [false, true]) {
  // Under CI a sandbox must be possible (the Makefile installs bubblewrap); elsewhere its case needs one.
  it.skipIf(sandbox && !sandboxHere && process.env.CI !== 'true')(`keeps a specialised Python process free of other functions' variables (sandbox ${sandbox})`, async () => {
    const b = new LocalBackend({ cacheDir, logger: silent, warmPoolSize: 1, sandbox });
    backends.push(b);
    const code = { 'f.py': 'import os\ndef h(event, context):\n    return {k: os.environ.get(k) for k in ["A", "B", "AWS_LAMBDA_FUNCTION_NAME"]} | {"cwd": os.getcwd()}\n' };
    await b.upsert(fn('py-a', { runtime: 'python3.12', handler: 'f.h', code: { inline: code }, env: [{ name: 'A', value: 'a' }] }));
    await b.upsert(fn('py-b', { runtime: 'python3.12', handler: 'f.h', code: { inline: code }, env: [{ name: 'B', value: 'b' }] }));
    await until(() => b.warmIdle('python3.12') === 1);
    await b.scale('py-a', 1);
    await until(() => b.warmIdle('python3.12') === 1);
    await b.scale('py-b', 1);
    const a = json((await b.instances('py-a')[0]!.invoke(request({}))).payload) as Record<string, string | null>;
    const bb = json((await b.instances('py-b')[0]!.invoke(request({}))).payload) as Record<string, string | null>;
    expect(a).toMatchObject({ A: 'a', B: null, AWS_LAMBDA_FUNCTION_NAME: 'py-a' });
    expect(bb).toMatchObject({ A: null, B: 'b', AWS_LAMBDA_FUNCTION_NAME: 'py-b' });
    // Same code, same content-addressed task directory.
    expect(a.cwd).toBe(bb.cwd);
    // In a sandbox the task root is where Lambda has it; without, the task directory itself.
    if (sandbox) expect(a.cwd).toBe('/var/task');
    else expect(a.cwd).toContain(join(cacheDir, 'code'));
  });
  }
});
