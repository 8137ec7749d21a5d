// `hearth logs` on the process-node cluster, through the chart's gateway by
// its Service's DNS name with the chart's API key, as a user runs it: the
// gateway reads the function's pods' logs through the Kubernetes API
// (pods/log, proxied by the API server to the node's kubelet endpoint). The
// kept lines with their time and pod, --since, and --follow printing a new
// invocation's line within a second of the invocation returning (the wait
// for each is bounded by that second; the times taken are printed). And
// hearth ls / hearth get against the same gateway.
// Runs on the release hearth.test.ts installed, or installs it when run alone.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { runHearth } from '../helpers/hearth-cli.js';
import { waitFor } from '../helpers/wait.js';
import { GATEWAY, NS, api, apiKey, ensureRelease, invoke, kubectl, pods, until } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'logs-talker';
const TSX = resolve('node_modules/.bin/tsx');
const MAIN = resolve('src/cli/main.ts');
/** `TIME POD LINE` as hearth logs prints a cluster's lines. */
const LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (\S+) (.*)$/;

const HANDLER = `def lambda_handler(event, context):
    print(event["say"], flush=True)
    return {"said": event["say"]}
`;

type Child = ChildProcessByStdio<null, Readable, Readable>;
const children: Child[] = [];

describe.runIf(inject('e2e') !== undefined).sequential('hearth logs through the cluster gateway', () => {
  let env: Record<string, string> = {};
  /** The function's pods (a claimed warm-pool pod may serve beside its Deployment's). */
  const podNames = async (): Promise<string[]> => (await pods(NS, `hearth.dev/function=${FN}`)).map((p) => p.metadata.name);
  const hearth = (...args: string[]) => runHearth({ url: GATEWAY, env }, ...args);
  const say = async (what: string): Promise<void> => {
    const r = await invoke(FN, { say: what });
    expect(r.status, r.body).toBe(200);
  };

  beforeAll(async () => {
    await ensureRelease();
    // JSON logging: the agent writes the platform records into the function's log (its own container), which hearth logs merges in.
    await applyPython(FN, HANDLER, { timeoutSeconds: 30, scaling: { minInstances: 1, maxInstances: 1 }, logging: { format: 'JSON' } });
    await until(`${FN} Ready`, async () => {
      const f = await api().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);
      return f.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 180_000, 1_000);
    env = { HEARTH_API_KEY: await apiKey() };
  }, 300_000);

  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
  });

  afterAll(async () => {
    await kubectl('delete', 'function', '--namespace', NS, FN, '--wait=false', '--ignore-not-found').catch(() => undefined);
  }, 60_000);

  it('prints the lines kept, each with its time and pod; --since keeps the newer ones', async () => {
    await say('first words');
    // The process node times a line when its 100 ms clock first sees it (the kubelet when the runtime writes it): a second apart, no doubt which side each is.
    await new Promise((r) => setTimeout(r, 1_000));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    await say('second words');
    const r = await until('both lines in hearth logs', async () => {
      const out = await hearth('logs', FN, '-n', '0');
      expect(out.code, out.stderr).toBe(0);
      return out.stdout.includes('second words') && (out.stdout.match(/"type":"platform\.report"/g) ?? []).length >= 2 ? out : undefined;
    }, 30_000, 500);
    const lines = r.stdout.trimEnd().split('\n').map((l) => LINE.exec(l));
    for (const m of lines) expect(m, r.stdout).not.toBeNull();
    const said = lines.filter((m) => m?.[3] === 'first words' || m?.[3] === 'second words');
    expect(said.map((m) => m?.[3])).toEqual(['first words', 'second words']);
    // The agent container's records for the function are among them (platform.start and platform.report, as in Lambda's log stream); its own logs are not.
    const texts = lines.map((m) => m?.[3] ?? '');
    const records = (type: string) => texts.filter((t) => t.startsWith('{') && (JSON.parse(t) as { type?: string }).type === type);
    expect(records('platform.start').length, r.stdout).toBeGreaterThanOrEqual(2);
    expect(records('platform.report').length, r.stdout).toBeGreaterThanOrEqual(2);
    expect(texts.some((t) => t.includes('agent ready for its runtime')), r.stdout).toBe(false);
    const names = await podNames();
    for (const m of said) expect(names).toContain(m?.[2]);
    for (const m of said) expect(Math.abs(Date.parse(m?.[1] ?? '') - Date.now())).toBeLessThan(300_000);
    const since = await hearth('logs', FN, '--since', between);
    expect(since.code, since.stderr).toBe(0);
    expect(since.stdout).toContain('second words');
    expect(since.stdout).not.toContain('first words');
    const missing = await hearth('logs', 'nobody-here');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ResourceNotFoundException (404)');
  }, 120_000);

  it("--follow prints a new invocation's line within a second of it returning", async () => {
    await say('before following');
    // -n 5: the kept lines end with the call's platform.runtimeDone and platform.report, after its own line.
    const child = spawn(TSX, [MAIN, 'logs', FN, '--follow', '-n', '5'], { env: { ...process.env, ...env, HEARTH_URL: GATEWAY }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor('the follower to print the kept line', () => out.includes('before following'), 60_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; it printed ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const marker = `followed line ${i} ${Date.now()}`;
      await say(marker);
      const returned = performance.now();
      // Bounded: the line must be printed within the second after the invocation returned.
      await waitFor(`"${marker}" within a second`, () => out.includes(marker), 1_000, 5).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; it printed ${JSON.stringify(out.slice(-2000))}, stderr ${JSON.stringify(err)}`);
      });
      waits.push(performance.now() - returned);
    }
    const names = await podNames();
    console.log(`hearth logs --follow (process-node cluster, pods ${names.join(', ')}): a new invocation's line printed ${waits.map((w) => `${w.toFixed(0)} ms`).join(', ')} after the invocation returned`);
    const followed = out.trimEnd().split('\n').filter((l) => l.includes('followed line '));
    expect(followed).toHaveLength(5);
    for (const l of followed) expect(names).toContain(LINE.exec(l)?.[2]);
  }, 180_000);

  it('hearth ls and hearth get work against the cluster gateway', async () => {
    const ls = await hearth('ls');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${FN}\\s+python3\\.12\\s+Active`, 'm'));
    const get = await hearth('get', FN);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toContain(FN);
    expect(get.stdout).toContain('python3.12');
  }, 120_000);
});
