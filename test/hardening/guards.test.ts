// The guards: inline code and environment size limits in the schema, the
// per-gateway cap on concurrent invocations (--max-concurrent-invocations),
// body size limits enforced while the body streams in, and hearth up's
// refusals of unsafe or contradictory flags.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';
import { upCommand } from '../../src/cli/up.js';
import { py, startPlatform } from '../helpers/platform.js';
import { FaultLog } from '../faults/collector.js';
import { invokePath, killQuietly, post, waitFor } from '../faults/support.js';
import { standInGateway } from './stand-in.js';

const log = FaultLog.forFile(import.meta.url);
afterAll(() => log.flush());

const doc = (spec: Record<string, unknown>) => ({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'g' }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, ...spec } });

describe('schema limits', () => {
  it('refuses inline code over 512 KB and environments over 4 KB, naming the field', async () => {
    await log.run('bad input', 'Function with inline code over 512 KB, or environment over 4 KB (one value, or many small ones)', 'invalid, problem at spec.code.inline / spec.env', async (rec) => {
      const code = validateFunction(doc({ code: { inline: { 'a.py': 'x'.repeat(LIMITS.inlineCodeBytes / 2), 'b.py': 'x'.repeat(LIMITS.inlineCodeBytes / 2) } } }));
      const oneBig = validateFunction(doc({ env: [{ name: 'BIG', value: 'v'.repeat(LIMITS.environmentBytes) }] }));
      const many = validateFunction(doc({ env: Array.from({ length: 100 }, (_, i) => ({ name: `V${i}`, value: 'v'.repeat(40) })) }));
      const fits = validateFunction(doc({ env: [{ name: 'OK', value: 'v'.repeat(LIMITS.environmentBytes - 2) }] }));
      rec.tried(4);
      expect(code.ok ? [] : code.problems.map((p) => p.path)).toContain('spec.code.inline');
      expect(oneBig.ok ? [] : oneBig.problems.map((p) => p.path)).toContain('spec.env');
      expect(many.ok ? [] : many.problems.map((p) => p.path)).toContain('spec.env');
      expect(fits.ok).toBe(true);
      rec.observe('refused with problems at spec.code.inline and spec.env; exactly 4 KB accepted');
    });
  });
});

describe('body size limits', () => {
  let app: FastifyInstance;
  let port: number;
  const limits = { syncBytes: 256 * 1024, asyncBytes: 64 * 1024 };

  beforeAll(async () => {
    app = await standInGateway({ limits });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
  });
  afterAll(async () => app?.close());

  /**
   * Streams a chunked body of up to `max` bytes, 16 KB at a time, until the
   * server answers. Past twice the limit it stops sending but never ends the
   * body: the answer must still come before the body completes. Chunks in
   * flight when the gateway answers are what its lingering close
   * (src/gateway/lingering-close.ts) is for: without it they make the
   * gateway's kernel reset the connection, discarding the unread 413 here.
   */
  function streamChunked(path: string, max: number): Promise<{ head: string; written: number }> {
    const pauseAfter = 2 * limits.syncBytes;
    return new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port });
      let head = '';
      let written = 0;
      let answered = false;
      // The server may close its side after answering: a failed write then is expected, the answer is what counts.
      sock.on('error', (err: NodeJS.ErrnoException) => (answered || err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
      sock.on('data', (d) => {
        head += d.toString('latin1');
        if (!answered && head.includes('\r\n\r\n')) {
          answered = true;
          sock.destroy();
          resolve({ head, written });
        }
      });
      sock.on('close', () => (answered ? undefined : resolve({ head, written })));
      sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const next = () => {
        if (answered || sock.destroyed || written >= pauseAfter) return;
        if (written >= max) {
          sock.write('0\r\n\r\n');
          return;
        }
        written += chunk.length;
        // Each chunk waits for the previous one to be flushed, and a little more: a slow client.
        sock.write(`${chunk.length.toString(16)}\r\n`);
        sock.write(chunk);
        sock.write('\r\n', () => setTimeout(next, 5));
      };
      next();
    });
  }

  it('answers 413 while a chunked body without Content-Length is still streaming', async () => {
    await log.run('bad input', 'chunked body without Content-Length, sent slowly, growing past the body limit', '413 RequestTooLargeException before the body completes', async (rec) => {
      const max = 16 * limits.syncBytes;
      for (const path of [invokePath('echo'), '/fn/echo/upload']) {
        const { head, written } = await streamChunked(path, max);
        rec.tried();
        expect(head).toMatch(/^HTTP\/1\.1 413/);
        expect(written).toBeLessThan(max);
        rec.observe(`${path}: 413 after ${Math.round(written / 1024)} KB of ${max / 1024} KB`);
      }
    });
  });

  it('answers 413 at once to a declared Content-Length over the limit, and per invocation type', async () => {
    await log.run('bad input', 'Content-Length over the limit; Event payload over the async limit', '413 RequestTooLargeException (JSON)', async (rec) => {
      const declared = await new Promise<string>((resolve, reject) => {
        const sock = connect({ host: '127.0.0.1', port });
        let head = '';
        sock.on('error', reject);
        sock.on('data', (d) => {
          head += d.toString('latin1');
          if (head.includes('\r\n\r\n')) {
            sock.destroy();
            resolve(head);
          }
        });
        // Headers only: the answer must not wait for a body that is never sent.
        sock.write(`POST ${invokePath('echo')} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * limits.syncBytes}\r\n\r\n`);
      });
      expect(declared).toMatch(/^HTTP\/1\.1 413/);
      expect(declared.toLowerCase()).toContain('x-amzn-errortype: requesttoolargeexception');
      const asyncTooBig = await app.inject({ method: 'POST', url: invokePath('echo'), headers: { 'x-amz-invocation-type': 'Event' }, payload: Buffer.alloc(limits.asyncBytes + 1, 0x20) });
      expect(asyncTooBig.statusCode).toBe(413);
      expect(asyncTooBig.headers['x-amzn-errortype']).toBe('RequestTooLargeException');
      rec.tried(2);
      rec.observe('413 RequestTooLargeException for both, the first before any body byte');
    });
  });
});

describe('concurrent invocations per gateway', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  const scratch = mkdtempSync(join(tmpdir(), 'hearth-guards-'));
  const pids: number[] = [];

  beforeAll(async () => {
    platform = await startPlatform(
      { hold: { ...py('import os, time\ndef handler(event, context):\n    if event.get("pidfile"):\n        open(event["pidfile"], "w").write(str(os.getpid()))\n        time.sleep(event.get("sleep", 0))\n    return "ok"\n'), timeoutSeconds: 20, scaling: { minInstances: 2, maxInstances: 2 } } },
      // No sandbox: the function writes its pid to a file of the host's for the test to kill it by.
      { maxConcurrentInvocations: 1, backend: { sandbox: false } },
    );
  }, 120_000);
  afterAll(async () => {
    for (const p of pids) killQuietly(p);
    await platform?.close();
  });

  it('throttles beyond --max-concurrent-invocations with 429 ConcurrentInvocationLimitExceeded', { timeout: 60_000 }, async () => {
    await log.run('fault', 'more concurrent invocations than the gateway cap (maxConcurrentInvocations 1, 2 warm instances)', '429 TooManyRequestsException, Reason ConcurrentInvocationLimitExceeded; served again once the first finishes', async (rec) => {
      const pidfile = join(scratch, 'pid');
      const first = post(platform.url, invokePath('hold'), JSON.stringify({ pidfile, sleep: 3 }));
      pids.push(await waitFor('first invocation running', async () => existsSync(pidfile) && Number(readFileSync(pidfile, 'utf8')) > 0 && Number(readFileSync(pidfile, 'utf8')), 30_000, 20));
      const second = await post(platform.url, invokePath('hold'), '{}');
      rec.tried();
      expect(second.status).toBe(429);
      expect(second.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
      expect(JSON.parse(second.text)).toMatchObject({ Reason: 'ConcurrentInvocationLimitExceeded' });
      expect((await first).status).toBe(200);
      expect((await post(platform.url, invokePath('hold'), '{}')).status).toBe(200);
      rec.observe('429 ConcurrentInvocationLimitExceeded for the second; 200 after the first finished');
    });
  });
});

describe('hearth up flags', () => {
  it('refuses unsafe or contradictory flags before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-up-flags-'));
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => void errors.push(a.join(' '));
    try {
      expect(await upCommand(['--dir', dir, '--host', '0.0.0.0'])).toBe(2);
      expect(await upCommand(['--dir', dir, '--credentials', join(dir, 'missing.yaml'), '--no-auth'])).toBe(2);
      expect(await upCommand(['--dir', dir, '--credentials', join(dir, 'missing.yaml')])).toBe(2);
      expect(await upCommand(['--dir', dir, '--max-concurrent-invocations', '0'])).toBe(2);
    } finally {
      console.error = orig;
    }
    expect(errors[0]).toContain('authentication is required');
    expect(errors[1]).toContain('contradict');
    expect(errors[2]).toContain('cannot read credentials file');
    expect(errors[3]).toContain('--max-concurrent-invocations');
  });
});
