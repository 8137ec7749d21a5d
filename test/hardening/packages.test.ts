// Hostile deployment packages, tried as an attacker would: `hearth deploy`
// must refuse each before anything is published (the same checks the
// platform makes when it unpacks), a package path that is not a regular
// file must not hang the platform's start-up, a function still being
// prepared must answer 502 ResourceNotReadyException (not a misleading
// 429), and no 502 may show a caller the server's file paths.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, constants, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateRawSync } from 'node:zlib';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCommand } from '../../src/cli/deploy.js';
import { startEmbedded, type EmbeddedPlatform } from '../../src/platform/embedded.js';
import { LAMBDA_LIMITS } from '../../src/packages/limits.js';
import { FaultLog } from '../faults/collector.js';
import { invokePath, post, waitFor } from '../faults/support.js';
import { zipBytes, type RawEntry } from '../packages/zip-bytes.js';

const log = FaultLog.forFile(import.meta.url);
afterAll(() => log.flush());

const scratch = mkdtempSync(join(tmpdir(), 'hearth-hostile-packages-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const APP = 'def handler(event, context):\n    return "ok"\n';
const fnDoc = (name: string, packagePath: string, layers: string[] = []) =>
  stringify({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'python3.12', handler: 'app.handler', code: { package: { path: packagePath } }, ...(layers.length > 0 ? { layers: layers.map((path) => ({ path })) } : {}) },
  });

/** Runs `hearth deploy` in this process, capturing what it prints. */
async function deploy(...argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const origErr = console.error;
  const origLog = console.log;
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  try {
    // A deploy that hangs (a FIFO read) must fail the case, not the whole file.
    const code = await Promise.race([deployCommand(argv), new Promise<number>((_, reject) => setTimeout(() => reject(new Error('hearth deploy hung')), 15_000).unref())]);
    return { code, stderr: err.join('\n'), stdout: out.join('\n') };
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
}

/** A case: a directory with the package (written by `make`) and fn.yaml naming it; deploys to an empty functions dir. */
async function deployCase(name: string, make: (dir: string) => string | { code: string; layers: string[] }): Promise<{ code: number; stderr: string; published: string[] }> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const made = make(dir);
  const code = typeof made === 'string' ? made : made.code;
  const layers = typeof made === 'string' ? [] : made.layers;
  writeFileSync(join(dir, 'fn.yaml'), fnDoc(name, code, layers));
  const dest = join(dir, 'functions');
  const r = await deploy('--dir', dest, join(dir, 'fn.yaml'));
  let published: string[] = [];
  try {
    published = readdirSync(dest);
  } catch {
    // Never created: nothing published.
  }
  return { code: r.code, stderr: r.stderr, published };
}

const zipFile = (entries: RawEntry[]) => (dir: string) => {
  writeFileSync(join(dir, 'pkg.zip'), zipBytes(entries));
  return 'pkg.zip';
};

/** Unblocks a reader stuck opening a FIFO (the code before the fix), so a failed run does not hold a thread forever. */
function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // No reader waiting.
  }
}

describe('hearth deploy checks a package as the platform will', () => {
  const cases: Array<{ name: string; attack: string; make: (dir: string) => string | { code: string; layers: string[] }; reason: RegExp }> = [
    { name: 'zip-slip', attack: 'an entry ../../evil.txt (zip-slip)', make: zipFile([{ name: 'app.py', data: APP }, { name: '../../evil.txt', data: 'pwned' }]), reason: /\(path-traversal\).*\.\.\/\.\.\/evil\.txt/ },
    {
      name: 'bomb-declared',
      attack: 'a zip bomb: one small entry declaring 300 MB',
      make: zipFile([{ name: 'app.py', data: APP }, { name: 'bomb.bin', data: 'x', declaredSize: 300 * 1024 * 1024 }]),
      reason: new RegExp(`\\(unzipped-too-large\\).*bomb\\.bin.*${LAMBDA_LIMITS.unzippedBytes}`),
    },
    {
      name: 'bomb-ratio',
      attack: 'a zip bomb: 8 MB of zeros inflated from 8 KB, declaring 100 bytes',
      make: (dir) => {
        const zeros = Buffer.alloc(8 * 1024 * 1024);
        writeFileSync(join(dir, 'pkg.zip'), zipBytes([{ name: 'app.py', data: APP }, { name: 'liar.bin', deflated: { bytes: deflateRawSync(zeros), size: 100, crc: crc32(zeros) } }]));
        return 'pkg.zip';
      },
      reason: /\(unzipped-too-large\)/,
    },
    {
      name: 'not-zip',
      attack: 'a file that is not a ZIP',
      make: (dir) => {
        writeFileSync(join(dir, 'pkg.zip'), 'def handler(event, context): return 1\n'.repeat(10));
        return 'pkg.zip';
      },
      reason: /\(not-a-zip\).*pkg\.zip is not a ZIP file/,
    },
    { name: 'duplicate', attack: 'two entries named app.py', make: zipFile([{ name: 'app.py', data: APP }, { name: 'app.py', data: 'import os\n' }]), reason: /\(duplicate-entry\).*app\.py/ },
    { name: 'long-name', attack: 'an entry named with 300 characters', make: zipFile([{ name: 'app.py', data: APP }, { name: `${'n'.repeat(300)}.py`, data: 'x' }]), reason: /\(name-too-long\).*255 bytes/ },
    {
      name: 'long-path',
      attack: 'an entry path of 40 directories of 100 characters (4 KB)',
      make: zipFile([{ name: 'app.py', data: APP }, { name: `${Array.from({ length: 40 }, () => 'd'.repeat(100)).join('/')}/x.py`, data: 'x' }]),
      reason: /\(name-too-long\).*1024 bytes/,
    },
    { name: 'fifo-entry', attack: 'an entry whose mode is a FIFO', make: zipFile([{ name: 'app.py', data: APP }, { name: 'pipe', mode: 0o010644 }]), reason: /\(special-file\).*pipe.*FIFO/ },
    { name: 'device-entry', attack: 'an entry whose mode is a character device', make: zipFile([{ name: 'app.py', data: APP }, { name: 'zero', mode: 0o020644 }]), reason: /\(special-file\).*zero.*device/ },
    { name: 'symlink-out', attack: 'a symlink entry pointing at /etc/passwd', make: zipFile([{ name: 'app.py', data: APP }, { name: 'passwd', data: '/etc/passwd', mode: 0o120777 }]), reason: /\(symlink-escape\).*passwd/ },
    {
      name: 'layer-slip',
      attack: 'a layer with a zip-slip entry',
      make: (dir) => {
        writeFileSync(join(dir, 'pkg.zip'), zipBytes([{ name: 'app.py', data: APP }]));
        writeFileSync(join(dir, 'layer.zip'), zipBytes([{ name: 'python/../../../evil.py', data: 'x' }]));
        return { code: 'pkg.zip', layers: ['layer.zip'] };
      },
      reason: /layers\[0\].*\(path-traversal\)/,
    },
    {
      name: 'fifo-path',
      attack: 'code.package.path naming a FIFO',
      make: (dir) => {
        execFileSync('mkfifo', [join(dir, 'pkg.zip')]);
        return 'pkg.zip';
      },
      reason: /\(special-file\).*pkg\.zip is a FIFO, not a regular file/,
    },
    {
      name: 'device-path',
      attack: 'code.package.path a symlink to /dev/zero',
      make: (dir) => {
        symlinkSync('/dev/zero', join(dir, 'pkg.zip'));
        return 'pkg.zip';
      },
      reason: /\(special-file\).*pkg\.zip is a character device, not a regular file/,
    },
  ];

  it.each(cases)('refuses $attack: non-zero exit, the reason, nothing published', async ({ name, attack, make, reason }) => {
    await log.run('bad input', `hearth deploy of a package with ${attack}`, 'exit 1 naming the reason; nothing published', async (rec) => {
      let r: Awaited<ReturnType<typeof deployCase>> | undefined;
      try {
        r = await deployCase(name, make);
      } finally {
        releaseFifo(join(scratch, name, 'pkg.zip'));
      }
      rec.tried();
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toContain(`${name}: `);
      expect(r.stderr).not.toMatch(/ENAMETOOLONG|EISDIR|Error: /);
      expect(r.published).toEqual([]);
      rec.observe(`exit ${r.code}: ${r.stderr.replace(/\/[^\s]*\//g, '').slice(0, 160)}`);
    });
  });

  it('still publishes a sound package with a symlink that stays inside', async () => {
    const r = await deployCase('sound', zipFile([{ name: 'app.py', data: APP }, { name: 'lib/', mode: 0o040755 }, { name: 'lib/a.py', data: 'A = 1\n' }, { name: 'lib/b.py', data: 'a.py', mode: 0o120777 }]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.published.sort()).toEqual(['sound.yaml', 'sound.zip']);
  });

  it('publishes nothing of any document when one of them is refused', async () => {
    const dir = join(scratch, 'two-docs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'good.zip'), zipBytes([{ name: 'app.py', data: APP }]));
    writeFileSync(join(dir, 'bad.zip'), zipBytes([{ name: 'app.py', data: APP }, { name: 'app.py', data: APP }]));
    writeFileSync(join(dir, 'fns.yaml'), `${fnDoc('good', 'good.zip')}---\n${fnDoc('bad', 'bad.zip')}`);
    const dest = join(dir, 'functions');
    const r = await deploy('--dir', dest, join(dir, 'fns.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad: code\.package: .*\(duplicate-entry\)/);
    expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
  });

  it('exits 1 from the real command line for a zip-slip archive', { timeout: 60_000 }, async () => {
    const dir = join(scratch, 'cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pkg.zip'), zipBytes([{ name: 'app.py', data: APP }, { name: '../../evil.txt', data: 'pwned' }]));
    writeFileSync(join(dir, 'fn.yaml'), fnDoc('cli', 'pkg.zip'));
    const dest = join(dir, 'functions');
    const r = await promisify(execFile)('node_modules/.bin/tsx', ['src/cli/main.ts', 'deploy', '--dir', dest, join(dir, 'fn.yaml')]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(path-traversal\)/);
    expect(existsSync(dest)).toBe(false);
  });
});

describe('the platform with hostile package paths', () => {
  let platform: EmbeddedPlatform | undefined;
  let dir: string;
  const fifo = () => join(dir, 'fifo.zip');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-hostile-fns-'));
    execFileSync('mkfifo', [join(dir, 'fifo.zip')]);
    writeFileSync(join(dir, 'text.zip'), 'not a zip at all, only text long enough to look like something\n');
    writeFileSync(join(dir, 'fifo.yaml'), fnDoc('fifo', 'fifo.zip'));
    writeFileSync(join(dir, 'text.yaml'), fnDoc('text', 'text.zip'));
    writeFileSync(join(dir, 'ok.yaml'), stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'ok' }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': APP } } } }));
  });
  afterAll(async () => {
    releaseFifo(fifo());
    await platform?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts at once beside a FIFO as code.package.path, serves the others, and answers the FIFO function with the reason', { timeout: 60_000 }, async () => {
    await log.run('bad input', 'code.package.path naming a FIFO (a read would block forever)', 'start-up not held; other functions serve; 502 ResourceNotReadyException naming the reason', async (rec) => {
      // Its own cache: packages are cached by digest, and another run's would be found ready.
      const started = startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: process.env.HEARTH_TEST_LOG ?? 'silent' }), backend: { cacheDir: join(dir, '.cache') } });
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('start-up hung on the FIFO')), 20_000).unref());
      try {
        platform = await Promise.race([started, timeout]);
      } finally {
        // Before the fix the read blocks: release it so the rest of the file can run.
        releaseFifo(fifo());
      }
      rec.tried();
      expect((await post(platform.url, invokePath('ok'), '{}')).status).toBe(200);
      const a = await post(platform.url, invokePath('fifo'), '{}');
      expect(a.status).toBe(502);
      expect(a.headers['x-amzn-errortype']).toBe('ResourceNotReadyException');
      expect(JSON.parse(a.text).message).toMatch(/fifo\.zip is a FIFO, not a regular file/);
      rec.observe(`start-up not held; ok 200; fifo ${a.status} ${JSON.parse(a.text).message as string}`);
    });
  });

  it('shows callers no server path in a 502', { timeout: 30_000 }, async () => {
    await log.run('bad input', 'a refused package (not a ZIP) invoked: the 502 message', 'the reason with the package file name, no absolute server path', async (rec) => {
      if (platform === undefined) throw new Error('the platform did not start');
      for (const fn of ['text', 'fifo']) {
        const a = await post(platform.url, invokePath(fn), '{}');
        rec.tried();
        expect(a.status).toBe(502);
        const message = JSON.parse(a.text).message as string;
        expect(message).toContain(`${fn}.zip`);
        expect(message).not.toContain(dir);
        expect(message).not.toMatch(/(^|[\s(:])\/[^\s/]+\//);
        if (fn === 'text') rec.observe(message);
      }
    });
  });

  it('answers a call to a function still being prepared past the wait with 502 ResourceNotReadyException, not 429', { timeout: 90_000 }, async () => {
    await log.run('fault', 'a call to a function whose preparation (a slow package download) outlasts the 11 s wait', '502 ResourceNotReadyException "is being prepared"; served once prepared', async (rec) => {
      if (platform === undefined) throw new Error('the platform did not start');
      const zip = zipBytes([{ name: 'app.py', data: `${APP}# ${randomUUID()}\n` }]);
      const sha = createHash('sha256').update(zip).digest('hex');
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const server: Server = createServer((_req, res) => {
        void released.then(() => res.end(zip));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as { port: number }).port;
        writeFileSync(
          join(dir, 'slow.yaml'),
          stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'slow' }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { package: { url: `http://127.0.0.1:${port}/slow.zip`, sha256: sha } } } }),
        );
        const p = platform;
        await waitFor('slow in the catalog', async () => p.catalog.get('slow') !== undefined, 10_000, 50);
        const a = await post(p.url, invokePath('slow'), '{}');
        rec.tried();
        expect(a.status, a.text).toBe(502);
        expect(a.headers['x-amzn-errortype']).toBe('ResourceNotReadyException');
        expect(JSON.parse(a.text).message).toMatch(/function slow is being prepared \(.*code\.package.*\)/);
        rec.observe(`${a.status} ${JSON.parse(a.text).message as string}`);
        release();
        const b = await waitFor('slow served', async () => {
          const r = await post(p.url, invokePath('slow'), '{}');
          return r.status === 200 ? r : undefined;
        }, 30_000, 200);
        expect(b.text).toBe('"ok"');
        rec.observe('200 once prepared');
      } finally {
        release();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
  });
});
