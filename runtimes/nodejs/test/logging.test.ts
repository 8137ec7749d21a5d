// Lambda's advanced logging controls in the Node.js runtime: with
// AWS_LAMBDA_LOG_FORMAT=JSON every console method writes one JSON object a
// line, and AWS_LAMBDA_LOG_LEVEL silences the methods below it; Text ignores
// the level. Through the real bootstrap.mjs as a child process.
import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from './fake-runtime-api.js';

const h = new Harness();
afterEach(() => h.cleanup());

const APP = `
export const logs = async () => {
  console.trace('trace line');
  console.debug('debug line');
  console.log('log %s', 'line');
  console.info('info line');
  console.warn('warn line', { a: 1 });
  console.error('error line', new TypeError('bad type'));
  console.fatal('fatal line');
  process.stdout.write('raw write\\n');
  return 'logged';
};
export const fails = async () => { throw new RangeError('too far'); };
`;

interface Line {
  timestamp: string;
  level: string;
  requestId?: string;
  message: string;
  errorType?: string;
  errorMessage?: string;
  stackTrace?: string[];
}

function jsonLines(out: string): Line[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

describe('console in JSON format', () => {
  it.each([
    ['TRACE', ['TRACE', 'DEBUG', 'INFO', 'INFO', 'WARN', 'ERROR', 'FATAL']],
    ['DEBUG', ['DEBUG', 'INFO', 'INFO', 'WARN', 'ERROR', 'FATAL']],
    ['INFO', ['INFO', 'INFO', 'WARN', 'ERROR', 'FATAL']],
    ['WARN', ['WARN', 'ERROR', 'FATAL']],
    ['ERROR', ['ERROR', 'FATAL']],
    ['FATAL', ['FATAL']],
    ['nonsense', ['INFO', 'INFO', 'WARN', 'ERROR', 'FATAL']],
  ])('AWS_LAMBDA_LOG_LEVEL=%s keeps %j', async (level, levels) => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.logs', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: level });
    const res = await api.invoke({}, { requestId: 'req-json' });
    expect(res.kind).toBe('response');
    const out = await rt.waitStdout('raw write');
    const lines = jsonLines(out);
    expect(lines.map((l) => l.level)).toEqual(levels);
    for (const l of lines) {
      expect(l.requestId).toBe('req-json');
      expect(l.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // What does not go through console is not the runtime's to format: the agent wraps it.
    expect(out.split('\n')).toContain('raw write');
  });

  it('formats the message as console does and gives an Error its fields', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.logs', { AWS_LAMBDA_LOG_FORMAT: 'JSON' });
    await api.invoke({}, { requestId: 'req-fields' });
    const lines = jsonLines(await rt.waitStdout('raw write'));
    expect(lines.find((l) => l.level === 'INFO')?.message).toBe('log line');
    expect(lines.find((l) => l.level === 'WARN')?.message).toBe('warn line { a: 1 }');
    const error = lines.find((l) => l.level === 'ERROR');
    expect(error).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad type' });
    expect(error?.message).toMatch(/^error line TypeError: bad type/);
    expect(error?.stackTrace?.[0]).toBe('TypeError: bad type');
  });

  it("writes the runtime's Invoke Error as one JSON line", async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.fails', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'ERROR' });
    const res = await api.invoke({}, { requestId: 'req-fail' });
    expect(res.kind).toBe('error');
    const lines = jsonLines(await rt.waitStdout('Invoke Error'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'ERROR', requestId: 'req-fail', message: 'Invoke Error', errorType: 'RangeError', errorMessage: 'too far' });
  });

  it('Text ignores AWS_LAMBDA_LOG_LEVEL and keeps its tab-separated lines', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.logs', { AWS_LAMBDA_LOG_LEVEL: 'ERROR' });
    await api.invoke({}, { requestId: 'req-text' });
    const out = await rt.waitStdout('raw write');
    expect(out).toMatch(/^\S+\treq-text\tDEBUG\tdebug line$/m);
    expect(out).toMatch(/^\S+\treq-text\tINFO\tlog line$/m);
    expect(jsonLines(out)).toEqual([]);
  });
});
