// The logging controls on the cluster's paths: what a function's Deployment
// gives its agent (flags) and runtime (AWS_LAMBDA_LOG_FORMAT/LEVEL), what a
// claimed warm-pool pod is handed, and `hearth agent` run with exactly the
// Deployment's args and runtime env around the real Node.js runtime: its
// stdout (the pod's log) carries the JSON lines and platform records.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logFlags, parseLogFlags, type LogSettings } from '../../src/agent/log-format.js';
import { AgentClient } from '../../src/agent/client.js';
import { checkSpecialization, savedAgentOf } from '../../src/agent/specialize.js';
import { buildSpecialization } from '../../src/backends/kubernetes/specialization-payload.js';
import { AGENT_CONTAINER, buildDeployment, RUNTIME_CONTAINER, runtimeEnv } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { instanceSpecHash } from '../../src/pools/specialization.js';
import { fn, input } from '../controller/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { REPO_ROOT, request } from './helpers.js';

const JSON_WARN = { format: 'JSON', applicationLogLevel: 'WARN' } as const;

describe('agent flags', () => {
  it.each<[string | undefined, string | undefined, string | undefined, LogSettings]>([
    [undefined, undefined, undefined, { format: 'Text', applicationLogLevel: 'INFO', systemLogLevel: 'INFO' }],
    ['JSON', undefined, undefined, { format: 'JSON', applicationLogLevel: 'INFO', systemLogLevel: 'INFO' }],
    ['JSON', 'TRACE', 'WARN', { format: 'JSON', applicationLogLevel: 'TRACE', systemLogLevel: 'WARN' }],
  ])('%s %s %s', (f, a, s, want) => {
    expect(parseLogFlags(f, a, s)).toEqual(want);
    // What the Deployment passes reads back as the same settings; Text passes none.
    const flags = logFlags(want);
    const value = (flag: string): string | undefined => (flags.includes(flag) ? flags[flags.indexOf(flag) + 1] : undefined);
    expect(parseLogFlags(value('--log-format'), value('--application-log-level'), value('--system-log-level'))).toEqual(want);
    if (want.format === 'Text') expect(flags).toEqual([]);
  });

  it.each<[string | undefined, string | undefined, string | undefined, string]>([
    ['json', undefined, undefined, '--log-format must be one of Text, JSON, not json'],
    ['JSON', 'LOUD', undefined, '--application-log-level must be one of'],
    ['JSON', undefined, 'ERROR', '--system-log-level must be one of DEBUG, INFO, WARN'],
    ['Text', 'WARN', undefined, 'need --log-format JSON'],
  ])('%s %s %s is refused', (f, a, s, message) => {
    expect(() => parseLogFlags(f, a, s)).toThrow(message);
  });
});

describe("a function's Deployment", () => {
  const pod = (spec: Parameters<typeof fn>[1]) => buildDeployment(input(fn('f', spec)), { images: defaultImages('1.2.3') }).spec?.template.spec;
  const agentArgs = (spec: Parameters<typeof fn>[1]) => pod(spec)?.containers.find((c) => c.name === AGENT_CONTAINER)?.args ?? [];
  const envNames = (spec: Parameters<typeof fn>[1]) => (pod(spec)?.containers.find((c) => c.name === RUNTIME_CONTAINER)?.env ?? []).map((e) => e.name);

  it('in JSON: the agent gets the settings and the version, the runtime AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL', () => {
    const args = agentArgs({ logging: JSON_WARN });
    expect(args.join(' ')).toContain('--log-format JSON --application-log-level WARN --system-log-level INFO --function-version $LATEST');
    const env = pod({ logging: JSON_WARN })?.containers.find((c) => c.name === RUNTIME_CONTAINER)?.env ?? [];
    expect(env).toEqual(expect.arrayContaining([{ name: 'AWS_LAMBDA_LOG_FORMAT', value: 'JSON' }, { name: 'AWS_LAMBDA_LOG_LEVEL', value: 'WARN' }]));
  });

  it('in Text (or with none): args and env as they were, so no pod is replaced for it', () => {
    expect(agentArgs({ logging: { format: 'Text' } })).toEqual(agentArgs({}));
    expect(agentArgs({}).some((a) => a.startsWith('--log') || a === '--function-version')).toBe(false);
    expect(envNames({ logging: { format: 'Text' } })).toEqual(envNames({}));
    expect(envNames({}).some((n) => n.startsWith('AWS_LAMBDA_LOG_'))).toBe(false);
  });

  it('a logGroup is the runtime\'s AWS_LAMBDA_LOG_GROUP_NAME', () => {
    const env = pod({ logging: { format: 'Text', logGroup: '/custom/g' } })?.containers.find((c) => c.name === RUNTIME_CONTAINER)?.env ?? [];
    expect(env).toContainEqual({ name: 'AWS_LAMBDA_LOG_GROUP_NAME', value: '/custom/g' });
  });
});

describe('a claimed warm-pool pod', () => {
  it('is handed the settings in JSON, keeps them across an agent restart, and a change of them replaces it', () => {
    const f = fn('f', { logging: { ...JSON_WARN, systemLogLevel: 'WARN' } });
    const s = buildSpecialization(f, 'f', new Map());
    expect(s.logging).toEqual({ format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'WARN' });
    expect(s.env).toMatchObject({ AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN' });
    const checked = checkSpecialization(Buffer.from(JSON.stringify(s)));
    expect(checked.ok && savedAgentOf(checked.spec).logging).toEqual(s.logging);
    expect(buildSpecialization(fn('f'), 'f', new Map()).logging).toBeUndefined();
    expect(instanceSpecHash(f.spec)).not.toBe(instanceSpecHash(fn('f').spec));
  });
});

describe('hearth agent with a JSON Deployment\'s args and env', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it("writes the function's lines as JSON at its level, and the platform records, on its stdout", { timeout: 60_000 }, async () => {
    const f = fn('pod-fn', { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': '' } }, logging: JSON_WARN });
    const deployment = buildDeployment(input(f), { images: defaultImages('1.2.3') }).spec?.template.spec;
    const args = deployment?.containers.find((c) => c.name === AGENT_CONTAINER)?.args ?? [];
    const root = mkdtempSync(join(tmpdir(), 'hearth-pod-logs-'));
    writeFileSync(join(root, 'index.mjs'), "export const handler = async () => { console.info('pod info'); console.warn('pod warn'); console.error('pod error'); return 'ok'; };\n");
    const [listen, api] = [await freePort(), await freePort()];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of runtimeEnv(f, { functionName: 'pod-fn', version: '$LATEST' })) env[e.name] = e.value ?? '';
    env.LAMBDA_TASK_ROOT = root;
    // The Deployment's args, with the ports made free ones (a later flag wins).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args, '--listen', `127.0.0.1:${listen}`, '--runtime-api', `127.0.0.1:${api}`, '--', process.execPath, join(REPO_ROOT, 'runtimes/nodejs/bootstrap.mjs')],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const client = new AgentClient(`http://127.0.0.1:${listen}`, { connections: 1 });
    try {
      await waitFor('the agent to be ready', async () => (await fetch(`http://127.0.0.1:${listen}/readyz`).catch(() => undefined))?.ok, 30_000, 100);
      const req = request({}, { tailLogs: true });
      const r = await client.invoke(req);
      expect(r.outcome).toBe('success');
      const entries = await waitFor('the platform.report on stdout', () => {
        const lines = out.split('\n').filter((l) => l.includes(req.requestId));
        return lines.some((l) => l.includes('platform.report')) ? lines.map((l) => JSON.parse(l) as { fn: string; requestId: string; msg: string }) : undefined;
      });
      // The pod's log lines are the agent's JSON entries; each one's msg is the function's JSON line.
      const docs = entries.map((e) => JSON.parse(e.msg) as Record<string, unknown>);
      expect(docs.filter((d) => d.type === undefined).map((d) => [d.level, d.message, d.requestId])).toEqual([
        ['WARN', 'pod warn', req.requestId],
        ['ERROR', 'pod error', req.requestId],
      ]);
      expect(docs.filter((d) => d.type !== undefined).map((d) => d.type)).toEqual(['platform.start', 'platform.runtimeDone', 'platform.report']);
      expect(docs[0]).toMatchObject({ type: 'platform.start', record: { requestId: req.requestId, version: '$LATEST' } });
      // The tail the caller gets has the same lines.
      const tail = Buffer.from(r.logTail ?? '', 'base64').toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(tail.map((d) => d.type ?? d.message)).toEqual(['platform.start', 'pod warn', 'pod error', 'platform.runtimeDone', 'platform.report']);
    } finally {
      await client.close();
    }
  });
});
