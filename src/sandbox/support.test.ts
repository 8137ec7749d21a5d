// Whether a sandbox can be made: the decision from observed facts (a table
// of machines), the refusal and warning at start, and the probe itself on
// this machine, with bubblewrap missing or failing simulated by HEARTH_BWRAP.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decideSandbox,
  probeSandbox,
  sandboxDetails,
  sandboxRefusal,
  sandboxWarning,
  type CgroupFacts,
  type SandboxFacts,
  type SandboxSupport,
} from './support.js';

const ran = { found: true, path: '/usr/bin/bwrap', ran: true } as const;
const v1: CgroupFacts = { v1Memory: { dir: '/sys/fs/cgroup/memory', writable: true } };
const v2: CgroupFacts = { v2: { dir: '/sys/fs/cgroup/hearth', memoryController: true, writable: true } };
const linux = (over: Partial<SandboxFacts>): SandboxFacts => ({ platform: 'linux', uid: 0, bwrap: ran, cgroup: v1, ...over });

describe('decideSandbox', () => {
  const rows: Array<[string, SandboxFacts, Partial<SandboxSupport>, RegExp?]> = [
    ['root, bwrap runs, cgroup v1', linux({}), { enabled: true, perInstanceUser: true, userNamespace: false, memory: 'cgroup-v1', memoryCgroupDir: '/sys/fs/cgroup/memory', bwrap: '/usr/bin/bwrap' }],
    ['not root: a user namespace, no uid of its own', linux({ uid: 1000 }), { enabled: true, perInstanceUser: false, userNamespace: true }],
    ['cgroup v2 with memory, writable', linux({ cgroup: v2 }), { enabled: true, memory: 'cgroup-v2', memoryCgroupDir: '/sys/fs/cgroup/hearth' }],
    ['v1 preferred when both are there', linux({ cgroup: { ...v1, ...v2 } }), { memory: 'cgroup-v1' }],
    ['v1 read-only, v2 usable', linux({ cgroup: { v1Memory: { dir: '/sys/fs/cgroup/memory', writable: false }, ...v2 } }), { memory: 'cgroup-v2' }],
    ['v1 read-only', linux({ cgroup: { v1Memory: { dir: '/x/memory', writable: false } } }), { enabled: true, memory: 'none', memoryReason: 'the memory cgroup /x/memory is not writable by this process' }],
    ['v2 without the memory controller', linux({ cgroup: { v2: { dir: '/c', memoryController: false, writable: true } } }), { memory: 'none' }, /memory controller is not enabled in \/c/],
    ['v2 not writable', linux({ cgroup: { v2: { dir: '/c', memoryController: true, writable: false } } }), { memory: 'none' }, /\/c is not writable/],
    ['no cgroups at all', linux({ cgroup: {} }), { enabled: true, memory: 'none', memoryReason: 'no memory cgroup mounted' }],
    ['no bwrap on PATH', linux({ bwrap: { found: false, wanted: 'bwrap' } }), { enabled: false, perInstanceUser: false, memory: 'cgroup-v1' }, /bubblewrap \(bwrap\) not found on PATH/],
    ['HEARTH_BWRAP names a missing file', linux({ bwrap: { found: false, wanted: '/opt/bwrap' } }), { enabled: false }, /not found at \/opt\/bwrap \(HEARTH_BWRAP\)/],
    [
      'user namespaces off (bwrap fails, not root)',
      linux({ uid: 1000, bwrap: { found: true, path: '/usr/bin/bwrap', ran: false, error: 'bwrap: No permissions to creating new namespace' } }),
      { enabled: false, userNamespace: false },
      /could not make a sandbox in a user namespace.*No permissions.*user namespaces may be disabled/,
    ],
    ['root with setpriv', linux({ setpriv: { path: '/usr/bin/setpriv', found: true } }), { enabled: true, perInstanceUser: true }],
    ['root without setpriv: it would stay root', linux({ setpriv: { path: '/usr/bin/setpriv', found: false } }), { enabled: false, perInstanceUser: false }, /^\/usr\/bin\/setpriv \(util-linux\) is missing/],
    ['bwrap fails as root', linux({ bwrap: { found: true, path: '/b', ran: false, error: 'boom' } }), { enabled: false }, /at \/b could not make a sandbox as root: boom$/],
    ['not Linux', { platform: 'darwin', uid: 501, cgroup: {} }, { enabled: false, memory: 'none', memoryReason: 'no cgroups on darwin' }, /need Linux namespaces; this is darwin/],
  ];
  it.each(rows)('%s', (_name, facts, expected, reason) => {
    const s = decideSandbox(facts);
    expect(s).toMatchObject(expected);
    if (reason) expect(s.reason ?? s.memoryReason).toMatch(reason);
    if (s.enabled) expect(s.reason).toBeUndefined();
  });
});

describe('sandboxRefusal', () => {
  const none = decideSandbox(linux({ bwrap: { found: false, wanted: 'bwrap' } }));
  const some = decideSandbox(linux({}));
  const rows: Array<[string, SandboxSupport, { credentials: boolean; loopback: boolean; insecureNoSandbox: boolean }, RegExp | undefined]> = [
    ['no sandbox, loopback, no credentials: the developer machine', none, { credentials: false, loopback: true, insecureNoSandbox: false }, undefined],
    ['no sandbox, --credentials', none, { credentials: true, loopback: true, insecureNoSandbox: false }, /with --credentials, functions could read the credentials file/],
    ['no sandbox, non-loopback', none, { credentials: false, loopback: false, insecureNoSandbox: false }, /with a non-loopback --host/],
    ['no sandbox, both', none, { credentials: true, loopback: false, insecureNoSandbox: false }, /with --credentials and a non-loopback --host/],
    ['no sandbox, both, told --insecure-no-sandbox', none, { credentials: true, loopback: false, insecureNoSandbox: true }, undefined],
    ['a sandbox: nothing to refuse', some, { credentials: true, loopback: false, insecureNoSandbox: false }, undefined],
  ];
  it.each(rows)('%s', (_name, support, flags, expected) => {
    const r = sandboxRefusal(support, flags);
    if (expected === undefined) expect(r).toBeUndefined();
    else {
      expect(r).toMatch(expected);
      expect(r).toContain('--insecure-no-sandbox');
      expect(r).toContain('not found on PATH');
    }
  });
});

describe('sandboxWarning and sandboxDetails', () => {
  it('warns of a missing sandbox and of unenforced memory in one line, and says nothing when both are there', () => {
    const bare = decideSandbox(linux({ bwrap: { found: false, wanted: 'bwrap' }, cgroup: {} }));
    expect(sandboxWarning(bare)).toMatch(/^functions run WITHOUT a sandbox \(.*not found.*\).*; memoryMB is not enforced \(no memory cgroup mounted\)$/);
    expect(sandboxWarning(bare)).not.toContain('\n');
    expect(sandboxWarning(decideSandbox(linux({ cgroup: {} })))).toBe('memoryMB is not enforced (no memory cgroup mounted)');
    expect(sandboxWarning(decideSandbox(linux({})))).toBeUndefined();
  });

  it('shows the state, the reasons and --insecure-no-sandbox only when it mattered', () => {
    expect(sandboxDetails(decideSandbox(linux({})))).toEqual({ enabled: true, memory: 'cgroup-v1', perInstanceUser: true });
    expect(sandboxDetails(decideSandbox(linux({})), true)).toEqual({ enabled: true, memory: 'cgroup-v1', perInstanceUser: true });
    const none = decideSandbox(linux({ bwrap: { found: false, wanted: 'bwrap' }, cgroup: {} }));
    expect(sandboxDetails(none, true)).toMatchObject({ enabled: false, memory: 'none', perInstanceUser: false, insecureNoSandbox: true, reason: expect.stringContaining('not found') as string });
  });
});

describe('probeSandbox on this machine', () => {
  // bubblewrap is one of the Makefile's APT_PACKAGES: under CI this must not skip.
  it('makes a trial sandbox with the bwrap on PATH', async () => {
    const s = await probeSandbox({ env: { PATH: process.env.PATH } });
    expect(s).toMatchObject({ enabled: true, perInstanceUser: process.getuid?.() === 0, userNamespace: process.getuid?.() !== 0 });
    expect(s.bwrap).toMatch(/\/bwrap$/);
  });

  it('finds no sandbox when HEARTH_BWRAP names a missing binary or one that fails', async () => {
    const missing = await probeSandbox({ env: { PATH: process.env.PATH, HEARTH_BWRAP: '/nonexistent/bwrap' } });
    expect(missing).toMatchObject({ enabled: false, reason: 'bubblewrap not found at /nonexistent/bwrap (HEARTH_BWRAP)' });
    const failing = await probeSandbox({ bwrap: '/bin/false' });
    expect(failing.enabled).toBe(false);
    expect(failing.reason).toMatch(/^bubblewrap at \/bin\/false could not make a sandbox/);
    if (process.getuid?.() === 0) expect(await probeSandbox({ setpriv: '/nonexistent/setpriv' })).toMatchObject({ enabled: false, reason: expect.stringContaining('/nonexistent/setpriv (util-linux) is missing') as string });
    const notOnPath = await probeSandbox({ env: { PATH: '/nonexistent' } });
    expect(notOnPath.reason).toMatch(/bubblewrap \(bwrap\) not found on PATH/);
  });

  it('reads the cgroup hierarchy it is shown: v1, v2 in its own cgroup, none', async () => {
    const fake = (files: Record<string, string>): string => {
      const root = mkdtempSync(join(tmpdir(), 'hearth-cgroup-'));
      for (const [p, text] of Object.entries(files)) {
        mkdirSync(join(root, p, '..'), { recursive: true });
        writeFileSync(join(root, p), text);
      }
      return root;
    };
    const self = fake({ cgroup: '0::/hearth.slice/up\n' });
    const v1Root = fake({ 'memory/memory.limit_in_bytes': '9223372036854771712\n' });
    expect(await probeSandbox({ cgroupRoot: v1Root, selfCgroupFile: join(self, 'cgroup') })).toMatchObject({ memory: 'cgroup-v1', memoryCgroupDir: join(v1Root, 'memory') });
    const v2Root = fake({ 'cgroup.controllers': 'cpu memory pids\n', 'hearth.slice/up/cgroup.controllers': 'cpu memory\n' });
    expect(await probeSandbox({ cgroupRoot: v2Root, selfCgroupFile: join(self, 'cgroup') })).toMatchObject({ memory: 'cgroup-v2', memoryCgroupDir: join(v2Root, 'hearth.slice/up') });
    const v2NoMemory = fake({ 'cgroup.controllers': 'cpu memory\n', 'hearth.slice/up/cgroup.controllers': 'cpu pids\n' });
    expect(await probeSandbox({ cgroupRoot: v2NoMemory, selfCgroupFile: join(self, 'cgroup') })).toMatchObject({ memory: 'none', memoryReason: expect.stringContaining('memory controller is not enabled') as string });
    expect(await probeSandbox({ cgroupRoot: fake({}) })).toMatchObject({ memory: 'none', memoryReason: 'no memory cgroup mounted' });
  });
});
