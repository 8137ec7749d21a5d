// `hearth gateway` keeps the stream limits of its flags: started as the chart
// starts it (a child process, its own kubeconfig and Redis) with
// --stream-max-bytes 100K, it cuts a function's stream there. The function's
// one pod is an object with the status a kubelet would write (Ready, its IP a
// loopback address), and its agent a fake of this test on that address and
// the agents' port 9000, answering the call with a 64 MiB stream as a real
// agent streams (chunked, x-hearth-response-mode, its end in a trailer).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeStreamEnd, INVOKE_PATH, REQUEST_HEADERS, resultToHeaders, STREAM_END_TRAILER, STREAM_MODE_HEADER } from '../../src/agent/invoke-headers.js';
import { AGENT_PORT } from '../../src/controller/resources/names.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { unitPodLabels } from '../../src/pools/labels.js';
import { decodeMessages } from '../../src/streaming/event-stream.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, installCrds } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const KiB = 1024;
// The pod's IP: a loopback address of its own, so the agents' fixed port is free there.
const POD_IP = '127.0.0.57';

/** A pod's agent that answers every call with `bytes` streamed in 64 KiB pieces, and says whether the gateway cut it. */
class StreamingAgent {
  readonly calls: { sent: number; cut: boolean }[] = [];
  #server: Server = createServer((req, res) => void this.#handle(req, res));
  constructor(readonly bytes: number) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(AGENT_PORT, POD_IP, resolve);
    });
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req) void _;
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname === '/readyz') return void res.writeHead(200).end('{"status":"ready"}');
    if (req.method !== 'POST' || url.pathname !== INVOKE_PATH) return void res.writeHead(404).end();
    const call = { sent: 0, cut: false };
    this.calls.push(call);
    const requestId = String(req.headers[REQUEST_HEADERS.requestId] ?? '');
    res.writeHead(200, {
      ...resultToHeaders({ outcome: 'success', payload: Buffer.alloc(0), durationMs: 1 }, requestId),
      'content-type': 'application/octet-stream',
      [STREAM_MODE_HEADER]: 'streaming',
      trailer: STREAM_END_TRAILER,
    });
    const piece = Buffer.alloc(64 * KiB, 'x');
    while (call.sent < this.bytes) {
      if (res.destroyed) {
        call.cut = true;
        return;
      }
      call.sent += piece.length;
      if (!res.write(piece)) await drainedOrClosed(res);
    }
    if (res.destroyed) {
      call.cut = true;
      return;
    }
    res.addTrailers({ [STREAM_END_TRAILER]: encodeStreamEnd({ bytes: call.sent, durationMs: 5 }) });
    res.end();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** `hearth gateway` as a child process; resolves with its URL once it logs that it listens. */
function startGateway(args: string[]): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hearth gateway did not start: ${out}`)), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-100_000);
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"gateway listening"/.exec(out);
      if (m?.[1]) {
        clearTimeout(t);
        resolve({ url: m[1], child, output: () => out });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`hearth gateway exited (${code}): ${out}`));
    });
  });
}

if (!ctx.available) {
  describe.skip(`hearth gateway stream limits (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('hearth gateway with --stream-max-bytes', () => {
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const ns = `gws-${randomBytes(3).toString('hex')}`;
    const agent = new StreamingAgent(64 * 1024 * KiB);
    let redis: RedisServer | undefined;
    let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      await agent.start();
      redis = await startRedis();
      const spec = { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': 'export const handler = async () => 1;\n' } }, scaling: { minInstances: 0, maxInstances: 1 } };
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('streamer', spec) });
      // The function's pod, never scheduled (a scheduling gate), with a kubelet's status: running at POD_IP, Ready.
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'streamer-0', labels: unitPodLabels('streamer') }, spec: { schedulingGates: [{ name: 'hearth.dev/test' }], automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'hearth/agent:test' }] } };
      // The namespace's default ServiceAccount, which admission wants, comes from the controller-manager shortly after the namespace.
      await eventually('the pod created', async () => rest.request('POST', resourcePath(RESOURCES.Pod, ns), { body: pod }).then(() => true), 30_000);
      await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, 'streamer-0', 'status'), {
        body: { status: { phase: 'Running', podIP: POD_IP, podIPs: [{ ip: POD_IP }], conditions: [{ type: 'Ready', status: 'True' }] } },
        contentType: CONTENT_MERGE,
      });
      gateway = await startGateway([
        `--kubeconfig=${ctx.kubeconfigPath}`, `--namespace=${ns}`, `--redis-url=${redis.url}`, '--host=127.0.0.1', '--port=0',
        '--no-leader-elect', '--event-sources=false', '--shutdown-delay-seconds=0', '--drain-timeout-seconds=1',
        '--stream-max-bytes=100K', '--stream-burst-bytes=0', '--stream-bytes-per-second=0',
      ]);
    }, 120_000);

    afterAll(async () => {
      const child = gateway?.child;
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await redis?.stop();
      await agent.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('cuts a stream at 100K: InvokeWithResponseStream ends with Function.ResponseSizeTooLarge, and the agent is let go', async () => {
      const url = gateway?.url ?? '';
      const res = await eventually('the gateway to serve the function', async () => {
        const r = await fetch(`${url}/2021-11-15/functions/streamer/response-streaming-invocations`, { method: 'POST', body: '{}' });
        if (r.status === 200) return r;
        await r.arrayBuffer();
        return undefined;
      }, 30_000);
      const { messages, rest: left } = decodeMessages(Buffer.from(await res.arrayBuffer()));
      expect(left.length).toBe(0);
      const bytes = messages.filter((m) => m.headers[':event-type'] === 'PayloadChunk').reduce((n, m) => n + m.payload.length, 0);
      expect(bytes).toBe(100 * KiB);
      const complete = messages.at(-1);
      expect(complete?.headers[':event-type']).toBe('InvokeComplete');
      expect(JSON.parse(complete?.payload.toString() ?? '{}')).toMatchObject({ ErrorCode: 'Function.ResponseSizeTooLarge' });
      // The gateway stopped reading the agent's stream rather than take all of it.
      await eventually('the agent to see the cut', async () => (agent.calls.at(-1)?.cut === true ? true : undefined), 10_000);
      expect(agent.calls.at(-1)?.sent).toBeLessThan(64 * 1024 * KiB);
    }, 90_000);
  });
}
