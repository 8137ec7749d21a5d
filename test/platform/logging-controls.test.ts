// Lambda's advanced logging controls end to end on the embedded platform
// (what `hearth up` runs): real Python and Node.js runtimes, the agent's
// formatting and filtering, the X-Amz-Log-Type: Tail answer and the
// function's log file; spec.logging from Function files and LoggingConfig
// through the control-plane API.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { pythonZip } from '../helpers/aws-cli.js';
import { node, py, startPlatform, writeFunctions } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const PY = `import json, logging, os
logger = logging.getLogger()
def handler(event, context):
    logger.debug("py debug")
    logger.info("py info")
    logger.warning("py warn")
    logger.error("py error")
    print("py print")
    print(json.dumps({"level": "WARN", "message": "py own json"}))
    print(json.dumps({"level": "DEBUG", "message": "py own debug"}))
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_GROUP_NAME")}
`;

const NODE = `export const handler = async () => {
  console.debug('node debug');
  console.info('node info');
  console.log('node log');
  console.warn('node warn');
  console.error('node error');
  process.stdout.write('node raw\\n');
  return { format: process.env.AWS_LAMBDA_LOG_FORMAT ?? null, level: process.env.AWS_LAMBDA_LOG_LEVEL ?? null };
};
`;

const JSON_WARN = { format: 'JSON', applicationLogLevel: 'WARN' } as const;
const FUNCTIONS: Record<string, FunctionSpecInput> = {
  'py-json': { ...py(PY), logging: { ...JSON_WARN, logGroup: '/custom/py-json' } },
  'node-json': { ...node(NODE), logging: JSON_WARN },
  'py-quiet': { ...py(PY), logging: { ...JSON_WARN, systemLogLevel: 'WARN' } },
  'py-text': py(PY),
  'node-text': node(NODE),
  'py-api': py(PY),
};

let platform: Awaited<ReturnType<typeof startPlatform>>;

beforeAll(async () => {
  platform = await startPlatform(FUNCTIONS, { backend: { cacheDir: mkdtempSync(join(tmpdir(), 'hearth-logging-')) } });
}, 60_000);
afterAll(() => platform?.close());

interface Invoked {
  status: number;
  requestId: string;
  body: Record<string, unknown>;
  tail: string[];
}

async function invoke(name: string, url = platform.url): Promise<Invoked> {
  const res = await fetch(`${url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}', headers: { 'x-amz-log-type': 'Tail' } });
  const body = (await res.json()) as Record<string, unknown>;
  const tail = Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString('utf8').split('\n').filter((l) => l !== '');
  return { status: res.status, requestId: res.headers.get('x-amzn-requestid') ?? '', body, tail };
}

type Doc = Record<string, unknown> & { record?: Record<string, unknown> };

function parseAll(lines: string[]): Doc[] {
  // Every line must be JSON: JSON.parse throws on the first that is not.
  return lines.map((l) => JSON.parse(l) as Doc);
}

/** The application lines' (level, message) pairs, platform records left out. */
const appLines = (docs: Doc[]) => docs.filter((d) => d.type === undefined).map((d) => [d.level, d.message]);
const platformTypes = (docs: Doc[]) => docs.filter((d) => d.type !== undefined).map((d) => d.type);

/** The function's log file lines of one invocation, without the time stamp the file puts in front of each line. */
async function fileLines(name: string, requestId: string, last: string): Promise<string[]> {
  const path = platform.backend.functionLogs.path(name);
  const read = (): string[] =>
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ''))
      .filter((l) => l.includes(requestId));
  return waitFor(`${name}'s log to hold ${last} of ${requestId}`, () => {
    try {
      const lines = read();
      return lines.some((l) => l.includes(last)) ? lines : undefined;
    } catch {
      return undefined;
    }
  });
}

describe('JSON format at applicationLogLevel WARN', () => {
  it.each([
    ['py-json', [['WARN', 'py warn'], ['ERROR', 'py error'], ['WARN', 'py own json']], { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN', AWS_LAMBDA_LOG_GROUP_NAME: '/custom/py-json' }],
    ['node-json', [['WARN', 'node warn'], ['ERROR', 'node error']], { format: 'JSON', level: 'WARN' }],
  ])('%s: debug and info dropped, warn and error kept, every line JSON with timestamp, level and requestId', { timeout: 60_000 }, async (name, kept, env) => {
    const r = await invoke(name);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(env);
    const docs = parseAll(r.tail);
    expect(appLines(docs)).toEqual(kept);
    for (const d of docs.filter((x) => x.type === undefined)) {
      expect(d.requestId).toBe(r.requestId);
      expect(typeof d.timestamp).toBe('string');
      expect(Number.isNaN(Date.parse(String(d.timestamp)))).toBe(false);
    }
    expect(platformTypes(docs)).toEqual(['platform.start', 'platform.runtimeDone', 'platform.report']);
    const start = docs.find((d) => d.type === 'platform.start');
    expect(start?.record).toEqual({ requestId: r.requestId, version: '$LATEST' });
    const report = docs.find((d) => d.type === 'platform.report');
    expect(report?.record).toMatchObject({ requestId: r.requestId, status: 'success', metrics: { memorySizeMB: 128 } });
    const metrics = report?.record?.metrics as Record<string, number>;
    expect(metrics.billedDurationMs).toBe(Math.max(1, Math.ceil(metrics.durationMs ?? 0)));
    expect(metrics.maxMemoryUsedMB).toBeGreaterThan(0);
    // The function's first invocation: a cold start.
    expect(metrics.initDurationMs).toBeGreaterThan(0);

    // The function's log file carries the same lines (and the platform records).
    const file = parseAll(await fileLines(name, r.requestId, 'platform.report'));
    expect(appLines(file)).toEqual(kept);
    expect(platformTypes(file)).toEqual(['platform.start', 'platform.runtimeDone', 'platform.report']);
  });

  it('a warm invocation reports no initDurationMs', { timeout: 60_000 }, async () => {
    const warm = await invoke('node-json'); // the case above ran it cold
    const report = parseAll(warm.tail).find((d) => d.type === 'platform.report');
    expect(report?.record?.metrics).not.toHaveProperty('initDurationMs');
  });

  it("a published version's lines stay JSON in the function's log file, and platform.start names the version", { timeout: 60_000 }, async () => {
    const pub = await fetch(`${platform.url}/2015-03-31/functions/node-json/versions`, { method: 'POST', body: '{}' });
    expect(pub.status).toBe(201);
    const version = String(((await pub.json()) as { Version: string }).Version);
    const r = await invoke(`node-json:${version}`);
    expect(r.status).toBe(200);
    const docs = parseAll(r.tail);
    expect(docs.find((d) => d.type === 'platform.start')?.record).toEqual({ requestId: r.requestId, version });
    // Text puts [N] in front of a version's lines; a JSON line is left whole.
    const file = parseAll(await fileLines('node-json', r.requestId, 'platform.report'));
    expect(appLines(file)).toEqual([['WARN', 'node warn'], ['ERROR', 'node error']]);
  });

  it('systemLogLevel WARN drops platform.start and platform.report', { timeout: 60_000 }, async () => {
    const r = await invoke('py-quiet');
    const docs = parseAll(r.tail);
    expect(platformTypes(docs)).toEqual([]);
    expect(appLines(docs)).toEqual([['WARN', 'py warn'], ['ERROR', 'py error'], ['WARN', 'py own json']]);
    const file = parseAll(await fileLines('py-quiet', r.requestId, 'py own json'));
    expect(platformTypes(file)).toEqual([]);
  });
});

describe('Text format', () => {
  it.each([
    ['py-text', /^\[WARNING\]\t\S+Z\t(\S+)\tpy warn$/m, 'py print'],
    ['node-text', /^\S+Z\t(\S+)\tINFO\tnode info$/m, 'node raw'],
  ])('%s: lines as written, START/END/REPORT as plain lines, no JSON variables', { timeout: 60_000 }, async (name, line, plain) => {
    const r = await invoke(name);
    expect(Object.values(r.body).every((v) => v === null || String(v).startsWith('/aws/lambda/'))).toBe(true);
    const text = r.tail.join('\n');
    expect(text).toMatch(line);
    expect(line.exec(text)?.[1]).toBe(r.requestId);
    expect(r.tail).toContain(plain);
    expect(r.tail[0]).toBe(`START RequestId: ${r.requestId} Version: $LATEST`);
    expect(r.tail.at(-2)).toBe(`END RequestId: ${r.requestId}`);
    expect(r.tail.at(-1)).toMatch(new RegExp(`^REPORT RequestId: ${r.requestId}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\t`));
    // The log file has the function's lines only, as before.
    const file = await fileLines(name, r.requestId, name.startsWith('py') ? 'py error' : 'node error');
    expect(file.some((l) => l.startsWith('START') || l.startsWith('REPORT') || l.startsWith('{'))).toBe(false);
  });
});

describe('LoggingConfig through the control-plane API', () => {
  const api = (path: string, init?: RequestInit) => fetch(`${platform.url}/2015-03-31/functions/${path}`, init);

  it('GetFunctionConfiguration shows a Function file\'s logging', async () => {
    const res = await api('py-quiet/configuration');
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, unknown>).LoggingConfig).toEqual({ LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'WARN', LogGroup: '/aws/lambda/py-quiet' });
  });

  it('CreateFunction takes LoggingConfig, and the function runs with it', { timeout: 60_000 }, async () => {
    const body = { FunctionName: 'made-json', Runtime: 'python3.12', Handler: 'app.handler', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: pythonZip('m').toString('base64') }, LoggingConfig: { LogFormat: 'JSON', SystemLogLevel: 'WARN' } };
    const res = await fetch(`${platform.url}/2015-03-31/functions`, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Record<string, unknown>).LoggingConfig).toEqual({ LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'WARN', LogGroup: '/aws/lambda/made-json' });
    const r = await waitFor('made-json to run', async () => {
      const x = await invoke('made-json');
      return x.status === 200 ? x : undefined;
    }, 30_000, 200);
    expect(r.body).toMatchObject({ code: 'm' });
    // Nothing printed, and WARN keeps no platform record: an empty tail.
    expect(r.tail).toEqual([]);
  });

  it('levels with Text are an InvalidParameterValueException', async () => {
    const res = await api('py-api/configuration', { method: 'PUT', body: JSON.stringify({ LoggingConfig: { LogFormat: 'Text', ApplicationLogLevel: 'DEBUG' } }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
    expect(((await res.json()) as { message?: string; Message?: string }).message ?? '').toMatch(/LogFormat JSON/);
  });

  it('UpdateFunctionConfiguration switches a function to JSON at ERROR, and its next instance writes so', { timeout: 60_000 }, async () => {
    const res = await api('py-api/configuration', { method: 'PUT', body: JSON.stringify({ LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'ERROR' } }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, unknown>).LoggingConfig).toEqual({ LogFormat: 'JSON', ApplicationLogLevel: 'ERROR', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/py-api' });
    // The new configuration replaces the instances: poll until an invocation runs with it.
    const r = await waitFor('py-api to run in JSON', async () => {
      const x = await invoke('py-api');
      return x.body.AWS_LAMBDA_LOG_FORMAT === 'JSON' ? x : undefined;
    }, 30_000, 200);
    const docs = parseAll(r.tail);
    expect(appLines(docs)).toEqual([['ERROR', 'py error']]);
    expect(platformTypes(docs)).toEqual(['platform.start', 'platform.runtimeDone', 'platform.report']);
  });
});

describe('`hearth up` as a child process', () => {
  let up: ChildPlatform | undefined;
  afterAll(() => up?.killAll());

  it('serves JSON functions as the in-process platform does', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-logging-up-'));
    writeFunctions(dir, { 'py-json': { ...py(PY), logging: JSON_WARN }, 'node-json': { ...node(NODE), logging: JSON_WARN } });
    up = await startChildPlatform(['--dir', dir, '--port', '0'], 60_000, { ...process.env, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'hearth-logging-cache-')) });
    for (const [name, kept] of [
      ['py-json', [['WARN', 'py warn'], ['ERROR', 'py error'], ['WARN', 'py own json']]],
      ['node-json', [['WARN', 'node warn'], ['ERROR', 'node error']]],
    ] as const) {
      const r = await invoke(name, up.url);
      expect(r.status).toBe(200);
      const docs = parseAll(r.tail);
      expect(appLines(docs)).toEqual(kept);
      expect(docs.every((d) => d.type !== undefined || (d.requestId === r.requestId && typeof d.timestamp === 'string'))).toBe(true);
      expect(platformTypes(docs)).toEqual(['platform.start', 'platform.runtimeDone', 'platform.report']);
    }
  });
});
