// The agent applying the logging controls to a real runtime's output: what
// reaches its output sink (the log file, pod stdout) and the log tail, in
// JSON and in Text; the lines of an init, of a timeout, and of concurrent
// invocations each counted to its own.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { LogSettings } from '../../src/agent/log-format.js';
import type { OutputLine, OutputSink } from '../../src/agent/output-sink.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { waitFor } from '../helpers/wait.js';
import { FAKE_RUNTIME, REPO_ROOT, request, silent } from './helpers.js';

class MemorySink implements OutputSink {
  readonly lines: OutputLine[] = [];
  write(l: OutputLine): boolean {
    this.lines.push(l);
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

const JSON_INFO: LogSettings = { format: 'JSON', applicationLogLevel: 'INFO', systemLogLevel: 'INFO' };

async function agentWith(logging: LogSettings | undefined, launch: { args: string[]; env?: Record<string, string> } = { args: [FAKE_RUNTIME] }, concurrency = 1): Promise<{ agent: Agent; sink: MemorySink }> {
  const sink = new MemorySink();
  const agent = new Agent({
    functionName: 'fmt',
    logger: silent,
    concurrency,
    output: sink,
    ...(logging !== undefined ? { logging } : {}),
    launcher: spawnLauncher({ command: process.execPath, args: launch.args, env: { PATH: process.env.PATH ?? '', ...launch.env } }),
  });
  await agent.start();
  closers.push(() => agent.close());
  return { agent, sink };
}

const tailOf = (logTail: string | undefined): string[] => Buffer.from(logTail ?? '', 'base64').toString('utf8').trimEnd().split('\n');
const docs = (lines: string[]): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the agent in JSON format', () => {
  it('wraps plain lines, counts init lines to no invocation, and writes the platform records to the sink and the tail', async () => {
    const { agent, sink } = await agentWith(JSON_INFO);
    const req = request({ action: 'log', lines: ['hello'], stderr: 'on stderr' }, { tailLogs: true });
    const r = await agent.invoke(req);
    expect(r.outcome).toBe('success');
    const init = sink.lines.find((l) => l.line.includes('init done'));
    expect(init?.requestId).toBeUndefined();
    expect(JSON.parse(init?.line ?? '')).toEqual({ timestamp: expect.any(String), level: 'INFO', message: 'init done' });
    const mine = sink.lines.filter((l) => l.requestId === req.requestId);
    const written = docs(mine.map((l) => l.line));
    expect(written.map((d) => d.type ?? d.message)).toEqual(['platform.start', expect.stringMatching(/\thello$/), 'on stderr', 'platform.runtimeDone', 'platform.report']);
    expect(mine.map((l) => l.stream)).toEqual(['stdout', 'stdout', 'stderr', 'stdout', 'stdout']);
    expect(docs(tailOf(r.logTail))).toEqual(written);
  });

  it('a timeout: an ERROR line from the agent and status timeout in platform.runtimeDone and platform.report', async () => {
    const { agent, sink } = await agentWith(JSON_INFO);
    const req = request({ action: 'sleep', ms: 5000 }, { timeoutMs: 300, tailLogs: true });
    const r = await agent.invoke(req);
    expect(r.errorType).toBe('Sandbox.Timedout');
    const tail = docs(tailOf(r.logTail));
    expect(tail.map((d) => d.type ?? d.level)).toEqual(['platform.start', 'ERROR', 'platform.runtimeDone', 'platform.report']);
    expect(tail[1]).toMatchObject({ requestId: req.requestId, message: expect.stringMatching(/Task timed out after 0.30 seconds/) });
    expect(tail[2]).toMatchObject({ record: { status: 'timeout' } });
    expect(tail[3]).toMatchObject({ record: { status: 'timeout', metrics: { billedDurationMs: expect.any(Number) } } });
    await waitFor('the records in the sink', () => sink.lines.filter((l) => l.requestId === req.requestId).length === 4);
  });

  it('systemLogLevel WARN and applicationLogLevel ERROR leave only error lines', async () => {
    const { agent, sink } = await agentWith({ format: 'JSON', applicationLogLevel: 'ERROR', systemLogLevel: 'WARN' });
    const req = request({ action: 'error', message: 'nope' }, { tailLogs: true });
    const ok = await agent.invoke(request({ action: 'log', lines: ['dropped'] }, { tailLogs: true }));
    expect(tailOf(ok.logTail)).toEqual(['']);
    const r = await agent.invoke(req);
    expect(r.outcome).toBe('unhandled');
    // The agent's own line for an unhandled error is ERROR: kept; no platform record passes WARN.
    const mine = sink.lines.filter((l) => l.requestId !== undefined).map((l) => JSON.parse(l.line) as unknown);
    expect(mine).toEqual([{ timestamp: expect.any(String), level: 'ERROR', requestId: req.requestId, message: 'nope' }]);
    expect(docs(tailOf(r.logTail))).toEqual(mine);
  });

  it('lines of concurrent invocations are each counted to their own, by the requestId the runtime writes', { timeout: 30_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-fmt-conc-'));
    writeFileSync(
      join(root, 'index.mjs'),
      "export const handler = async (e, ctx) => { for (let i = 0; i < 5; i++) { console.warn('line ' + e.n + ' ' + ctx.awsRequestId); await new Promise((r) => setTimeout(r, 20)); } return e.n; };\n",
    );
    const { agent, sink } = await agentWith(
      { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'INFO' },
      { args: [join(REPO_ROOT, 'runtimes/nodejs/bootstrap.mjs')], env: { _HANDLER: 'index.handler', LAMBDA_TASK_ROOT: root, AWS_LAMBDA_MAX_CONCURRENCY: '2', AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN' } },
      2,
    );
    const reqs = [request({ n: 1 }, { tailLogs: true }), request({ n: 2 }, { tailLogs: true })];
    const results = await Promise.all(reqs.map((q) => agent.invoke(q)));
    for (const [i, q] of reqs.entries()) {
      const app = sink.lines.filter((l) => l.line.includes('"level":"WARN"') && l.line.includes(` ${i + 1} `));
      expect(app).toHaveLength(5);
      for (const l of app) {
        expect(l.requestId).toBe(q.requestId);
        expect(JSON.parse(l.line)).toMatchObject({ requestId: q.requestId, message: `line ${i + 1} ${q.requestId}` });
      }
      const tail = docs(tailOf(results[i]?.logTail));
      expect(tail.filter((d) => d.type === undefined).map((d) => d.message)).toEqual(Array.from({ length: 5 }, () => `line ${i + 1} ${q.requestId}`));
    }
  });
});

describe('the agent in Text format', () => {
  it('writes the runtime lines as they are and no records to the sink; the tail keeps START/END/REPORT', async () => {
    const { agent, sink } = await agentWith(undefined);
    const req = request({ action: 'log', lines: ['hello'] }, { tailLogs: true });
    const r = await agent.invoke(req);
    expect(sink.lines.filter((l) => l.requestId === req.requestId).map((l) => l.line)).toEqual([expect.stringMatching(new RegExp(`^\\S+\\t${req.requestId}\\tINFO\\thello$`))]);
    const tail = tailOf(r.logTail);
    expect(tail[0]).toBe(`START RequestId: ${req.requestId} Version: $LATEST`);
    expect(tail.at(-2)).toBe(`END RequestId: ${req.requestId}`);
    expect(tail.at(-1)).toMatch(/^REPORT RequestId: /);
  });
});
