// The agent's HTTP invoke endpoint and its client: the same results as an
// in-process invoke, carried in headers.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { AgentClient } from '../../src/agent/client.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { runAgentSidecar, type Sidecar } from '../../src/agent/sidecar.js';
import { FAKE_RUNTIME, json, request, silent } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function agentWithEndpoint(): Promise<{ agent: Agent; client: AgentClient; url: string }> {
  const agent = new Agent({
    functionName: 'test',
    logger: silent,
    launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '' } }),
  });
  await agent.start();
  const { url } = await agent.listenInvoke();
  const client = new AgentClient(url, { connections: 2 });
  closers.push(() => client.close(), () => agent.close());
  return { agent, client, url };
}

describe('HTTP invoke endpoint', () => {
  it('returns payload, errors, durations and the log tail through the client', async () => {
    const { client } = await agentWithEndpoint();
    const ok = await client.invoke({ ...request({ action: 'echo', a: 1 }), traceId: 'Root=1' });
    expect(ok.outcome).toBe('success');
    expect(json(ok.payload)).toMatchObject({ echo: { action: 'echo', a: 1 }, headers: { 'lambda-runtime-trace-id': 'Root=1' } });
    expect(ok.initDurationMs).toBeGreaterThan(0);
    const err = await client.invoke(request({ action: 'error', errorType: 'ValueError' }));
    expect(err).toMatchObject({ outcome: 'unhandled', errorType: 'ValueError' });
    const handled = await client.invoke(request({ action: 'handled' }));
    expect(handled.outcome).toBe('handled');
    const logged = await client.invoke(request({ action: 'log', lines: ['hello'] }, { tailLogs: true }));
    expect(Buffer.from(logged.logTail ?? '', 'base64').toString()).toContain('\tINFO\thello');
  });

  it('carries the function\'s timeout, which the agent starts at hand-over', async () => {
    const { client } = await agentWithEndpoint();
    const before = Date.now();
    const r = await client.invoke(request({ action: 'sleep', ms: 10 }, { timeoutMs: 1234 }));
    const deadline = (json(r.payload) as { deadlineMs: number }).deadlineMs;
    expect(deadline).toBeGreaterThanOrEqual(before + 1234);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 1234);
    const late = await client.invoke(request({ action: 'sleep', ms: 600 }, { timeoutMs: 200 }));
    expect(late).toMatchObject({ outcome: 'unhandled', errorType: 'Sandbox.Timedout' });
  });

  it('gives a call without a timeout header the agent\'s own timeoutSeconds', async () => {
    const { url } = await agentWithEndpoint();
    const before = Date.now();
    const r = await fetch(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{"action":"sleep","ms":10}' });
    const deadline = ((await r.json()) as { deadlineMs: number }).deadlineMs;
    // Agent's default, Lambda's 3 s.
    expect(deadline).toBeGreaterThanOrEqual(before + 3000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 3000);
  });

  it('serves emulator-style calls with no headers, and health checks', async () => {
    const { url } = await agentWithEndpoint();
    const r = await fetch(`${url}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{"action":"error"}' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(r.headers.get('x-hearth-error-type')).toBe('Error');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('runs as a sidecar that starts its own runtime', async () => {
    const sidecar: Sidecar = await runAgentSidecar({
      command: [process.execPath, FAKE_RUNTIME],
      functionName: 'side',
      invokeHost: '127.0.0.1',
      invokePort: 0,
      env: { PATH: process.env.PATH ?? '' },
      logger: silent,
    });
    closers.push(() => sidecar.close());
    const client = new AgentClient(sidecar.invokeUrl, { connections: 1 });
    closers.push(() => client.close());
    const r = await client.invoke(request({ action: 'env' }));
    expect((json(r.payload) as { env: Record<string, string> }).env.AWS_LAMBDA_RUNTIME_API).toBe(sidecar.agent.runtimeApi);
  });
});
