// `concurrency: 4` is real in every runtime: four parallel 1 s calls to a
// function limited to one instance all succeed together, in that one
// instance (Python: four worker processes under its runtime process; Node.js
// and Go: one process), and none loses its timeout waiting for a slot.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { FunctionSpecInput } from '../../src/api/function.js';
import type { LocalInstance } from '../../src/backends/local/local-instance.js';
import { node, py, startPlatform } from '../helpers/platform.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const PYTHON = `import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 1))
    return {"pid": os.getpid(), "ppid": os.getppid()}
`;

const NODE = `export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.sleep === undefined ? 1000 : event.sleep * 1000));
  return { pid: process.pid };
};
`;

const GO = `package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type Event struct {
	Sleep *float64 \`json:"sleep"\`
}

func handler(e Event) (map[string]int, error) {
	s := 1.0
	if e.Sleep != nil {
		s = *e.Sleep
	}
	time.Sleep(time.Duration(s * float64(time.Second)))
	return map[string]int{"pid": os.Getpid()}, nil
}

func main() {
	lambda.Start(handler)
}
`;

/** go.mod and go.sum of the Go example, so the build needs no network beyond the module cache. */
function goModule(): Record<string, string> {
  const doc = parse(readFileSync(new URL('../../examples/hello-go.yaml', import.meta.url), 'utf8')) as { spec: { code: { inline: Record<string, string> } } };
  const inline = doc.spec.code.inline;
  return { 'go.mod': inline['go.mod'] ?? '', 'go.sum': inline['go.sum'] ?? '' };
}

// minInstances keeps the warmed instance: the timed calls must not meet a cold start.
const oneInstanceOfFour = { concurrency: 4, timeoutSeconds: 3, scaling: { minInstances: 1, maxInstances: 1 } } satisfies Partial<FunctionSpecInput>;

const FUNCTIONS = {
  'conc-python': { ...py(PYTHON), ...oneInstanceOfFour },
  'conc-node': { ...node(NODE), ...oneInstanceOfFour },
  'conc-go': { runtime: 'go', code: { inline: { 'main.go': GO, ...goModule() } }, ...oneInstanceOfFour },
} satisfies Record<string, FunctionSpecInput>;

type Name = keyof typeof FUNCTIONS;

interface Call {
  status: number;
  fnError: string | null;
  body: { pid: number; ppid?: number };
  /** ms after the first call was sent. */
  doneAfterMs: number;
}

async function parallel(platform: Platform, name: Name, count: number, event: unknown): Promise<Call[]> {
  const t0 = Date.now();
  return Promise.all(
    Array.from({ length: count }, async () => {
      const r = await fetch(`${platform.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: JSON.stringify(event) });
      const text = await r.text();
      const doneAfterMs = Date.now() - t0;
      let body: Call['body'] = { pid: -1 };
      try {
        body = JSON.parse(text) as Call['body'];
      } catch {
        // reported through status / fnError below
      }
      return { status: r.status, fnError: r.headers.get('x-amz-function-error'), body, doneAfterMs };
    }),
  );
}

function liveInstances(platform: Platform, name: Name): LocalInstance[] {
  return platform.backend.instances(name).filter((i) => i.state !== 'stopped') as LocalInstance[];
}

describe('per-instance concurrency in every runtime', () => {
  let platform: Platform;

  beforeAll(async () => {
    // No sandbox: instances are told apart by their processes' pids, which each sandbox's own PID namespace would number alike.
    platform = await startPlatform(FUNCTIONS, { backend: { sandbox: false } });
    // Cold starts (and the Go build) happen here, not in the timed calls. The
    // Python runtime's other workers start once the first has loaded the
    // handler: warm until a round of four short calls ran in four of them.
    for (const name of Object.keys(FUNCTIONS) as Name[]) {
      for (let round = 0; round < 20; round++) {
        const calls = await parallel(platform, name, 4, { sleep: 0.3 });
        expect(calls.filter((c) => c.status !== 200 || c.fnError !== null)).toEqual([]);
        if (name !== 'conc-python' || new Set(calls.map((c) => c.body.pid)).size === 4) break;
      }
    }
  }, 240_000);
  afterAll(async () => platform?.close());

  it.each(['conc-python', 'conc-go', 'conc-node'] as const)('%s: four 1 s calls finish together in one instance', async (name) => {
    const before = liveInstances(platform, name).map((i) => i.id);
    expect(before).toHaveLength(1);
    const calls = await parallel(platform, name, 4, {});
    // All succeed: with the deadline started at dispatch the last ones answered Sandbox.Timedout.
    expect(calls.map((c) => [c.status, c.fnError])).toEqual(Array.from({ length: 4 }, () => [200, null]));
    // One after the other they would take 4 s; two at a time 2 s.
    for (const c of calls) expect(c.doneAfterMs).toBeLessThanOrEqual(1500);
    const live = liveInstances(platform, name);
    expect(live.map((i) => i.id)).toEqual(before);
    const runtimePid = live[0]?.agent.pid;
    expect(runtimePid).toBeGreaterThan(0);
    if (name === 'conc-python') {
      // Four worker processes of the instance's one runtime process.
      expect(new Set(calls.map((c) => c.body.pid)).size).toBe(4);
      expect(new Set(calls.map((c) => c.body.ppid))).toEqual(new Set([runtimePid]));
    } else {
      expect(new Set(calls.map((c) => c.body.pid))).toEqual(new Set([runtimePid]));
    }
  });
});
