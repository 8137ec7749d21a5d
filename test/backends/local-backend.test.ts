// The local backend with a fixture runtime (test/agent/fixtures/fake-runtime.mjs)
// standing in for the nodejs family: scaling, crashes, timeouts, the warm pool
// and the environment instances see.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { liveChildren } from '../../src/agent/process-reaper.js';
import { LocalBackend, type LocalBackendEvent, type LocalBackendOptions } from '../../src/backends/local/local-backend.js';
import { LocalInstance } from '../../src/backends/local/local-instance.js';
import { processGone } from '../../src/backends/local/process-gone.js';
import { FAKE_RUNTIME, json, request, silent, until } from '../agent/helpers.js';
import { fn, objectsOf } from './helpers.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-local-'));
const backends: LocalBackend[] = [];

// Without a sandbox: these cases identify runtimes by the pid they report and
// kill them by it, which a sandbox's own PID namespace would renumber (its
// runtime is pid 2). test/hardening/sandbox.test.ts covers the sandboxed case.
function backend(opts: Partial<LocalBackendOptions> = {}): LocalBackend {
  const b = new LocalBackend({ cacheDir, logger: silent, warmPoolSize: 0, killGraceMs: 200, runtimeCommands: { nodejs: [process.execPath, FAKE_RUNTIME] }, sandbox: false, ...opts });
  backends.push(b);
  return b;
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

type EnvAnswer = { env: Record<string, string>; cwd: string; pid: number };

describe('LocalBackend', () => {
  it('scales up to ready instances and down by draining the idle newest', async () => {
    const changes: string[] = [];
    const b = backend();
    b.onChange((n) => changes.push(n));
    await b.upsert(fn('scaler'));
    await b.scale('scaler', 2);
    expect(b.instances('scaler').map((i) => i.state)).toEqual(['ready', 'ready']);
    const [first, second] = b.instances('scaler');
    expect(first?.readyAt).toBeGreaterThan(0);
    const busy = first?.invoke(request({ action: 'sleep', ms: 300 }));
    await b.scale('scaler', 1);
    expect(second?.state).toMatch(/draining|stopped/);
    await until(() => b.instances('scaler').length === 1);
    expect(b.instances('scaler')[0]?.id).toBe(first?.id);
    expect((await busy)?.outcome).toBe('success');
    await b.scale('scaler', 0);
    await until(() => b.instances('scaler').length === 0);
    expect(changes.length).toBeGreaterThan(3);
  });

  it('restarts the same instance\'s process after a crash mid-invocation', async () => {
    const events: LocalBackendEvent[] = [];
    const b = backend({ onEvent: (e) => events.push(e) });
    await b.upsert(fn('crasher'));
    await b.scale('crasher', 1);
    const inst = b.instances('crasher')[0];
    if (!inst) throw new Error('no instance');
    const before = json((await inst.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    const crashed = await inst.invoke(request({ action: 'crash' }));
    expect(crashed.errorType).toBe('Runtime.ExitError');
    const after = await inst.invoke(request({ action: 'env' }));
    expect(after.outcome).toBe('success');
    expect((json(after.payload) as EnvAnswer).pid).not.toBe(before.pid);
    expect(b.instances('crasher')).toEqual([inst]);
    expect(events.some((e) => e.type === 'restart' && e.reason === 'exit')).toBe(true);
    expect(events.filter((e) => e.type === 'cold-start')).toHaveLength(2);
  });

  it('replaces the process of an instance whose invocation timed out', async () => {
    const b = backend();
    await b.upsert(fn('slow', { timeoutSeconds: 1 }));
    await b.scale('slow', 1);
    const inst = b.instances('slow')[0];
    if (!inst) throw new Error('no instance');
    const r = await inst.invoke(request({ action: 'sleep', ms: 10_000 }, { timeoutMs: 1000 }));
    expect(r.errorType).toBe('Sandbox.Timedout');
    expect((json(r.payload) as { errorMessage: string }).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    const ok = await inst.invoke(request({ action: 'echo' }));
    expect(ok.outcome).toBe('success');
    expect(ok.initDurationMs).toBeGreaterThan(0);
  });

  it('gives instances Lambda\'s environment and the function\'s, and nothing of the host', async () => {
    process.env.HEARTH_HOST_ONLY = 'must-not-leak';
    const b = backend({ region: 'eu-local-1', objects: objectsOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: 's3cret' } }) });
    await b.upsert(
      fn('envy', {
        memoryMB: 256,
        concurrency: 1,
        env: [
          { name: 'PLAIN', value: 'v' },
          { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        ],
      }),
    );
    await b.scale('envy', 1);
    const inst = b.instances('envy')[0];
    const { env, cwd } = json((await inst!.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    expect(env).toMatchObject({
      PLAIN: 'v',
      FROM_SECRET: 's3cret',
      AWS_LAMBDA_FUNCTION_NAME: 'envy',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/envy',
      AWS_LAMBDA_MAX_CONCURRENCY: '1',
      AWS_REGION: 'eu-local-1',
      AWS_DEFAULT_REGION: 'eu-local-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
      _HANDLER: 'index.handler',
      TZ: ':UTC',
    });
    expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(env.AWS_LAMBDA_RUNTIME_API).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cwd).toBe(env.LAMBDA_TASK_ROOT);
    expect(env.HEARTH_HOST_ONLY).toBeUndefined();
    expect(env.HOME).toBeUndefined();
    const allowed = new Set([
      'PLAIN', 'FROM_SECRET', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_LOG_GROUP_NAME',
      'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_MAX_CONCURRENCY', 'AWS_LAMBDA_RUNTIME_API', '_HANDLER',
      'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'TZ', 'AWS_EXECUTION_ENV', 'PATH', 'LANG',
    ]);
    expect(Object.keys(env).filter((k) => !allowed.has(k))).toEqual([]);
    delete process.env.HEARTH_HOST_ONLY;
  });

  it('specialises a warm pool process and refills the pool', async () => {
    const events: LocalBackendEvent[] = [];
    const b = backend({ warmPoolSize: 1, onEvent: (e) => events.push(e) });
    await b.upsert(fn('pooled', { env: [{ name: 'ONLY_MINE', value: '1' }] }));
    await until(() => b.warmIdle('nodejs20') === 1);
    await b.scale('pooled', 1);
    const inst = b.instances('pooled')[0];
    const { env, cwd } = json((await inst!.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    expect(env.ONLY_MINE).toBe('1');
    expect(env.HEARTH_SPECIALIZE).toBe('stdin');
    expect(cwd).toBe(env.LAMBDA_TASK_ROOT);
    expect(events.find((e) => e.type === 'cold-start')).toMatchObject({ pooled: true });
    await until(() => b.warmIdle('nodejs20') === 1);
    // A second function gets the refilled process, without the first one's variables.
    await b.upsert(fn('other'));
    await b.scale('other', 1);
    const other = json((await b.instances('other')[0]!.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    expect(other.env.ONLY_MINE).toBeUndefined();
    expect(other.env.AWS_LAMBDA_FUNCTION_NAME).toBe('other');
  });

  it('marks an instance failed with its init error, and replaces it on the next scale', async () => {
    const b = backend();
    await b.upsert(fn('broken', { env: [{ name: 'FAKE_INIT', value: 'error' }] }));
    await b.scale('broken', 1);
    const inst = b.instances('broken')[0];
    expect(inst?.state).toBe('failed');
    expect(inst?.initError?.errorType).toBe('Runtime.ImportModuleError');
    await b.scale('broken', 1);
    await until(() => !b.instances('broken').includes(inst!));
    expect(b.instances('broken')).toHaveLength(1);
  });

  it('replaces instances when a function changes', async () => {
    const b = backend();
    await b.upsert(fn('changing', { env: [{ name: 'V', value: '1' }] }));
    await b.scale('changing', 2);
    const old = [...b.instances('changing')];
    await b.upsert(fn('changing', { env: [{ name: 'V', value: '2' }] }));
    await until(() => b.instances('changing').every((i) => !old.includes(i)));
    expect(b.instances('changing').filter((i) => i.state === 'ready')).toHaveLength(2);
    const r = json((await b.instances('changing')[0]!.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    expect(r.env.V).toBe('2');
    // The same spec again changes nothing.
    const now = [...b.instances('changing')];
    await b.upsert(fn('changing', { env: [{ name: 'V', value: '2' }] }));
    expect(b.instances('changing')).toEqual(now);
    await b.remove('changing');
    expect(b.instances('changing')).toEqual([]);
  });

  it('keeps the newest version\'s instances when changes come faster than rollouts', async () => {
    const b = backend();
    await b.upsert(fn('hasty', { env: [{ name: 'V', value: '1' }] }));
    await b.scale('hasty', 1);
    // The second change arrives while the first one's instance is starting.
    const first = b.upsert(fn('hasty', { env: [{ name: 'V', value: '2' }] }));
    const second = b.upsert(fn('hasty', { env: [{ name: 'V', value: '3' }] }));
    await Promise.all([first, second]);
    await until(() => b.instances('hasty').length === 1);
    const [inst] = b.instances('hasty');
    expect(inst?.state).toBe('ready');
    const r = json((await inst!.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    expect(r.env.V).toBe('3');
  });

  it('lets the calls a removed function holds finish', async () => {
    const b = backend();
    await b.upsert(fn('leaving'));
    await b.scale('leaving', 1);
    const inst = b.instances('leaving')[0];
    const busy = inst!.invoke(request({ action: 'sleep', ms: 300 }));
    await new Promise((r) => setTimeout(r, 50));
    await b.remove('leaving');
    expect((await busy).outcome).toBe('success');
    expect(b.instances('leaving')).toEqual([]);
  });

  it('holds a call for the restart when the runtime was killed idle and its agent has not heard yet', async () => {
    const b = backend();
    await b.upsert(fn('killed'));
    await b.scale('killed', 1);
    const inst = b.instances('killed')[0] as LocalInstance;
    const before = json((await inst.invoke(request({ action: 'env' }))).payload) as EnvAnswer;
    // Idle: back in its long-poll for the next event.
    await new Promise((r) => setTimeout(r, 200));
    process.kill(before.pid, 'SIGKILL');
    // Dead to the kernel (a zombie), not yet reaped: no turn of the event loop has let the agent hear.
    for (const deadline = Date.now() + 2000; !processGone(before.pid); ) if (Date.now() > deadline) throw new Error('runtime still alive');
    const after = await inst.invoke(request({ action: 'env' }));
    expect(after.outcome).toBe('success');
    expect((json(after.payload) as EnvAnswer).pid).not.toBe(before.pid);
  });

  it('leaves no process behind on close, pool processes included', async () => {
    const b = backend({ warmPoolSize: 2 });
    await b.upsert(fn('reaped'));
    await until(() => b.warmIdle('nodejs20') === 2);
    await b.scale('reaped', 2);
    const pids = await Promise.all(b.instances('reaped').map(async (i) => (json((await i.invoke(request({ action: 'env' }))).payload) as EnvAnswer).pid));
    await until(() => b.warmIdle('nodejs20') === 2);
    await b.close();
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.filter(alive)).toEqual([]);
    expect(liveChildren()).toBe(0);
  });

  it('refuses what cannot run locally with clear errors', async () => {
    const b = backend();
    await expect(b.upsert(fn('cm', { code: { configMap: { name: 'src' } } }))).rejects.toThrow(
      'function cm: code.configMap: there is no ConfigMap src in the local backend, which was given no ConfigMaps or Secrets',
    );
    await expect(b.upsert(fn('img', { code: { image: 'x:1' } }))).rejects.toThrow(/Kubernetes backend/);
    await expect(b.upsert(fn('pkg', { code: { package: { path: 'x.zip' } } }))).rejects.toThrow(/code\.package: package refused \(unavailable\).*relative path needs the Function file's directory/);
    await expect(b.upsert(fn('sec', { env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] }))).rejects.toThrow('function sec: env S refers to Secret nope key k: there is no Secret nope');
    await expect(b.scale('unknown', 1)).rejects.toThrow(/not deployed/);
  });
});
