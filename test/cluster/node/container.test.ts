// The process node's container runner stopping real containers as the
// kubelet does: preStop hooks (httpGet, exec, sleep) before SIGTERM and
// inside the grace period, the 2 s SIGTERM floor, SIGKILL when the grace runs
// out, a failing hook logged and recorded without stopping the termination,
// the hook on a liveness kill, a pod's containers stopped together with native
// sidecars last in reverse order, a shorter grace cutting a termination under
// way, and a stop that lands while the container is still being started; and
// starting them: app containers one after another, each after the one
// before has run its postStart hook, a failed hook killing its container.
//
// Containers are real processes launched the node's way (nsenter, bwrap over
// the machine's root, setpriv, a memory cgroup). Their sandbox holds only a UTS
// namespace: they share this machine's network namespace and listen on
// loopback, so no bridge is needed. Needs root, util-linux and bubblewrap, as the node does.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPorts } from '../ports.js';
import { killTree, MEMORY_ROOT, memoryCgroupAvailable } from '../../../src/sandbox/memory-cgroup.js';
import { ContainerRunner, startAppContainers, stopContainers, type PodContext } from './container.js';
import { KubeRest } from './kube-rest.js';
import type { Sandbox } from './network.js';
import { runcHome } from './env.js';
import { Cutoff } from './termination.js';
import { VolumeBuilder } from './volumes.js';
import { alive } from '../processes.js';

const tools = ['nsenter', 'unshare', 'setpriv', 'bwrap', 'python3'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const able = process.getuid?.() === 0 && tools;
if (!able && process.env.CI === 'true') throw new Error('the container runner tests need root, util-linux (nsenter, unshare, setpriv), bubblewrap and python3 under CI=true');

const IMAGE = 'docker.io/library/redis:7';

/** Notes what happens, with the time, in one file all containers share. */
const PROGRAM = `
import os, signal, sys, time, threading, http.server
events, name = os.environ['EVENTS'], os.environ['NAME']
def note(msg):
    with open(events, 'a') as f:
        f.write('%.3f %s %s\\n' % (time.time(), name, msg))
class Hook(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        note('hook-start %s %s %s' % (self.path, self.headers.get('X-Hook', '-'), self.headers.get('User-Agent', '-')))
        time.sleep(float(os.environ.get('HOOK_SECONDS', '0')))
        note('hook-end')
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
if os.environ.get('PORT'):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
def term(*_):
    note('sigterm')
    if os.environ.get('IGNORE_TERM'):
        return
    time.sleep(float(os.environ.get('EXIT_DELAY', '0')))
    note('exit')
    os._exit(0)
signal.signal(signal.SIGTERM, term)
note('up %d' % os.getpid())
while True:
    time.sleep(3600)
`;

/** Writes what a container sees of itself to $FACTS, then exits with $CODE, fills memory ($THEN=oom) or sleeps. */
const FACTS_PROGRAM = `
import json, os, sys, time
def can_write(path):
    try:
        open(path, 'w').close()
        os.unlink(path)
        return True
    except OSError as e:
        return e.strerror
status = dict(l.split(':', 1) for l in open('/proc/self/status'))
facts = {
    'pid': os.getpid(), 'parent': open('/proc/%d/comm' % os.getppid()).read().strip(),
    'uid': os.getuid(), 'gid': os.getgid(), 'groups': sorted(os.getgroups()),
    'caps': status['CapEff'].strip(), 'bounding': status['CapBnd'].strip(), 'nnp': status['NoNewPrivs'].strip(),
    'env': dict(os.environ), 'cwd': os.getcwd(), 'mnt': os.readlink('/proc/self/ns/mnt'),
    'root': can_write('/hearth-container-test-%d' % os.getpid()),
    'volume': can_write(os.environ['VOLUME'] + '/x') if 'VOLUME' in os.environ else None,
}
with open(os.environ['FACTS'] + '.tmp', 'w') as f:
    json.dump(facts, f)
os.rename(os.environ['FACTS'] + '.tmp', os.environ['FACTS'])
then = os.environ.get('THEN', 'sleep')
if then == 'exit':
    sys.exit(int(os.environ['CODE']))
if then == 'oom':
    hog = b'x' * (512 << 20)
time.sleep(3600)
`;

interface Facts {
  pid: number;
  parent: string;
  uid: number;
  gid: number;
  groups: number[];
  caps: string;
  bounding: string;
  nnp: string;
  env: Record<string, string>;
  cwd: string;
  mnt: string;
  root: true | string;
  volume: true | string | null;
}

/** An exec hook that notes itself (as the container's user, with its env) and may take a while. */
function execHook(seconds = 0): string[] {
  const note = (what: string): string => `echo "$(date +%s.%N) $NAME ${what}" >> "$EVENTS"`;
  return ['sh', '-c', `${note('exec-hook-start uid=$(id -u) greeting=$GREETING')}; sleep ${seconds}; ${note('exec-hook-end')}`];
}

interface Event {
  t: number;
  who: string;
  what: string;
}

let dir = '';
let events = '';
let cgroupRoot: string | undefined;
let holder: ChildProcess | undefined;
let sandbox: Sandbox;
const logs: string[] = [];
const recorded: string[] = [];

/** A fresh events file every container may append to, whatever its user (umask would narrow a mode given on creation). */
function newEvents(name: string): void {
  events = join(dir, `${name}.events`);
  writeFileSync(events, '');
  chmodSync(events, 0o666);
}

function readEvents(): Event[] {
  if (!existsSync(events)) return [];
  return readFileSync(events, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [t, who, ...what] = l.split(' ');
      return { t: Number(t) * 1000, who: who ?? '', what: what.join(' ') };
    });
}

function first(who: string, what: string): Event {
  const e = readEvents().find((x) => x.who === who && x.what.startsWith(what));
  if (e === undefined) throw new Error(`no "${what}" from ${who} in:\n${readFileSync(events, 'utf8')}`);
  return e;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events:\n${existsSync(events) ? readFileSync(events, 'utf8') : ''}\nlog:\n${logs.join('\n')}`);
    await sleep(50);
  }
}

function container(name: string, extra: Partial<V1Container> & { env?: { name: string; value: string }[] } = {}): V1Container {
  return {
    name,
    image: IMAGE,
    command: ['python3', '-u', '-c', PROGRAM],
    ...extra,
    env: [{ name: 'EVENTS', value: events }, { name: 'NAME', value: name }, ...(extra.env ?? [])],
  };
}

function runners(pod: V1Pod, volumeDirs = new Map<string, string>()): { apps: ContainerRunner[]; inits: ContainerRunner[] } {
  const ctx: PodContext = {
    facts: { pod, podIp: '127.0.0.1', hostIp: '127.0.0.1' },
    sandbox,
    podDir: dir,
    podLogsDir: dir,
    volumeDirs,
    builder: new VolumeBuilder(new KubeRest('https://127.0.0.1:1', '', ''), { pod, podIp: '127.0.0.1', hostIp: '127.0.0.1' }),
    svc: { kubernetesServiceHost: '127.0.0.1', kubernetesServicePort: 443 },
    resolvConf: join(dir, 'resolv.conf'),
    hostsFile: join(dir, 'hosts'),
    cgroupRoot,
    checkoutMount: join(dir, 'checkout'),
    createdTargets: new Set(),
    restartPolicy: 'Always',
    backoffBaseMs: 200,
    probeEpochMs: Date.now(),
    onChange: () => undefined,
    log: (m) => logs.push(m),
    recordEvent: (fieldPath, type, reason, message) => recorded.push(`${fieldPath} ${type} ${reason} ${message}`),
  };
  const spec = pod.spec ?? { containers: [] };
  return {
    apps: spec.containers.map((c) => new ContainerRunner(c, 'main', ctx)),
    inits: (spec.initContainers ?? []).map((c) => new ContainerRunner(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init', ctx)),
  };
}

function pod(spec: V1Pod['spec'], grace = 10): V1Pod {
  return { metadata: { name: 'p', namespace: 'ns', uid: 'uid-1' }, spec: { terminationGracePeriodSeconds: grace, containers: [], ...spec } };
}


describe.runIf(able)('the process node stops containers as the kubelet does', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-container-test-'));
    // Containers may run as another user and must append to the shared events file.
    chmodSync(dir, 0o777);
    for (const f of ['resolv.conf', 'hosts', 'hostname']) writeFileSync(join(dir, f), '', { mode: 0o644 });
    spawnSync('mkdir', [join(dir, 'checkout')]);
    cgroupRoot = memoryCgroupAvailable() ? join(MEMORY_ROOT, `hearth-container-test-${process.pid}`) : undefined;
    // The sandbox holds a UTS namespace only; its network namespace is this machine's (loopback).
    holder = spawn('unshare', ['--uts', '--', 'sleep', '2147483647'], { stdio: 'ignore' });
    const pid = holder.pid ?? 0;
    await until('sandbox up', () => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
    sandbox = { ip: '127.0.0.1', pid, netnsPath: `/proc/${pid}/ns/net`, hostVeth: '', process: holder };
  });

  afterAll(async () => {
    holder?.kill('SIGKILL');
    if (cgroupRoot !== undefined) await killTree(cgroupRoot);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('httpGet preStop (port by name, path, headers) is answered before SIGTERM is sent', async () => {
    newEvents('http');
    const [port] = await freeLoopbackPorts(1);
    const { apps } = runners(pod({
      containers: [container('app', {
        ports: [{ name: 'admin', containerPort: port ?? 0 }],
        env: [{ name: 'PORT', value: String(port) }, { name: 'HOOK_SECONDS', value: '1' }],
        lifecycle: { preStop: { httpGet: { path: '/drain?x=1', port: 'admin', httpHeaders: [{ name: 'X-Hook', value: 'yes' }] } } },
      })],
    }));
    const app = apps[0] as ContainerRunner;
    const ran = app.run();
    await until('app up', () => readEvents().some((e) => e.what.startsWith('up')));
    await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
    await ran;
    expect(first('app', 'hook-start').what).toBe('hook-start /drain?x=1 yes kube-lifecycle/1.33');
    expect(first('app', 'sigterm').t).toBeGreaterThanOrEqual(first('app', 'hook-end').t);
    expect(app.state.terminated?.exitCode).toBe(0);
  });

  it('exec preStop runs inside the container as its user with its env; sleep preStop holds SIGTERM back', async () => {
    newEvents('exec');
    const { apps } = runners(pod({
      containers: [
        container('exec', { securityContext: { runAsUser: 1234, runAsGroup: 1234 }, env: [{ name: 'GREETING', value: 'hi' }], lifecycle: { preStop: { exec: { command: execHook() } } } }),
        container('sleep', { lifecycle: { preStop: { sleep: { seconds: 2 } } } }),
      ],
    }));
    const ran = apps.map((r) => r.run());
    await until('both up', () => readEvents().filter((e) => e.what.startsWith('up')).length === 2);
    const began = Date.now();
    await Promise.all(apps.map((r) => r.terminate({ graceSeconds: 10, cutoff: new Cutoff() })));
    await Promise.all(ran);
    expect(first('exec', 'exec-hook-start').what).toBe('exec-hook-start uid=1234 greeting=hi');
    expect(first('exec', 'sigterm').t).toBeGreaterThanOrEqual(first('exec', 'exec-hook-end').t);
    expect(first('sleep', 'sigterm').t - began).toBeGreaterThanOrEqual(1_900);
  });

  it('a hook that outlasts the grace is cut there; SIGTERM still gets its 2 s, then SIGKILL', async () => {
    newEvents('grace');
    const { apps } = runners(pod({ containers: [container('stubborn', { env: [{ name: 'IGNORE_TERM', value: '1' }], lifecycle: { preStop: { sleep: { seconds: 30 } } } })] }, 3));
    const app = apps[0] as ContainerRunner;
    const ran = app.run();
    await until('up', () => readEvents().some((e) => e.what.startsWith('up')));
    const began = Date.now();
    await app.terminate({ graceSeconds: 3, cutoff: new Cutoff() });
    await ran;
    const took = Date.now() - began;
    const sigterm = first('stubborn', 'sigterm').t - began;
    expect(sigterm).toBeGreaterThanOrEqual(2_900);
    expect(sigterm).toBeLessThan(4_500);
    expect(took).toBeGreaterThanOrEqual(4_800);
    expect(took).toBeLessThan(10_000);
    expect(app.state.terminated).toMatchObject({ exitCode: 137, signal: 9 });
    expect(logs.some((l) => l.includes('stubborn: preStop hook not completed in the grace period'))).toBe(true);
  });

  it('a failing preStop hook is logged and recorded as FailedPreStopHook, and termination goes on', async () => {
    newEvents('fail');
    const [closed] = await freeLoopbackPorts(1);
    const { apps, inits } = runners(pod({
      containers: [container('refused', { lifecycle: { preStop: { httpGet: { path: '/drain', port: closed ?? 1 } } } })],
      initContainers: [container('failing', { restartPolicy: 'Always', lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo no >&2; exit 3'] } } } })],
    }));
    const all = [...apps, ...inits];
    const ran = all.map((r) => r.run());
    await until('both up', () => readEvents().filter((e) => e.what.startsWith('up')).length === 2);
    recorded.length = 0;
    await stopContainers(pod({ containers: [{ name: 'refused' }], initContainers: [{ name: 'failing', restartPolicy: 'Always' }] }).spec ?? { containers: [] }, all, 10, new Cutoff());
    await Promise.all(ran);
    expect(first('refused', 'exit')).toBeDefined();
    expect(first('failing', 'exit')).toBeDefined();
    expect(recorded.sort()).toEqual(['spec.containers{refused} Warning FailedPreStopHook PreStopHook failed', 'spec.initContainers{failing} Warning FailedPreStopHook PreStopHook failed']);
    expect(logs.some((l) => /failing: FailedPreStopHook: exec .* exited 3: no/.test(l))).toBe(true);
  });

  it('a liveness-probe kill runs the preStop hook before SIGTERM, then the container restarts', async () => {
    newEvents('liveness');
    const { apps } = runners(pod({
      containers: [container('sick', {
        livenessProbe: { exec: { command: ['false'] }, initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 1 },
        lifecycle: { preStop: { exec: { command: execHook() } } },
      })],
    }, 5));
    const app = apps[0] as ContainerRunner;
    const ran = app.run();
    await until('a restart', () => app.restartCount >= 1 && readEvents().filter((e) => e.what.startsWith('up')).length >= 2, 30_000);
    await app.terminate({ graceSeconds: 5, cutoff: new Cutoff() });
    await ran;
    const seq = readEvents().map((e) => e.what.split(' ')[0]);
    expect(seq.slice(0, 4)).toEqual(['up', 'exec-hook-start', 'exec-hook-end', 'sigterm']);
  });

  it('a pod: app hooks run together, sidecar hooks at once too, sidecars get SIGTERM after every app container exited, in reverse order', async () => {
    newEvents('pod');
    const exitSlowly = { name: 'EXIT_DELAY', value: '0.3' };
    const p = pod({
      containers: [
        container('a1', { env: [exitSlowly], lifecycle: { preStop: { exec: { command: execHook(1) } } } }),
        container('a2', { env: [exitSlowly], lifecycle: { preStop: { exec: { command: execHook(1) } } } }),
      ],
      initContainers: [
        container('s1', { restartPolicy: 'Always', env: [exitSlowly], lifecycle: { preStop: { exec: { command: execHook() } } } }),
        container('s2', { restartPolicy: 'Always', env: [exitSlowly], lifecycle: { preStop: { exec: { command: execHook() } } } }),
      ],
    });
    const { apps, inits } = runners(p);
    const all = [...apps, ...inits];
    const ran = all.map((r) => r.run());
    await until('all up', () => readEvents().filter((e) => e.what.startsWith('up')).length === 4);
    await stopContainers(p.spec ?? { containers: [] }, all, 10, new Cutoff());
    await Promise.all(ran);
    const hookEnds = Math.min(first('a1', 'exec-hook-end').t, first('a2', 'exec-hook-end').t);
    // The app containers' hooks overlap, and the sidecars' ran at the start, beside them.
    expect(Math.max(first('a1', 'exec-hook-start').t, first('a2', 'exec-hook-start').t)).toBeLessThan(hookEnds);
    expect(Math.max(first('s1', 'exec-hook-end').t, first('s2', 'exec-hook-end').t)).toBeLessThan(hookEnds);
    // Sidecars: SIGTERM only once both app containers exited; s2 (declared last) before s1.
    const appsExited = Math.max(first('a1', 'exit').t, first('a2', 'exit').t);
    expect(first('s2', 'sigterm').t).toBeGreaterThanOrEqual(appsExited);
    expect(first('s1', 'sigterm').t).toBeGreaterThanOrEqual(first('s2', 'exit').t);
  });

  it('app containers start in order, each after the postStart hook of the one before has returned', async () => {
    newEvents('poststart');
    const p = pod({
      containers: [
        container('first', { lifecycle: { postStart: { exec: { command: execHook(1) } } } }),
        container('second'),
      ],
    });
    const { apps } = runners(p);
    const runs = await startAppContainers(apps, () => false);
    // startAppContainers returns once the last one is launched: the first's hook is over by then.
    expect(first('first', 'exec-hook-end')).toBeDefined();
    await until('second up', () => readEvents().some((e) => e.who === 'second' && e.what.startsWith('up')));
    expect(first('second', 'up').t).toBeGreaterThanOrEqual(first('first', 'exec-hook-end').t);
    await stopContainers(p.spec ?? { containers: [] }, apps, 5, new Cutoff());
    await Promise.all(runs);
  });

  it('a postStart exec right after the start runs in the set-up container, as its non-root user (not before bwrap has built its root)', async () => {
    newEvents('poststart-early');
    recorded.length = 0;
    // Twenty starts: without the wait for bwrap's setup, 2 to 5 of them failed here.
    const p = pod({
      containers: Array.from({ length: 20 }, (_, i) =>
        container(`early${i}`, { securityContext: { runAsUser: 1234, runAsGroup: 1234 }, lifecycle: { postStart: { exec: { command: execHook() } } } }),
      ),
    });
    const { apps } = runners(p);
    const runs = await startAppContainers(apps, () => false);
    // (A start bwrap itself fails under load is retried as a crash is: wait for every one to be up.)
    await until('every container up', () => apps.every((_, i) => readEvents().some((e) => e.who === `early${i}` && e.what.startsWith('up'))));
    expect(recorded).toEqual([]);
    for (let i = 0; i < 20; i++) expect(first(`early${i}`, 'exec-hook-start').what).toContain('uid=1234');
    await stopContainers(p.spec ?? { containers: [] }, apps, 5, new Cutoff());
    await Promise.all(runs);
  });

  it('a failing postStart hook is recorded as FailedPostStartHook, its container killed (preStop first) and restarted; the next one starts anyway', async () => {
    newEvents('poststart-fail');
    recorded.length = 0;
    const p = pod({
      containers: [
        // Fails once the program is up (and has its SIGTERM handler), so the kill is seen in the events.
        container('broken', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'until grep -q "broken up" "$EVENTS"; do sleep 0.05; done; echo no; exit 3'] } }, preStop: { exec: { command: execHook() } } } }),
        container('next'),
      ],
    }, 5);
    const { apps } = runners(p);
    const broken = apps[0] as ContainerRunner;
    const runs = await startAppContainers(apps, () => false);
    // (Its hook fails at once after the restart: the first run's "up" is still in the events.)
    await until('a restart of the broken container', () => broken.restartCount >= 1 && readEvents().filter((e) => e.who === 'broken' && e.what.startsWith('exec-hook-start')).length >= 2, 8_000);
    expect(readEvents().some((e) => e.who === 'next' && e.what.startsWith('up'))).toBe(true);
    const seq = readEvents().filter((e) => e.who === 'broken').map((e) => e.what.split(' ')[0]);
    expect(seq.slice(0, 5)).toEqual(['up', 'exec-hook-start', 'exec-hook-end', 'sigterm', 'exit']);
    expect(recorded).toContain('spec.containers{broken} Warning FailedPostStartHook PostStartHook failed');
    expect(logs.some((l) => /broken: FailedPostStartHook: exec .* exited 3: no/.test(l))).toBe(true);
    await stopContainers(p.spec ?? { containers: [] }, apps, 5, new Cutoff());
    await Promise.all(runs);
  });

  it('asked again with a shorter grace (force delete, the node stopping), a termination under way is cut to it', async () => {
    newEvents('cut');
    const { apps } = runners(pod({ containers: [container('long', { env: [{ name: 'IGNORE_TERM', value: '1' }], lifecycle: { preStop: { sleep: { seconds: 60 } } } })] }, 60));
    const app = apps[0] as ContainerRunner;
    const ran = app.run();
    await until('up', () => readEvents().some((e) => e.what.startsWith('up')));
    const cutoff = new Cutoff();
    const began = Date.now();
    const stopping = app.terminate({ graceSeconds: 60, cutoff });
    await sleep(1_000);
    cutoff.bringForward(Date.now() + 1_000);
    await stopping;
    await ran;
    // Hook cut at ~2 s, SIGTERM, then its 2 s floor before SIGKILL: ~4 s, not 60.
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(first('long', 'sigterm').t - began).toBeGreaterThanOrEqual(1_900);
    expect(app.state.terminated).toMatchObject({ exitCode: 137 });
  });

  describe('a container as bwrap starts it', () => {
    function factsContainer(name: string, env: Record<string, string>, extra: Partial<V1Container> = {}): V1Container {
      return { name, image: IMAGE, command: ['python3', '-u', '-c', FACTS_PROGRAM], env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })), ...extra };
    }
    async function factsOf(path: string): Promise<Facts> {
      await until(`facts at ${path}`, () => existsSync(path));
      return JSON.parse(readFileSync(path, 'utf8')) as Facts;
    }

    it("runs as its user and groups with no capabilities, in its working directory, with exactly its environment, by the pid it reports", async () => {
      const facts = join(dir, 'identity.json');
      const { apps } = runners(pod({
        securityContext: { fsGroup: 3000, supplementalGroups: [3001] },
        containers: [factsContainer('who', { FACTS: facts, GREETING: 'hi there' }, { workingDir: dir, securityContext: { runAsUser: 1000, runAsGroup: 2000 } })],
      }));
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      const f = await factsOf(facts);
      expect(f.pid).toBe(app.pid);
      expect(f.parent).toBe('bwrap');
      expect(f.mnt).not.toBe(readlinkSync('/proc/self/ns/mnt'));
      expect({ uid: f.uid, gid: f.gid, groups: f.groups }).toEqual({ uid: 1000, gid: 2000, groups: [3000, 3001] });
      expect({ caps: f.caps, bounding: f.bounding, nnp: f.nnp }).toEqual({ caps: '0000000000000000', bounding: '0000000000000000', nnp: '1' });
      expect(f.cwd).toBe(dir);
      // HOME as runc sets it for a user the pod gave none: from /etc/passwd, else /.
      expect(f.env).toMatchObject({ FACTS: facts, GREETING: 'hi there', HOSTNAME: 'p', HOME: runcHome(1000, readFileSync('/etc/passwd', 'utf8')) });
      // Nothing of the node's (vitest's) own environment, nor the PWD bwrap sets.
      for (const k of ['PWD', 'VITEST', 'OLDPWD', 'SHLVL']) expect(f.env).not.toHaveProperty(k);
      // SIGTERM reaches the program itself, not bwrap, and the status reads as the kubelet's.
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      expect(app.state.terminated).toMatchObject({ exitCode: 143, signal: 15, reason: 'Error' });
    });

    it('readOnlyRootFilesystem: / is read-only, a volume stays writable; an exit code is reported as it is', async () => {
      const scratch = join(dir, 'scratch');
      const target = join(dir, 'mnt');
      spawnSync('mkdir', ['-p', scratch]);
      const { apps } = runners(
        pod({
          containers: [
            factsContainer('ro', { FACTS: join(target, 'ro.json'), VOLUME: target, THEN: 'exit', CODE: '3' }, {
              volumeMounts: [{ name: 'scratch', mountPath: target }],
              securityContext: { runAsUser: 0, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            }),
          ],
        }),
        new Map([['scratch', scratch]]),
      );
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      const f = await factsOf(join(scratch, 'ro.json'));
      expect(f.root).toBe('Read-only file system');
      expect(f.volume).toBe(true);
      expect(f.uid).toBe(0);
      expect(f.caps).toBe('0000000000000000');
      await until('exited', () => app.state.terminated !== undefined);
      const terminated = app.state.terminated;
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      expect(terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
      expect(terminated).not.toHaveProperty('signal');
    });

    it('a volume mounted through a symbolic link (as /var/run → /run) lands where the link leads', async () => {
      const real = join(dir, 'real');
      const link = join(dir, 'link');
      spawnSync('mkdir', ['-p', join(real, 'secrets'), join(dir, 'token')]);
      symlinkSync(real, link);
      writeFileSync(join(dir, 'token', 'token'), 'T');
      const target = join(link, 'secrets', 'sa');
      const facts = join(dir, 'linked.json');
      const { apps } = runners(
        pod({ containers: [factsContainer('linked', { FACTS: facts, VOLUME: target }, { volumeMounts: [{ name: 'token', mountPath: target, readOnly: true }] })] }),
        new Map([['token', join(dir, 'token')]]),
      );
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      const f = await factsOf(facts);
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      // Mounted read-only at the link's target: the container could not write there.
      expect(f.volume).toBe('Read-only file system');
      expect(existsSync(join(real, 'secrets', 'sa'))).toBe(true);
    });

    it('killed from outside with SIGKILL: exit code 137, signal 9', async () => {
      const facts = join(dir, 'killed.json');
      const { apps } = runners(pod({ containers: [factsContainer('killed', { FACTS: facts })] }));
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      const f = await factsOf(facts);
      process.kill(f.pid, 'SIGKILL');
      await until('exited', () => app.state.terminated !== undefined);
      const terminated = app.state.terminated;
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      expect(terminated).toMatchObject({ exitCode: 137, signal: 9, reason: 'Error' });
    });

    it.runIf(memoryCgroupAvailable())('over its memory limit: OOMKilled, exit code 137', async () => {
      const facts = join(dir, 'oom.json');
      const { apps } = runners(pod({ containers: [factsContainer('hog', { FACTS: facts, THEN: 'oom' }, { resources: { limits: { memory: '64Mi' } } })] }));
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      await until('OOM-killed', () => app.state.terminated !== undefined, 30_000);
      const terminated = app.state.terminated;
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      expect(terminated).toMatchObject({ exitCode: 137, signal: 9, reason: 'OOMKilled' });
    });
  });

  it('a container asked to stop while it is still being started is stopped too, leaving no process or cgroup', async () => {
    newEvents('race');
    for (let i = 0; i < 5; i++) {
      const { apps } = runners(pod({ containers: [container(`race${i}`)] }));
      const app = apps[0] as ContainerRunner;
      const ran = app.run();
      // Same tick: the start is under way (its process not spawned yet).
      await app.terminate({ graceSeconds: 10, cutoff: new Cutoff() });
      await ran;
      const up = readEvents().find((e) => e.who === `race${i}` && e.what.startsWith('up'));
      if (up !== undefined) expect(alive(Number(up.what.split(' ')[1]))).toBe(false);
      expect(app.pid).toBeUndefined();
      if (cgroupRoot !== undefined) expect(existsSync(join(cgroupRoot, `race${i}`))).toBe(false);
    }
  });
});
