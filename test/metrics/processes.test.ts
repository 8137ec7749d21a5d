// `promtool check metrics` finds nothing on the /metrics of each Hearth
// process as it runs: the embedded gateway (`hearth up`) after traffic that
// gives its families samples (sync and async calls, a function error, a
// throttle, a dead letter, a duplicate event), `hearth agent` after serving
// invocations (one of which kills its runtime), whether it starts its runtime
// or serves one started apart as in a pod, and `hearth controller`'s endpoint. promtool
// lints only families with a sample, so each check first asserts that the
// families the traffic must produce have one; names of every family are linted
// with a sample each in names.test.ts, and a controller reconciling real
// Functions in test/k8s/controller-failover.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INVOKE_PATH } from '../../src/agent/invoke-headers.js';
import { familiesWithoutSamples } from '../../src/metrics/exposition.js';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { get, invokePath, killQuietly, post, terminalRecords, waitFor } from '../faults/support.js';
import { py, writeFunctions } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { checkMetrics } from './promtool.js';

const children: ChildProcess[] = [];
const platforms: ChildPlatform[] = [];
afterAll(async () => {
  for (const up of platforms) {
    await up.crash();
    up.killAll();
  }
  for (const c of children) killQuietly(c.pid === undefined ? undefined : -c.pid);
});

/** A process's /metrics, linted: the families that must have samples have them, and promtool prints nothing. */
async function expectLintClean(who: string, text: string, mustHaveSamples: readonly string[]): Promise<void> {
  const empty = familiesWithoutSamples(text);
  // Said, not asserted: these depend on what the process met (a schedule, an event source, a dropped connection).
  if (empty.length > 0) console.log(`${who} /metrics: families without a sample (names linted in names.test.ts): ${empty.join(', ')}`);
  expect(mustHaveSamples.filter((f) => empty.includes(f) || !text.includes(`# TYPE ${f} `))).toEqual([]);
  const r = await checkMetrics(text);
  expect(r.output, `promtool check metrics on ${who}'s /metrics`).toBe('');
  expect(r.code).toBe(0);
}

/** A child in its own process group, so what it starts goes with it. */
function spawnHearth(args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-100_000)));
  return { child, stderr: () => stderr };
}

const HANDLER = ['import os', 'def handler(event, context):', '    if event.get("fail"):', '        raise RuntimeError("asked to fail")', '    if event.get("exit"):', '        os._exit(3)', '    return event', ''].join('\n');

describe('promtool check metrics on every process', () => {
  it("the gateway's (hearth up), after sync and async calls, an error, a throttle and a dead letter", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-promtool-up-'));
    writeFunctions(dir, {
      echo: py(HANDLER),
      capped: { ...py(HANDLER), reservedConcurrency: 0 },
      failing: { ...py(HANDLER), async: { maxRetries: 0 } },
    });
    const up = await startChildPlatform(['--port', '0', '--warm-pool', '0', '--dir', dir]);
    platforms.push(up);
    expect((await post(up.url, invokePath('echo'), '{"a":1}')).status).toBe(200);
    expect((await post(up.url, invokePath('echo'), '{"fail":true}')).status).toBe(200);
    expect((await post(up.url, invokePath('capped'), '{}')).status).toBe(429);
    const ids: string[] = [];
    for (const [fn, body] of [['echo', '{}'], ['failing', '{"fail":true}']] as const) {
      const a = await post(up.url, invokePath(fn), body, { 'x-amz-invocation-type': 'Event' });
      expect(a.status).toBe(202);
      ids.push(String(a.headers['x-amzn-requestid']));
    }
    // A CloudEvent delivered twice (same source and id) runs once: the second is deduplicated.
    const event = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'e-1', 'ce-source': 'promtool-test', 'ce-type': 'test' };
    for (let i = 0; i < 2; i++) expect((await post(up.url, '/events/echo', '{}', event)).status).toBe(202);
    const records = await terminalRecords(up.url, ids, 60_000);
    expect([...records.values()].map((r) => r.status).sort()).toEqual(['dead-lettered', 'succeeded']);
    const text = (await get(up.url, '/metrics')).text;
    await expectLintClean('the gateway', text, [
      'hearth_invocations_total',
      'hearth_invocation_duration_seconds',
      'hearth_cold_starts_total',
      'hearth_init_duration_seconds',
      'hearth_throttles_total',
      'hearth_billed_duration_seconds_total',
      'hearth_billed_byte_seconds_total',
      'hearth_instances',
      'hearth_queue_enqueued_total',
      'hearth_queue_deduplicated_total',
      'hearth_queue_processed_total',
      'hearth_queue_dead_lettered_total',
      'hearth_process_nodejs_active_handles',
      'hearth_process_nodejs_active_resources',
    ]);
    // Each async call counted once where it was accepted (the gateway's queue was made without metrics: none were).
    expect(text).toMatch(/^hearth_queue_enqueued_total\{function="echo"\} 2$/m);
    expect(text).toMatch(/^hearth_queue_deduplicated_total\{function="echo"\} 1$/m);
    expect(text).toMatch(/^hearth_queue_dead_lettered_total\{function="failing"[^}]*\} 1$/m);
  });

  // Both ways a function pod's agent runs: starting the runtime itself (`hearth agent -- CMD`), or beside a
  // runtime started apart, as the pod's runtime container is (the kubelet, not the agent, starts it again).
  it.each([
    ['starting its runtime', true],
    ['beside a runtime started apart, as in a pod', false],
  ])("the agent's (hearth agent %s), after invocations, a function error and its runtime's exit", { timeout: 120_000 }, async (_how, spawns) => {
    const taskRoot = mkdtempSync(join(tmpdir(), 'hearth-promtool-agent-'));
    writeFileSync(join(taskRoot, 'app.py'), HANDLER);
    const [listen, runtimeApi] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${listen}`;
    const runtimeEnv = { ...process.env, _HANDLER: 'app.handler', LAMBDA_TASK_ROOT: taskRoot, AWS_LAMBDA_FUNCTION_NAME: 'echo' };
    const runtime = ['python3', 'runtimes/python/bootstrap.py'];
    const agentArgs = ['agent', '--listen', `127.0.0.1:${listen}`, '--runtime-api', `127.0.0.1:${runtimeApi}`, '--function-name', 'echo', '--timeout', '30'];
    // What the runtimes started apart print: with the agent's log, what a step that never ends is reported with.
    let runtimeLog = '';
    /** The runtime container: started apart, with the Runtime API's address as a pod's runtime gets it. */
    const startRuntime = (): void => {
      const child = spawn(runtime[0] as string, runtime.slice(1), { env: { ...runtimeEnv, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${runtimeApi}` }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => (runtimeLog = (runtimeLog + d.toString()).slice(-20_000)));
      children.push(child);
    };
    const agent = spawns ? spawnHearth([...agentArgs, '--', ...runtime], runtimeEnv) : spawnHearth(agentArgs);
    /** A call, bounded well inside the test's timeout: one that never ends fails naming itself, with both logs. */
    const call = async (what: string, body: string): Promise<Awaited<ReturnType<typeof post>>> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in 30 s\n--- agent ---\n${agent.stderr().slice(-5000)}\n--- runtime ---\n${runtimeLog.slice(-5000)}`)), 30_000);
      });
      try {
        return await Promise.race([post(url, INVOKE_PATH, body), late]);
      } finally {
        clearTimeout(timer);
      }
    };
    if (!spawns) {
      await waitFor('the agent listening', async () => (await get(url, '/healthz')).status === 200, 30_000);
      startRuntime();
    }
    await waitFor('the agent ready', async () => (await get(url, '/readyz')).status === 200, 30_000);
    expect((await call('a call', '{"a":1}')).text).toBe('{"a": 1}');
    expect((await call('a failing call', '{"fail":true}')).headers['x-amz-function-error']).toBe('Unhandled');
    // Started apart, the runtime is known from /proc: the agent scans when it first asks for work, before handing
    // it anything (runtime-peer.ts confirm), so its exit here is noticed however soon after its start it comes.
    expect((await call("the runtime's exit", '{"exit":true}')).headers['x-amz-function-error']).toBe('Unhandled');
    // A fresh runtime (the agent's restart, or the kubelet's) answers the next call.
    if (!spawns) startRuntime();
    expect((await call('a call to the fresh runtime', '{"b":2}')).text).toBe('{"b": 2}');
    const res = await get(url, '/metrics');
    expect(res.status).toBe(200);
    await expectLintClean('the agent', res.text, [
      'hearth_agent_invocations_total',
      'hearth_agent_invocation_duration_seconds',
      'hearth_agent_runtime_init_duration_seconds',
      'hearth_agent_runtime_exits_total',
      ...(spawns ? ['hearth_agent_runtime_restarts_total'] : []),
      'hearth_process_process_cpu_seconds_total',
      'hearth_process_nodejs_active_handles',
    ]);
    expect(res.text).toMatch(/^hearth_agent_invocations_total\{function="echo",outcome="success"\} 2$/m);
    expect(res.text).toMatch(/^hearth_agent_runtime_exits_total\{function="echo",phase="invoke"\} 1$/m);
  });

  it("the controller's (hearth controller's metrics endpoint, as it serves it before reaching the API server)", { timeout: 60_000 }, async () => {
    // No API server here: the controller serves its metrics while it tries for its Lease, which is
    // what this lints. A controller reconciling real Functions is linted in test/k8s/controller-failover.test.ts.
    const closed = await freePort();
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'hearth-promtool-controller-')), 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${closed}` } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'promtool' } }],
        'current-context': 'x',
      }),
    );
    const ctl = spawnHearth(['controller', '--kubeconfig', kubeconfig, '--namespace', 'promtool', '--lease-namespace', 'promtool', '--identity', 'promtool', '--metrics-port', '0']);
    const url = await waitFor(
      'the controller listening',
      async () => {
        for (const line of ctl.stderr().split('\n')) {
          if (!line.startsWith('{')) continue;
          const l = JSON.parse(line) as { msg?: string; url?: string };
          if (l.msg === 'metrics listening' && l.url !== undefined) return l.url;
        }
        return undefined;
      },
      30_000,
    );
    const res = await fetch(url);
    expect(res.status).toBe(200);
    await expectLintClean('the controller', await res.text(), [
      'hearth_controller_reconcile_duration_seconds',
      'hearth_controller_workqueue_depth',
      'hearth_process_process_cpu_seconds_total',
      'hearth_process_nodejs_active_handles',
    ]);
  });
});
