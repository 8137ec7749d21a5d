// The sandbox's command line, the memory controller's files and the uid range,
// as pure decisions.
import { describe, expect, it } from 'vitest';
import { ancestorsToMake, bwrapArgs, insidePath, sandboxCommand, type SandboxSpec } from '../../src/sandbox/bwrap-args.js';
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
