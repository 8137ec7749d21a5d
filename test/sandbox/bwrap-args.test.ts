// The sandbox's command line, the memory controller's files and the uid range,
// as pure decisions.
import { describe, expect, it } from 'vitest';
import { ancestorsToMake, bwrapArgs, childExit, containerBwrapArgs, containerCommand, insidePath, parseChildPid, sandboxCommand, type ContainerSpec, type SandboxSpec } from '../../src/sandbox/bwrap-args.js';
import { limitWrites, oomFile, parseOomKills, unifiedHasMemory } from '../../src/sandbox/memory-cgroup.js';
import { UidRange } from '../../src/sandbox/uid-range.js';

const base: SandboxSpec = {
  bwrap: '/usr/bin/bwrap',
  user: { kind: 'switch', uid: 1_800_000_007, setpriv: '/usr/bin/setpriv' },
  taskRoot: '/root/.cache/hearth/local/code/abc',
  runtimeDir: '/repo/runtimes/python',
  tmpSizeMB: 512,
  etcFiles: ['/etc/resolv.conf'],
  command: '/root/.pyenv/versions/3.11.7/bin/python3',
  args: ['/var/runtime/bootstrap.py'],
};

/** The value following each occurrence of `flag`, as [value, next value] pairs for two-argument flags. */
function pairs(args: string[], flag: string): [string, string][] {
  const out: [string, string][] = [];
  args.forEach((a, i) => {
    if (a === flag) out.push([args[i + 1] ?? '', args[i + 2] ?? '']);
  });
  return out;
}

describe('bwrapArgs', () => {
  const cases: { name: string; spec: Partial<SandboxSpec>; check: (a: string[]) => void }[] = [
    {
      name: 'shows the task root read-only at /var/task and starts there',
      spec: {},
      check: (a) => {
        expect(pairs(a, '--ro-bind')).toContainEqual([base.taskRoot, '/var/task']);
        expect(a.slice(a.indexOf('--chdir'), a.indexOf('--chdir') + 2)).toEqual(['--chdir', '/var/task']);
      },
    },
    {
      name: 'shows /usr read-only, with /bin, /lib, /lib64, /sbin as links into it',
      spec: {},
      check: (a) => {
        expect(pairs(a, '--ro-bind')).toContainEqual(['/usr', '/usr']);
        expect(pairs(a, '--symlink')).toEqual([['usr/bin', '/bin'], ['usr/lib', '/lib'], ['usr/lib64', '/lib64'], ['usr/sbin', '/sbin']]);
      },
    },
    {
      name: 'shows only the /etc files it is given, each optional',
      spec: { etcFiles: ['/etc/hosts', '/etc/ssl'] },
      check: (a) => {
        expect(pairs(a, '--ro-bind-try')).toEqual([['/etc/hosts', '/etc/hosts'], ['/etc/ssl', '/etc/ssl']]);
        expect(a.join(' ')).not.toMatch(/shadow|passwd/);
      },
    },
    {
      name: 'gives a private /tmp of the ephemeral storage size, mode 1777',
      spec: { tmpSizeMB: 1024 },
      check: (a) => {
        const i = a.indexOf('--tmpfs');
        expect(a.slice(i - 4, i + 2)).toEqual(['--perms', '1777', '--size', String(1024 * 1024 * 1024), '--tmpfs', '/tmp']);
      },
    },
    {
      name: 'runtime at /var/runtime and layers at /opt when given',
      spec: { optDir: '/cache/opt/x' },
      check: (a) => {
        expect(pairs(a, '--ro-bind')).toContainEqual(['/repo/runtimes/python', '/var/runtime']);
        expect(pairs(a, '--ro-bind')).toContainEqual(['/cache/opt/x', '/opt']);
      },
    },
    {
      name: 'no /var/runtime or /opt when not given',
      spec: { runtimeDir: undefined },
      check: (a) => {
        expect(a).not.toContain('/var/runtime');
        expect(a).not.toContain('/opt');
      },
    },
    {
      name: 'binds a path outside /usr at the same path, after /tmp, making its parents searchable',
      spec: { samePath: ['/root/.pyenv/versions/3.11.7', '/usr/local/lib/x', '/tmp/t1/runtime.mjs'] },
      check: (a) => {
        expect(pairs(a, '--ro-bind')).toContainEqual(['/root/.pyenv/versions/3.11.7', '/root/.pyenv/versions/3.11.7']);
        expect(pairs(a, '--ro-bind')).toContainEqual(['/tmp/t1/runtime.mjs', '/tmp/t1/runtime.mjs']);
        // Under /usr it is there already.
        expect(pairs(a, '--ro-bind')).not.toContainEqual(['/usr/local/lib/x', '/usr/local/lib/x']);
        expect(pairs(a, '--dir').map(([d]) => d)).toEqual(['/etc', '/var', '/root', '/root/.pyenv', '/root/.pyenv/versions', '/tmp/t1']);
        // Every directory it makes can be passed through by the sandbox's user.
        a.forEach((x, i) => x === '--dir' && expect(a.slice(i - 2, i)).toEqual(['--perms', '0755']));
        expect(a.indexOf('/tmp/t1/runtime.mjs')).toBeGreaterThan(a.indexOf('--tmpfs'));
      },
    },
    {
      name: 'own PID, IPC and UTS namespaces, the host network, dies with its parent, a new session',
      spec: {},
      check: (a) => {
        for (const f of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session']) expect(a).toContain(f);
        expect(a).not.toContain('--unshare-net');
        expect(a).not.toContain('--unshare-all');
        expect(a).not.toContain('--setenv');
        expect(pairs(a, '--proc')[0]?.[0]).toBe('/proc');
        expect(pairs(a, '--dev')[0]?.[0]).toBe('/dev');
      },
    },
    {
      name: 'as root: only the capabilities setpriv needs, then its own uid with none',
      spec: {},
      check: (a) => {
        expect(pairs(a, '--cap-add').map(([c]) => c)).toEqual(['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']);
        const sep = a.indexOf('--');
        expect(a.slice(sep)).toEqual([
          '--', '/usr/bin/setpriv', '--reuid=1800000007', '--regid=1800000007', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs',
          '--', base.command, ...base.args,
        ]);
        expect(a).not.toContain('--unshare-user');
      },
    },
    {
      name: 'not root: a user namespace that cannot nest, no uid switch',
      spec: { user: { kind: 'userns' } },
      check: (a) => {
        expect(a).toContain('--unshare-user');
        expect(a).toContain('--disable-userns');
        expect(a).not.toContain('--cap-add');
        expect(a.slice(a.indexOf('--'))).toEqual(['--', base.command, ...base.args]);
      },
    },
  ];
  for (const c of cases) it(c.name, () => c.check(bwrapArgs({ ...base, ...c.spec })));
});

describe('sandboxCommand', () => {
  const all = bwrapArgs(base);
  const sep = all.indexOf('--');
  it('is bwrap itself without a cgroup, its options on fd 3 and only what it runs on its command line', () => {
    const c = sandboxCommand(base);
    expect(c.command).toBe('/usr/bin/bwrap');
    expect(c.args).toEqual(['--args', '3', ...all.slice(sep)]);
    expect(c.args.join(' ')).not.toContain(base.taskRoot);
    expect(c.options.split('\0')).toEqual([...all.slice(0, sep), '']);
  });
  it('joins the cgroup from a shell that then becomes bwrap, the path passed as an argument, not shell text', () => {
    const procs = '/sys/fs/cgroup/memory/hearth-1/a b;rm -rf x/cgroup.procs';
    const c = sandboxCommand({ ...base, cgroupProcs: procs });
    expect(c.command).toBe('/bin/sh');
    expect(c.args.slice(0, 4)).toEqual(['-c', 'echo $$ > "$0" && exec "$@"', procs, '/usr/bin/bwrap']);
    expect(c.args.slice(4)).toEqual(sandboxCommand(base).args);
  });
});

const pod: ContainerSpec = {
  bwrap: 'bwrap',
  nsenter: 'nsenter',
  env: '/usr/bin/env',
  netns: '/run/netns/hearth-pod-1',
  utsns: '/proc/4242/ns/uts',
  mounts: [
    { source: '/work/main', target: '/run/hearth-checkout-x', readOnly: true },
    { source: '/var/lib/node/pods/u/volumes/tmp', target: '/tmp', readOnly: false },
    { source: '/var/lib/node/pods/u/resolv.conf', target: '/etc/resolv.conf', readOnly: true },
  ],
  readOnlyRootFilesystem: false,
  user: { kind: 'switch', uid: 1000, gid: 2000, groups: [3000, 3001], setpriv: '/usr/bin/setpriv' },
  workingDir: '/run/hearth-checkout-x/agent',
  environment: { HEARTH_FUNCTION: 'f', SECRET: 's3cr3t value' },
  argv: ['node', '/run/hearth-checkout-x/dist/agent/main.js'],
};

describe('containerBwrapArgs', () => {
  const cases: { name: string; spec: Partial<ContainerSpec>; check: (a: string[]) => void }[] = [
    {
      name: "the machine's root as the container's, devices usable, then the pod's binds in order, each at its target",
      spec: {},
      check: (a) => {
        expect(a.slice(0, 3)).toEqual(['--dev-bind', '/', '/']);
        expect(a).not.toContain('--ro-bind-try');
        const binds = a.flatMap((x, i) => (x === '--bind' || x === '--ro-bind' ? [[x, a[i + 1], a[i + 2]]] : []));
        expect(binds).toEqual([
          ['--ro-bind', '/work/main', '/run/hearth-checkout-x'],
          ['--bind', '/var/lib/node/pods/u/volumes/tmp', '/tmp'],
          ['--ro-bind', '/var/lib/node/pods/u/resolv.conf', '/etc/resolv.conf'],
        ]);
        expect(a).not.toContain('--remount-ro');
      },
    },
    {
      name: 'readOnlyRootFilesystem: / alone remounted read-only, after the binds (writable volumes stay writable)',
      spec: { readOnlyRootFilesystem: true },
      check: (a) => {
        expect(a.filter((x) => x === '--remount-ro')).toHaveLength(1);
        expect(a.slice(a.indexOf('--remount-ro'), a.indexOf('--remount-ro') + 2)).toEqual(['--remount-ro', '/']);
        expect(a.indexOf('--remount-ro')).toBeGreaterThan(a.lastIndexOf('--bind'));
        expect(a.indexOf('--remount-ro')).toBeGreaterThan(a.lastIndexOf('--ro-bind'));
        expect(a).not.toContain('--ro-bind-try');
        expect(a.slice(0, 3)).toEqual(['--dev-bind', '/', '/']);
      },
    },
    {
      name: "the pod's network and UTS namespaces are entered outside; bwrap makes none but the mount namespace, no new session",
      spec: {},
      check: (a) => {
        for (const f of ['--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-ipc', '--unshare-user', '--unshare-all', '--new-session', '--proc', '--dev', '--tmpfs']) {
          expect(a).not.toContain(f);
        }
      },
    },
    {
      name: "exactly the container's environment, as options, and its working directory",
      spec: {},
      check: (a) => {
        expect(a.indexOf('--clearenv')).toBeLessThan(a.indexOf('--setenv'));
        expect(pairs(a, '--setenv')).toEqual([['HEARTH_FUNCTION', 'f'], ['SECRET', 's3cr3t value']]);
        expect(pairs(a, '--chdir')[0]?.[0]).toBe('/run/hearth-checkout-x/agent');
        expect(pairs(a, '--info-fd')[0]?.[0]).toBe('4');
        // bwrap sets PWD after its --chdir: env takes it away again.
        expect(a.slice(a.lastIndexOf('--') - 3)).toEqual(['/usr/bin/env', '-u', 'PWD', '--', ...pod.argv]);
      },
    },
    {
      name: 'a PWD the container asks for is the one it gets',
      spec: { environment: { PWD: '/x' } },
      check: (a) => expect(a.slice(a.lastIndexOf('--') - 2)).toEqual(['/usr/bin/env', 'PWD=/x', '--', ...pod.argv]),
    },
    {
      name: 'a non-root user (or root dropping ALL): setpriv to its uid, gid and groups, no capabilities, no new privileges',
      spec: {},
      check: (a) => {
        expect(pairs(a, '--cap-add').map(([c]) => c)).toEqual(['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP']);
        const sep = a.indexOf('--');
        expect(a.slice(sep, sep + 9)).toEqual(['--', '/usr/bin/setpriv', '--reuid=1000', '--regid=2000', '--groups=3000,3001', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']);
      },
    },
    {
      name: 'no supplementary groups: cleared',
      spec: { user: { kind: 'switch', uid: 0, gid: 0, groups: [], setpriv: '/usr/bin/setpriv' } },
      check: (a) => expect(a).toContain('--clear-groups'),
    },
    {
      name: 'a root container keeping its capabilities: no switch, no capability option (bwrap as root keeps them)',
      spec: { user: { kind: 'root' } },
      check: (a) => {
        expect(a).not.toContain('--cap-add');
        expect(a).not.toContain('--cap-drop');
        expect(a.join(' ')).not.toContain('setpriv');
        expect(a.slice(a.indexOf('--'))).toEqual(['--', '/usr/bin/env', '-u', 'PWD', '--', ...pod.argv]);
      },
    },
  ];
  for (const c of cases) it(c.name, () => c.check(containerBwrapArgs({ ...pod, ...c.spec })));
});

describe('containerCommand', () => {
  const all = containerBwrapArgs(pod);
  const sep = all.indexOf('--');
  it("enters the pod's namespaces, then bwrap, its options (environment, host paths) on fd 3", () => {
    const c = containerCommand(pod);
    expect(c.command).toBe('nsenter');
    expect(c.args).toEqual(['--net=/run/netns/hearth-pod-1', '--uts=/proc/4242/ns/uts', '--', 'bwrap', '--args', '3', ...all.slice(sep)]);
    expect(c.args.join(' ')).not.toContain('s3cr3t');
    expect(c.args.join(' ')).not.toContain('/var/lib/node');
    expect(c.options.split('\0')).toEqual([...all.slice(0, sep), '']);
  });
  it('joins the memory cgroup inside the namespaces, before bwrap', () => {
    const procs = '/sys/fs/cgroup/memory/hearth-node.x/pod/c/cgroup.procs';
    const c = containerCommand({ ...pod, cgroupProcs: procs });
    expect(c.args.slice(0, 8)).toEqual(['--net=/run/netns/hearth-pod-1', '--uts=/proc/4242/ns/uts', '--', '/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', procs, 'bwrap']);
    expect(c.args.slice(7)).toEqual(containerCommand(pod).args.slice(3));
  });
});

describe('parseChildPid / childExit', () => {
  it.each([
    ['{\n    "child-pid": 6725,\n    "mnt-namespace": 4026532175\n}\n', 6725],
    ['{"child-pid":17}', 17],
    ['', undefined],
  ])('%j', (info, pid) => expect(parseChildPid(info)).toBe(pid));
  it.each([
    [0, null, { exitCode: 0 }],
    [3, null, { exitCode: 3 }],
    [1, null, { exitCode: 1 }],
    // bwrap's report of a child killed by SIGKILL (an OOM kill too) or SIGTERM
    [137, null, { exitCode: 137, signal: 9 }],
    [143, null, { exitCode: 143, signal: 15 }],
    [255, null, { exitCode: 255 }],
    [128, null, { exitCode: 128 }],
    // bwrap itself killed
    [null, 'SIGKILL', { exitCode: 137, signal: 9 }],
    [null, 'SIGTERM', { exitCode: 143, signal: 15 }],
  ] as const)('bwrap exit %s / %s', (code, signal, status) => expect(childExit(code, signal)).toEqual(status));
});

describe('ancestorsToMake / insidePath', () => {
  it.each([
    ['/root/.pyenv/versions/3.11.7', ['/root', '/root/.pyenv', '/root/.pyenv/versions']],
    ['/tmp/a/b/c.mjs', ['/tmp/a', '/tmp/a/b']],
    ['/opt/x', []],
    ['/work/main/test/x.mjs', ['/work', '/work/main', '/work/main/test']],
  ])('%s', (path, dirs) => expect(ancestorsToMake(path)).toEqual(dirs));

  const mounts = [{ host: '/c/code/abc', inside: '/var/task' }, { host: '/repo/runtimes/python/', inside: '/var/runtime' }];
  it.each([
    ['/c/code/abc/bootstrap', '/var/task/bootstrap'],
    ['/c/code/abc', '/var/task'],
    ['/c/code/abcd/x', undefined],
    ['/repo/runtimes/python/bootstrap.py', '/var/runtime/bootstrap.py'],
    ['/elsewhere', undefined],
  ])('%s', (host, inside) => expect(insidePath(host, mounts)).toBe(inside));
});

describe('memory controller files', () => {
  it.each([
    [1, 'memory.limit_in_bytes', 'memory.swappiness', 'memory.oom_control'],
    [2, 'memory.max', 'memory.swap.max', 'memory.events'],
  ] as const)('cgroup v%i', (version, limit, swap, oom) => {
    expect(limitWrites(version, 134217728)).toEqual([
      { file: limit, value: '134217728', optional: false },
      { file: swap, value: '0', optional: true },
    ]);
    expect(oomFile(version)).toBe(oom);
  });
  it.each([
    ['oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 3],
    ['low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n', 1],
    ['oom_kill_disable 0\nunder_oom 0\n', 0],
    ['', 0],
  ])('oom_kill in %j', (text, n) => expect(parseOomKills(text)).toBe(n));
  it.each([
    ['cpuset cpu io memory pids\n', true],
    ['hugetlb\n', false],
    ['memoryx\n', false],
  ])('controllers %j hold memory: %s', (text, yes) => expect(unifiedHasMemory(text)).toBe(yes));
});

describe('UidRange', () => {
  it('hands out distinct uids from its range, reuses freed ones last, and says when all are taken', () => {
    const r = new UidRange(5000, 3, 1);
    expect([r.take(), r.take(), r.take()]).toEqual([5001, 5002, 5000]);
    expect(() => r.take()).toThrow(/all 3 sandbox uids/);
    r.release(5001);
    expect(r.take()).toBe(5001);
    expect(r.inUse).toBe(3);
  });
  it('starts at the top of no host account', () => {
    const uid = new UidRange().take();
    expect(uid).toBeGreaterThanOrEqual(1_800_000_000);
    expect(uid).toBeLessThan(2 ** 31);
  });
});
