// Runtime faults on the embedded platform with real Python runtimes: killed
// mid-invocation, hanging past its timeout, and writing garbage to the
// Runtime API. Each asserts what the caller sees, the retry or dead letter
// of async events, and that the function serves again afterwards.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';
import { FaultLog } from './collector.js';
import { errorType, invokePath, killQuietly, post, terminalRecords, waitFor } from './support.js';

const log = FaultLog.forFile(import.meta.url);
let platform: Awaited<ReturnType<typeof startPlatform>>;
const scratch = mkdtempSync(join(tmpdir(), 'hearth-faults-rt-'));
const pids = new Set<number>();

const VICTIM = `import os, time
def handler(event, context):
    if event.get('pidfile'):
        with open(event['pidfile'], 'w') as f:
            f.write(str(os.getpid()))
        time.sleep(60)
    if event.get('crashOnce') and not os.path.exists(event['crashOnce']):
        open(event['crashOnce'], 'w').close()
        os.kill(os.getpid(), 9)
    return {'ok': True, 'pid': os.getpid()}
`;

const HANGS = `import time
def handler(event, context):
    if event.get('hang'):
        time.sleep(30)
    return 'awake'
`;

// Speaks garbage to the Runtime API beside the real runtime loop, then answers normally.
const GARBAGE = `import os, socket, http.client
def handler(event, context):
    host, port = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')
    statuses = []
    def req(method, path, body=b'', headers=None):
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            c.request(method, path, body=body, headers=headers or {})
            statuses.append(c.getresponse().status)
        except Exception as e:
            statuses.append(type(e).__name__)
        finally:
            c.close()
    req('POST', '/2018-06-01/runtime/invocation/not-a-request-id/response', b'\\x00\\xff garbage')
    req('POST', '/2018-06-01/runtime/invocation/not-a-request-id/error', b'{{{', {'Lambda-Runtime-Function-Error-Type': '\\u00ff' * 3})
    req('GET', '/2018-06-01/runtime/invocation/' + context.aws_request_id + '/response')
    req('PUT', '/2018-06-01/runtime/invocation/next')
    req('POST', '/2018-06-01/runtime/../../etc/passwd', b'x')
    req('POST', '/2018-06-01/runtime/invocation/%zz/response', b'{}')
    req('POST', '/2018-06-01/runtime/invocation/' + 'a' * 5000 + '/error', b'{}')
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(b'\\x16\\x03\\x01 not http at all\\r\\n\\r\\n' + os.urandom(256))
        try:
            statuses.append('raw:' + str(len(s.recv(4096))))
        except Exception as e:
            statuses.append('raw:' + type(e).__name__)
    finally:
        s.close()
    return {'statuses': statuses}
`;

beforeAll(async () => {
  platform = await startPlatform(
    {
      victim: { ...py(VICTIM), timeoutSeconds: 30, async: { maxRetries: 2 } },
      hangs: { ...py(HANGS), timeoutSeconds: 1, async: { maxRetries: 1 } },
      garbage: { ...py(GARBAGE), timeoutSeconds: 10 },
    },
    // No sandbox: the victim writes its pid to a file of the host's for the test to kill it by.
    { retryTimeScale: 0.001, backend: { sandbox: false } },
  );
}, 120_000);

afterAll(async () => {
  for (const p of pids) killQuietly(p);
  await platform?.close();
  log.flush();
});

describe('a runtime killed mid-invocation', () => {
  it('answers the caller with Runtime.ExitError, and the next call starts a fresh runtime', { timeout: 120_000 }, async () => {
    await log.run('fault', 'runtime SIGKILLed mid-invocation (sync)', '200 with X-Amz-Function-Error: Unhandled, errorType Runtime.ExitError; next call succeeds', async (rec) => {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const pidfile = join(scratch, `pid-${i}`);
        const pending = post(platform.url, invokePath('victim'), JSON.stringify({ pidfile }));
        const pid = await waitFor('runtime pid', async () => existsSync(pidfile) && readFileSync(pidfile, 'utf8') !== '' && Number(readFileSync(pidfile, 'utf8')), 30_000, 20);
        pids.add(pid);
        process.kill(pid, 'SIGKILL');
        const a = await pending;
        rec.tried();
        seen.add(`${a.status} ${String(a.headers['x-amz-function-error'])} ${errorType(a) ?? a.text.slice(0, 80)}`);
        expect(a.status).toBe(200);
        expect(a.headers['x-amz-function-error']).toBe('Unhandled');
        expect(errorType(a)).toBe('Runtime.ExitError');
        const next = await post(platform.url, invokePath('victim'), '{}');
        expect(next.status).toBe(200);
        expect(JSON.parse(next.text)).toMatchObject({ ok: true });
        expect((JSON.parse(next.text) as { pid: number }).pid).not.toBe(pid);
      }
      rec.observe(`${[...seen].join(', ')}; the next call succeeded on a new process each time`);
    });
  });

  it('retries an async event whose runtime died, and the retry succeeds', { timeout: 120_000 }, async () => {
    await log.run('fault', 'runtime SIGKILLed mid-invocation (async Event)', '202; the crash counts as a function error and is retried; record succeeded after 2 attempts', async (rec) => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const a = await post(platform.url, invokePath('victim'), JSON.stringify({ crashOnce: join(scratch, `crash-${i}`) }), { 'x-amz-invocation-type': 'Event' });
        expect(a.status).toBe(202);
        ids.push(String(a.headers['x-amzn-requestid']));
        rec.tried();
      }
      rec.accepted(ids.length);
      const records = await terminalRecords(platform.url, ids, 90_000);
      const lost = ids.filter((id) => records.get(id)?.status !== 'succeeded');
      rec.lost(ids.filter((id) => !records.has(id)).length);
      rec.observe(`records: ${[...records.values()].map((r) => `${r.status}/${r.attempts} attempts`).join(', ')}`);
      expect(lost).toEqual([]);
      for (const r of records.values()) expect(r.attempts).toBe(2);
    });
  });
});

describe('a runtime that hangs past its timeout', () => {
  it('answers Sandbox.Timedout at the deadline and serves the next call', { timeout: 120_000 }, async () => {
    await log.run('fault', 'runtime hangs past timeoutSeconds (sync)', '200 with X-Amz-Function-Error: Unhandled, errorType Sandbox.Timedout; next call succeeds', async (rec) => {
      for (let i = 0; i < 3; i++) {
        const a = await post(platform.url, invokePath('hangs'), '{"hang":true}');
        rec.tried();
        expect(a.status).toBe(200);
        expect(a.headers['x-amz-function-error']).toBe('Unhandled');
        expect(errorType(a)).toBe('Sandbox.Timedout');
        const next = await post(platform.url, invokePath('hangs'), '{}');
        expect(next.text).toBe('"awake"');
      }
      rec.observe('200 Unhandled Sandbox.Timedout each time; the next call answered "awake"');
    });
  });

  it('retries a hanging async event maxRetries times, then dead-letters it', { timeout: 120_000 }, async () => {
    await log.run('fault', 'runtime hangs past timeoutSeconds (async Event, maxRetries 1)', '202; 2 attempts, then a dead-letter record with condition RetriesExhausted', async (rec) => {
      const a = await post(platform.url, invokePath('hangs'), '{"hang":true}', { 'x-amz-invocation-type': 'Event' });
      expect(a.status).toBe(202);
      const id = String(a.headers['x-amzn-requestid']);
      rec.tried();
      rec.accepted(1);
      const records = await terminalRecords(platform.url, [id], 90_000);
      const r = records.get(id);
      rec.lost(r ? 0 : 1);
      expect(r).toMatchObject({ status: 'dead-lettered', attempts: 2 });
      const dl = await platform.queue.listDeadLetters('hangs');
      const entry = dl.find((d) => d.requestId === id);
      expect(entry?.record.requestContext.condition).toBe('RetriesExhausted');
      rec.observe(`record ${r?.status} after ${r?.attempts} attempts; dead letter condition ${entry?.record.requestContext.condition}`);
    });
  });
});

describe('a runtime that writes garbage to the Runtime API', () => {
  it('gets 4xx or a closed connection for every garbage request and still answers its caller', { timeout: 60_000 }, async () => {
    await log.run('fault', 'runtime sends garbage to the Runtime API (unknown ids, bad paths, bad methods, raw non-HTTP bytes)', 'agent answers each with 4xx or closes; the invocation still returns the handler result', async (rec) => {
      const a = await post(platform.url, invokePath('garbage'), '{}');
      rec.tried(7);
      expect(a.status).toBe(200);
      expect(a.headers['x-amz-function-error']).toBeUndefined();
      const statuses = (JSON.parse(a.text) as { statuses: Array<number | string> }).statuses;
      rec.observe(`statuses ${statuses.join(', ')}; handler result returned with 200`);
      for (const s of statuses) {
        if (typeof s === 'number') expect(s >= 400 && s < 500, String(s)).toBe(true);
        else expect(s).toMatch(/^raw:|Error|Reset|Closed/);
      }
      const again = await post(platform.url, invokePath('garbage'), '{}');
      expect(again.status).toBe(200);
    });
  });
});
