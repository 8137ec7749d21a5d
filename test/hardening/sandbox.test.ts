// Hostile functions against the embedded platform (issue 16, items 1, 6, 7):
// each reproduces what a function could do as a plain child process of the
// gateway (read the credentials file, other functions' code, YAML and env,
// the gateway's /proc; share /tmp; allocate past memoryMB; leave grandchildren
// behind) and shows that, sandboxed, it cannot. Real bwrap, real cgroups,
// real Python and Node runtimes.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeHash } from '../../src/backends/local/code-store.js';
import { detectMemoryCgroup } from '../../src/sandbox/memory-cgroup.js';
import { probeSandbox } from '../../src/sandbox/support.js';
import { FaultLog } from '../faults/collector.js';
import { errorType, invokePath, post, waitFor } from '../faults/support.js';
import { startChildPlatform } from '../faults/child-platform.js';
import { functionYaml, node, py, startPlatform } from '../helpers/platform.js';

const support = await probeSandbox();
// Under CI a sandbox must be possible (the Makefile installs bubblewrap); elsewhere this suite needs one.
const runHere = support.enabled || process.env.CI === 'true';

const log = FaultLog.forFile(import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'hearth-sandbox-'));
const cacheDir = join(scratch, 'cache');
const credentialsDir = mkdtempSync(join(tmpdir(), 'hearth-sandbox-creds-'));
const credentials = join(credentialsDir, 'credentials.yaml');
const adminKey = `admin-${randomBytes(8).toString('hex')}`;
const otherSecret = `other-secret-${randomBytes(8).toString('hex')}`;
const ownSecret = `own-secret-${randomBytes(8).toString('hex')}`;

const HOSTILE = `import os, subprocess, time
def read(p):
    try:
        with open(p, 'rb') as f:
            return f.read(65536).decode('utf8', 'replace')
    except Exception as e:
        return 'ERR ' + type(e).__name__
def listdir(p):
    try:
        return sorted(os.listdir(p))
    except Exception as e:
        return 'ERR ' + type(e).__name__
def handler(event, context):
    a = event.get('action')
    if a == 'probe':
        status = read('/proc/self/status')
        pids = sorted(int(x) for x in os.listdir('/proc') if x.isdigit())
        return {
            'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),
            'capEff': [l.split()[1] for l in status.splitlines() if l.startswith('CapEff')][0],
            'pids': pids,
            'cmdlines': {str(p): read('/proc/%d/cmdline' % p).replace('\\0', ' ') for p in pids},
            'environs': {str(p): read('/proc/%d/environ' % p).replace('\\0', ' ') for p in pids if p != os.getpid()},
            'ppidCmdline': read('/proc/%d/cmdline' % os.getppid()).replace('\\0', ' '),
            'ppidCwd': listdir('/proc/%d/cwd' % os.getppid()),
            'ps': subprocess.run(['ps', '-eo', 'pid,args'], capture_output=True, text=True).stdout,
            'reads': {p: read(p) for p in event.get('paths', [])},
            'lists': {p: listdir(p) for p in event.get('dirs', [])},
            'env': dict(os.environ),
            'cwd': os.getcwd(),
            'tmpSize': os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize,
        }
    if a == 'write-tmp':
        with open('/tmp/' + event['name'], 'w') as f:
            f.write(event['value'])
        return listdir('/tmp')
    if a == 'list-tmp':
        return listdir('/tmp')
    if a == 'alloc':
        b = b'x' * (1 << 30)
        return len(b)
    if a == 'fork':
        subprocess.Popen(['/bin/sh', '-c', 'sleep 300; : ' + event['marker']], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if event.get('hang'):
            time.sleep(60)
        return 'forked'
    return 'ok'
`;

const OTHER = `SECRET_MARKER = 'code-of-the-other-function'
def handler(event, context):
    return 'other'
`;

const NODE_HOSTILE = `import { readFileSync, readdirSync } from 'node:fs';
const read = (p) => { try { return readFileSync(p, 'utf8'); } catch (e) { return 'ERR ' + e.code; } };
export const handler = async (event) => ({
  uid: process.getuid(),
  capEff: /CapEff:\\s+(\\S+)/.exec(read('/proc/self/status'))[1],
  pids: readdirSync('/proc').filter((x) => /^\\d+$/.test(x)).map(Number),
  pid1: read('/proc/1/cmdline').split('\\0').join(' '),
  reads: Object.fromEntries((event.paths ?? []).map((p) => [p, read(p)])),
  tmp: readdirSync('/tmp'),
});
`;

let platform: Awaited<ReturnType<typeof startPlatform>>;
afterAll(() => log.flush());

/** Host processes whose command line holds `marker`. */
function hostProcessesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function call(fn: string, event: unknown): Promise<{ status: number; body: unknown; errorType: string | undefined; requestId: string }> {
  const a = await post(platform.url, invokePath(fn), JSON.stringify(event));
  return { status: a.status, body: JSON.parse(a.text) as unknown, errorType: errorType(a) ?? (a.headers['x-amz-function-error'] as string | undefined), requestId: String(a.headers['x-amzn-requestid']) };
}

type Probe = {
  uid: number;
  gid: number;
  groups: number[];
  capEff: string;
  pids: number[];
  cmdlines: Record<string, string>;
  environs: Record<string, string>;
  ppidCmdline: string;
  ppidCwd: string[] | string;
  ps: string;
  reads: Record<string, string>;
  lists: Record<string, string[] | string>;
  env: Record<string, string>;
  cwd: string;
  tmpSize: number;
};

describe.skipIf(!runHere)('a hostile function in the sandbox', () => {
  beforeAll(async () => {
    writeFileSync(credentials, `callers:\n  - name: admin\n    key: ${adminKey}\n`);
    chmodSync(credentials, 0o600);
    platform = await startPlatform(
      {
        hostile: { ...py(HOSTILE), timeoutSeconds: 2, memoryMB: 128, ephemeralStorageMB: 600, env: [{ name: 'OWN_SECRET', value: ownSecret }] },
        other: { ...py(OTHER), env: [{ name: 'OTHER_SECRET', value: otherSecret }] },
        nodehostile: node(NODE_HOSTILE),
      },
      { backend: { cacheDir, sandbox: true } },
    );
    // The other function runs meanwhile, so its process is there to be looked for.
    expect((await call('other', {})).body).toBe('other');
  }, 120_000);

  afterAll(async () => {
    await platform?.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(credentialsDir, { recursive: true, force: true });
  });

  it('cannot read the credentials file, another function\'s code, YAML or env, or the gateway\'s /proc', async () => {
    await log.run('fault', 'a function reads the credentials file, other functions\' code/YAML/env and the gateway through /proc', 'nothing of them is visible: paths absent, /proc shows only its own sandbox', async (rec) => {
      const otherCode = join(cacheDir, 'code', codeHash({ 'app.py': OTHER }), 'app.py');
      expect(existsSync(otherCode)).toBe(true);
      const otherYaml = join(platform.dir, 'other.yaml');
      expect(readFileSync(otherYaml, 'utf8')).toContain(otherSecret);
      const r = await call('hostile', { action: 'probe', paths: [credentials, otherCode, otherYaml, '/etc/shadow', '/etc/passwd', `/proc/${process.pid}/cmdline`], dirs: [credentialsDir, scratch, cacheDir, platform.dir, process.cwd(), '/root', '/home'] });
      rec.tried();
      expect(r.status).toBe(200);
      const p = r.body as Probe;
      for (const [path, text] of Object.entries(p.reads)) expect(text, path).toMatch(/^ERR /);
      // Absent, or (a directory made for the interpreter's prefix, e.g. pyenv's under /root) holding only that path.
      for (const [dir, list] of Object.entries(p.lists)) if (typeof list !== 'string') expect(list.filter((e) => e !== '.pyenv'), dir).toEqual([]);
      rec.observe(`directories of the host: ${Object.values(p.lists).filter((l) => typeof l === 'string').length}/${Object.keys(p.lists).length} absent`);
      // Everything it saw (the paths it was told to try are not what it saw).
      const everything = JSON.stringify({ ...p, reads: Object.values(p.reads), lists: Object.values(p.lists) });
      // Nor any host path of the gateway's: bwrap takes its options (what it binds from where) on a pipe, not its command line.
      for (const secret of [adminKey, otherSecret, 'code-of-the-other-function', credentialsDir, platform.dir, scratch, process.cwd(), 'vitest']) expect(everything).not.toContain(secret);
      // Its parent is the sandbox's init (bwrap), whose command line holds no values and whose cwd it cannot enter.
      expect(p.ppidCmdline).toMatch(/^(\/usr\/bin\/)?bwrap /);
      expect(p.ppidCwd).toMatch(/^ERR /);
      expect(p.environs['1']).toMatch(/^ERR /);
      rec.observe(`reads ${Object.keys(p.reads).length}/${Object.keys(p.reads).length} refused; parent ${p.ppidCmdline.split(' ')[0]}; /proc pids ${p.pids.join(',')}`);
    });
  });

  it('sees only its own processes in /proc and ps, as its own uid with no capabilities', async () => {
    await log.run('fault', 'a function lists processes and checks who it is', 'only its sandbox\'s processes; a uid of its own (not 0), no groups, CapEff 0', async (rec) => {
      const p = (await call('hostile', { action: 'probe' })).body as Probe;
      rec.tried();
      // bwrap (1), the runtime, ps and its shell at most: nothing of the gateway or the other function.
      expect(p.pids.length).toBeLessThanOrEqual(4);
      expect(Object.values(p.cmdlines).join('\n')).not.toMatch(/node|vitest|other/);
      const psLines = p.ps.trim().split('\n').slice(1);
      expect(psLines.length).toBeLessThanOrEqual(4);
      expect(p.ps).not.toContain('vitest');
      expect(p.uid).not.toBe(0);
      if (support.perInstanceUser) expect(p.uid).toBeGreaterThanOrEqual(1_800_000_000);
      expect(p.gid).toBe(p.uid);
      expect(p.groups).toEqual([]);
      expect(p.capEff).toBe('0000000000000000');
      const n = (await call('nodehostile', { paths: [credentials, '/proc/1/environ'] })).body as { uid: number; capEff: string; pids: number[]; pid1: string; reads: Record<string, string> };
      expect(n.uid).not.toBe(0);
      expect(n.capEff).toBe('0000000000000000');
      expect(n.pids.length).toBeLessThanOrEqual(3);
      expect(n.pid1).toMatch(/^(\/usr\/bin\/)?bwrap /);
      for (const text of Object.values(n.reads)) expect(text).toMatch(/^ERR /);
      rec.observe(`python uid ${p.uid}, ${psLines.length} ps lines; node uid ${n.uid}; CapEff 0 in both`);
    });
  });

  it('gets Lambda\'s view: /var/task, its own environment only, a private /tmp of ephemeralStorageMB', async () => {
    await log.run('fault', 'a function writes to /tmp for another to read', 'the other function does not see it; /tmp is ephemeralStorageMB in size', async (rec) => {
      const p = (await call('hostile', { action: 'probe' })).body as Probe;
      expect(p.cwd).toBe('/var/task');
      expect(p.env.LAMBDA_TASK_ROOT).toBe('/var/task');
      expect(p.env.OTHER_SECRET).toBeUndefined();
      // Its own variables are its environment, on no command line (bwrap, its init, would show one to every process inside).
      expect(p.env.OWN_SECRET).toBe(ownSecret);
      expect(JSON.stringify(p.cmdlines)).not.toContain(ownSecret);
      expect(p.ps).not.toContain(ownSecret);
      expect(p.tmpSize).toBe(600 * 1024 * 1024);
      const name = `planted-${randomBytes(4).toString('hex')}`;
      expect((await call('hostile', { action: 'write-tmp', name, value: 'x' })).body).toContain(name);
      rec.tried();
      const seen = (await call('nodehostile', {})).body as { tmp: string[] };
      expect(seen.tmp).not.toContain(name);
      expect(existsSync(join('/tmp', name))).toBe(false);
      rec.observe(`written in one sandbox's /tmp, absent from the other's and the host's; /tmp ${p.tmpSize / 2 ** 20} MiB`);
    });
  });

  it('answers a 1 GB allocation under memoryMB 128 with Runtime.OutOfMemory, and the next call succeeds', async () => {
    await log.run('fault', 'a function allocates 1 GB under memoryMB: 128', 'Runtime.OutOfMemory, as Lambda words it; the next call runs in a fresh runtime', async (rec) => {
      expect(detectMemoryCgroup()).toBeDefined();
      const r = await call('hostile', { action: 'alloc' });
      rec.tried();
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${r.requestId} Error: Runtime exited with error: signal: killed` });
      const next = await call('hostile', { action: 'noop' });
      expect(next.body).toBe('ok');
      rec.observe(`${(r.body as { errorType: string }).errorType}; next call ${JSON.stringify(next.body)}`);
    });
  }, 60_000);

  it('kills a setsid\'d grandchild with its invocation\'s timeout, and with its instance', async () => {
    await log.run('fault', 'a function forks a setsid\'d grandchild, then overruns its timeout / its instance stops', 'the grandchild dies with the timeout\'s kill and with the instance', async (rec) => {
      const onTimeout = `grandchild-${randomBytes(6).toString('hex')}`;
      const r = await call('hostile', { action: 'fork', marker: onTimeout, hang: true });
      rec.tried();
      expect(r.errorType).toBe('Sandbox.Timedout');
      await waitFor('the timed-out invocation\'s grandchild gone', async () => hostProcessesWith(onTimeout).length === 0, 5_000, 50);
      const onStop = `grandchild-${randomBytes(6).toString('hex')}`;
      expect((await call('hostile', { action: 'fork', marker: onStop })).body).toBe('forked');
      // It outlives the handler (as on Lambda, until the sandbox goes)…
      await waitFor('the grandchild running', async () => hostProcessesWith(onStop).length > 0, 5_000, 50);
      rec.tried();
      // …and dies with the instance.
      await platform.backend.remove('hostile');
      await waitFor('the stopped instance\'s grandchild gone', async () => hostProcessesWith(onStop).length === 0, 5_000, 50);
      rec.observe('gone after the timeout\'s kill and after the instance stopped');
    });
  }, 60_000);

  it('leaves no process, cgroup or staging directory behind after close', async () => {
    await platform.close();
    const cg = detectMemoryCgroup();
    if (cg !== undefined) expect(readdirSync(cg.root).filter((d) => d.startsWith(`hearth-${process.pid}-`))).toEqual([]);
    const staging = join(cacheDir, 'staging');
    if (existsSync(staging)) expect(readdirSync(staging).filter((d) => d.startsWith(`${process.pid}-`))).toEqual([]);
  });
});

describe.skipIf(!runHere)('a hostile function when the gateway dies', () => {
  it('loses its setsid\'d grandchild with the gateway (SIGKILL)', { timeout: 120_000 }, async () => {
    await log.run('fault', 'a function forks a setsid\'d grandchild, then the gateway is SIGKILLed', 'the whole sandbox dies with the gateway', async (rec) => {
      const dir = mkdtempSync(join(tmpdir(), 'hearth-sandbox-up-'));
      writeFileSync(join(dir, 'hostile.yaml'), functionYaml('hostile', { ...py(HOSTILE), timeoutSeconds: 10 }));
      const up = await startChildPlatform(['--dir', dir, '--port', '0']);
      try {
        const marker = `grandchild-${randomBytes(6).toString('hex')}`;
        const a = await post(up.url, invokePath('hostile'), JSON.stringify({ action: 'fork', marker }));
        expect(a.text).toBe('"forked"');
        await waitFor('the grandchild running', async () => hostProcessesWith(marker).length > 0, 5_000, 50);
        rec.tried();
        await up.crash();
        await waitFor('the grandchild gone with the gateway', async () => hostProcessesWith(marker).length === 0, 5_000, 50);
        rec.observe('gone within 5 s of the gateway\'s SIGKILL');
      } finally {
        up.killAll();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
