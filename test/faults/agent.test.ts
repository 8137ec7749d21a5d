// An agent that dies: `hearth agent` runs as its own process (as the sidecar
// of a pod does) in front of a real Python runtime, and a gateway built with
// buildGateway reaches it through the dispatcher and the agent's HTTP client,
// as the Kubernetes backend does. SIGKILL the agent mid-invocation: the
// caller gets 502; async events meet system errors, are retried, and all
// succeed once an agent is back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import { AgentClient } from '../../src/agent/client.js';
import type { Backend, Instance } from '../../src/backends/backend.js';
import { whichPython } from '../../src/backends/local/runtime-command.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { buildGateway } from '../../src/gateway/app.js';
import recordsPlugin from '../../src/gateway/plugins/records.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { createQueue } from '../../src/queue/index.js';
import type { Consumer, Queue } from '../../src/queue/queue.js';
import { freePort } from '../helpers/redis.js';
import { FaultLog } from './collector.js';
import { invokePath, killQuietly, post, terminalRecords, waitFor } from './support.js';

const FN = 'sidecar-fn';
const log = FaultLog.forFile(import.meta.url);
const taskRoot = mkdtempSync(join(tmpdir(), 'hearth-faults-agent-'));
writeFileSync(join(taskRoot, 'app.py'), 'import time\ndef handler(event, context):\n    time.sleep(event.get("sleep", 0))\n    return {"done": True}\n');

/** The one instance the gateway knows: whatever agent listens on the port. */
class OneAgentBackend implements Backend {
  readonly kind = 'kubernetes' as const;
  readonly client: AgentClient;
  readonly instance: Instance;
  constructor(url: string) {
    this.client = new AgentClient(url, { connections: 2, deadlineSlackMs: 1000 });
    this.instance = { id: 'agent-0', functionName: FN, concurrency: 1, state: 'ready', readyAt: Date.now(), invoke: (req) => this.client.invoke(req) };
  }
  async upsert(): Promise<void> {}
  async remove(): Promise<void> {}
  async scale(): Promise<void> {}
  instances(name: string): readonly Instance[] {
    return name === FN ? [this.instance] : [];
  }
  onChange(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {
    await this.client.close();
  }
}

let listenPort: number;
let runtimePort: number;
const agents = new Set<ChildProcess>();
let backend: OneAgentBackend;
let dispatcher: Dispatcher;
let queue: Queue;
let consumer: Consumer;
let app: FastifyInstance;
let url: string;

async function startAgent(): Promise<ChildProcess> {
  const python = whichPython('python3');
  if (!python) throw new Error('python3 is needed for this suite');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'agent', '--listen', `127.0.0.1:${listenPort}`, '--runtime-api', `127.0.0.1:${runtimePort}`, '--function-name', FN, '--timeout', '30', '--', python, 'runtimes/python/bootstrap.py'],
    // Its own process group, so the runtime it starts can be cleaned up with it.
    { detached: true, stdio: 'ignore', env: { ...process.env, _HANDLER: 'app.handler', LAMBDA_TASK_ROOT: taskRoot, AWS_LAMBDA_FUNCTION_NAME: FN } },
  );
  agents.add(child);
  child.once('exit', () => agents.delete(child));
  await waitFor('agent ready', async () => (await request(`http://127.0.0.1:${listenPort}/readyz`)).statusCode === 200, 30_000, 100);
  return child;
}

function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined) killQuietly(-child.pid);
}

beforeAll(async () => {
  listenPort = await freePort();
  runtimePort = await freePort();
  const catalog = new MemoryCatalog();
  catalog.set(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: FN }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { image: 'sidecar' }, timeoutSeconds: 30, async: { maxRetries: 0 } } }));
  backend = new OneAgentBackend(`http://127.0.0.1:${listenPort}`);
  dispatcher = new Dispatcher({ catalog, backend, maxWaitMs: 2000 });
  queue = createQueue({});
  consumer = queue.startConsumer({ invoker: dispatcher, catalog, timeScale: 0.01, functionArn: (n) => dispatcher.arn(n) });
  app = await buildGateway({ invoker: dispatcher, catalog, queue, registry: createRegistry(), arn: (n) => dispatcher.arn(n), plugins: [{ plugin: recordsPlugin, options: { queue } }] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 60_000);

afterAll(async () => {
  for (const a of agents) killGroup(a);
  await app?.close();
  await consumer?.stop();
  dispatcher?.close();
  await backend?.close();
  await queue?.close();
  log.flush();
});

it('answers callers in flight with 502 when the agent is SIGKILLed, and serves again from a new agent', { timeout: 120_000 }, async () => {
  await log.run('fault', 'agent SIGKILLed mid-invocation (sync)', '502 ResourceNotReadyException to the caller in flight; a new agent serves the next call', async (rec) => {
    for (let i = 0; i < 3; i++) {
      const agent = await startAgent();
      expect((await post(url, invokePath(FN), '{}')).status).toBe(200);
      const pending = post(url, invokePath(FN), '{"sleep": 20}');
      // The invocation is in flight once the agent has taken it from the dispatcher.
      await waitFor('invocation in flight', async () => dispatcher.demand(FN) === 1, 10_000, 10);
      await new Promise((r) => setTimeout(r, 200));
      agent.kill('SIGKILL');
      const a = await pending;
      rec.tried();
      expect(a.status).toBe(502);
      expect(a.headers['x-amzn-errortype']).toBe('ResourceNotReadyException');
      killGroup(agent);
      if (i === 0) rec.observe(`${a.status} ${String(a.headers['x-amzn-errortype'])}`);
    }
    const agent = await startAgent();
    expect((await post(url, invokePath(FN), '{}')).status).toBe(200);
    killGroup(agent);
    rec.observe('next call on a restarted agent 200');
  });
});

it('retries async events while the agent is down and runs every one once it is back', { timeout: 120_000 }, async () => {
  await log.run('fault', 'agent dead while async events arrive, then back', '202 for each; system errors retried with backoff; every record succeeded after the agent returns', async (rec) => {
    // Down means gone: an agent still dying could read an event before its
    // socket resets, and such a send may have run (it would rightly count).
    await waitFor('the last agent gone', async () => agents.size === 0, 10_000, 20);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const a = await post(url, invokePath(FN), '{}', { 'x-amz-invocation-type': 'Event' });
      expect(a.status).toBe(202);
      ids.push(String(a.headers['x-amzn-requestid']));
    }
    rec.tried(ids.length);
    rec.accepted(ids.length);
    // Every event has met the dead agent at least once before it returns.
    await waitFor('system errors on every event', async () => {
      const recs = await Promise.all(ids.map((id) => queue.record(id)));
      return recs.every((r) => (r?.systemErrors ?? 0) >= 1);
    }, 60_000, 100);
    const agent = await startAgent();
    const records = await terminalRecords(url, ids, 90_000);
    killGroup(agent);
    rec.lost(ids.filter((id) => !records.has(id)).length);
    const statuses = [...records.values()];
    rec.observe(`${statuses.filter((r) => r.status === 'succeeded').length}/${ids.length} succeeded after ${Math.min(...statuses.map((r) => r.systemErrors))}-${Math.max(...statuses.map((r) => r.systemErrors))} system errors each`);
    expect(statuses.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
  });
});
