// The agent sidecar's startup probe (function pods and warm-pool pods alike):
// an exec probe that waits in the container until the agent listens, so the
// kubelet starts the runtime container as soon as the agent can take its
// Runtime API calls instead of a probe period later. The script is run here
// with the machine's bash, as the probe runs it in the agent image.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CONTAINER, agentStartupProbeScript, buildDeployment } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { freePort } from '../helpers/ports.js';
import { fn, input } from './fixtures.js';

function runScript(script: string): { exit: Promise<number | null> } {
  const child = spawn('bash', ['-c', script], { stdio: 'ignore' });
  return { exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

describe('the agent sidecar startup probe', () => {
  it('is an exec probe of that script, checked every second, ~30 s before the kubelet gives up', () => {
    const pod = buildDeployment(input(fn('a')), { images: defaultImages('1.2.3') }).spec?.template.spec;
    const agent = pod?.initContainers?.find((c) => c.name === AGENT_CONTAINER);
    expect(agent?.startupProbe).toEqual({ exec: { command: ['bash', '-c', agentStartupProbeScript()] }, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 30 });
    expect(agentStartupProbeScript()).toContain('/dev/tcp/127.0.0.1/9000');
  });

  it('waits while nothing listens and passes once the agent does', async () => {
    const port = await freePort();
    let listening = false;
    const probe = runScript(agentStartupProbeScript(port));
    const outcome = probe.exit.then((code) => ({ code, listening }));
    await sleep(400);
    server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', () => resolve()));
    listening = true;
    // Passed only after the listener opened, not before: it waited rather than failing at once.
    expect(await outcome).toEqual({ code: 0, listening: true });
  });

  it('fails when the agent never listens within its tries', async () => {
    const port = await freePort();
    expect(await runScript(agentStartupProbeScript(port, 3)).exit).toBe(1);
  });
});
