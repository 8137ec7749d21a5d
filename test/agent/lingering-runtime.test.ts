// A runtime that outlives the process its agent started (a sandbox's bwrap
// dies a moment before the runtime inside it) must not be taken for the
// restarted one: its /next while the restart is under way is refused, and the
// new runtime is launched once the old one's pipes have closed. Before, the
// old runtime's /next made the instance ready again and took the next call
// to its grave (Sandbox.Timedout after the function's timeout).
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { waitFor } from '../helpers/wait.js';
import { request, silent } from './helpers.js';

const LINGERING = fileURLToPath(new URL('./fixtures/lingering-runtime.mjs', import.meta.url));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

it('gives no call to a runtime that outlives its wrapper after the wrapper is killed', { timeout: 60_000 }, async () => {
  const agent = new Agent({
    functionName: 'lingering',
    logger: silent,
    timeoutSeconds: 2,
    output: { write: () => true, drained: () => Promise.resolve() },
    // The wrapper (sh) stays the runtime's parent until it is killed; the runtime inherits its pipes.
    launcher: spawnLauncher({ command: '/bin/sh', args: ['-c', '"$0" "$1" & wait', process.execPath, LINGERING], env: { PATH: process.env.PATH ?? '', LINGER_MS: '400' } }),
  });
  closers.push(() => agent.close());
  await agent.start();
  const failures: string[] = [];
  for (let round = 0; round < 3; round++) {
    const first = await agent.invoke(request({}));
    expect(first.outcome).toBe('success');
    const wrapper = agent.pid;
    if (wrapper === undefined) throw new Error('no runtime process');
    process.kill(wrapper, 'SIGKILL');
    await waitFor('the agent has seen the wrapper exit', () => agent.pid !== wrapper, 5_000, 5);
    // Calls right away, while the old runtime still asks /next for 400 ms.
    for (let i = 0; i < 5; i++) {
      const r = await agent.invoke(request({}));
      if (r.outcome !== 'success') failures.push(`round ${round} call ${i}: ${r.errorType ?? r.outcome}`);
    }
  }
  expect(failures).toEqual([]);
});
