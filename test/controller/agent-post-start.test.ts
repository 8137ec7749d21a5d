// The agent container's postStart hook (function pods and warm-pool pods
// alike): an exec hook that waits in the container until the agent listens,
// so the kubelet, which starts the next app container only once the hook has
// returned, starts the runtime as soon as the agent can take its Runtime API
// calls. The script is run here with the machine's bash, as the hook runs it
// in the agent image.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CONTAINER, AGENT_LISTEN_WAIT_SECONDS, agentListeningScript, buildDeployment } from '../../src/controller/resources/deployment.js';
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

describe("the agent's postStart hook", () => {
  it('is an exec hook of that script on the first container, waiting ~30 s before it fails', () => {
    const pod = buildDeployment(input(fn('a')), { images: defaultImages('1.2.3') }).spec?.template.spec;
    expect(pod?.containers[0]?.name).toBe(AGENT_CONTAINER);
    expect(pod?.containers[0]?.lifecycle?.postStart).toEqual({ exec: { command: ['bash', '-c', agentListeningScript()] } });
    expect(agentListeningScript()).toContain('/dev/tcp/127.0.0.1/9000');
    expect(agentListeningScript()).toContain(`i < ${(AGENT_LISTEN_WAIT_SECONDS * 1000) / 20}`);
  });

  it('waits while nothing listens and passes once the agent does', async () => {
    const port = await freePort();
    let listening = false;
    const hook = runScript(agentListeningScript(port));
    const outcome = hook.exit.then((code) => ({ code, listening }));
    await sleep(400);
    server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', () => resolve()));
    listening = true;
    // Passed only after the listener opened, not before: it waited rather than failing at once.
    expect(await outcome).toEqual({ code: 0, listening: true });
  });

  it('fails when the agent never listens within its wait', async () => {
    const port = await freePort();
    expect(await runScript(agentListeningScript(port, 0.06)).exit).toBe(1);
  });
});
