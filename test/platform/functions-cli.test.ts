// hearth ls and hearth get: how they show Lambda's ListFunctions and
// GetFunction answers (pure, tables), and the commands as a user runs them
// (child processes, HEARTH_URL) against a running embedded platform, over
// more functions than one ListFunctions page holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { runtimeCell, stateCell } from '../../src/cli/function-configuration.js';
import { describeFunction, functionRef } from '../../src/cli/get.js';
import { functionsTable, latestPublished } from '../../src/cli/ls.js';
import { runHearth } from '../helpers/hearth-cli.js';
import { node, py, startPlatform } from '../helpers/platform.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const hearth = (url: string, ...args: string[]) => runHearth({ url }, ...args);

const line = (out: string, start: string) => out.split('\n').find((l) => l.startsWith(start)) ?? '';

describe('how hearth ls and hearth get show the answers', () => {
  it.each([
    { c: { State: 'Active', LastUpdateStatus: 'Successful' }, cell: 'Active' },
    { c: { State: 'Pending', LastUpdateStatus: 'InProgress' }, cell: 'Pending, updating' },
    { c: { State: 'Active', LastUpdateStatus: 'InProgress' }, cell: 'Active, updating' },
    { c: { State: 'Active', LastUpdateStatus: 'Failed' }, cell: 'Active, update failed' },
    { c: { State: 'Failed', LastUpdateStatus: 'Failed' }, cell: 'Failed' },
    { c: { State: 'Failed' }, cell: 'Failed' },
    { c: {}, cell: '-' },
  ])('state $c reads $cell', ({ c, cell }) => {
    expect(stateCell(c)).toBe(cell);
  });

  it.each([
    { c: { Runtime: 'python3.12', PackageType: 'Zip' }, cell: 'python3.12' },
    { c: { PackageType: 'Image' }, cell: 'image' },
    { c: {}, cell: '-' },
  ])('runtime $c reads $cell', ({ c, cell }) => {
    expect(runtimeCell(c)).toBe(cell);
  });

  it.each([
    { versions: ['$LATEST'], latest: '-' },
    { versions: ['$LATEST', '1'], latest: '1' },
    { versions: ['$LATEST', '1', '10', '2'], latest: '10' },
  ])('latest published of $versions is $latest', ({ versions, latest }) => {
    expect(latestPublished(versions.map((Version) => ({ Version })))).toBe(latest);
  });

  it.each([
    { arg: 'hello', ref: { name: 'hello' } },
    { arg: 'hello:1', ref: { name: 'hello', qualifier: '1' } },
    { arg: 'hello:$LATEST', ref: { name: 'hello', qualifier: '$LATEST' } },
    { arg: 'hello:live', ref: { name: 'hello', qualifier: 'live' } },
    { arg: 'arn:aws:lambda:us-east-1:000000000000:function:hello:live', ref: { name: 'arn:aws:lambda:us-east-1:000000000000:function:hello:live' } },
    { arg: 'hello:', ref: 'expected NAME or NAME:QUALIFIER, not hello:' },
    { arg: ':1', ref: 'expected NAME or NAME:QUALIFIER, not :1' },
    { arg: 'a:b:c', ref: 'expected NAME or NAME:QUALIFIER, not a:b:c' },
  ])('get $arg names $ref', ({ arg, ref }) => {
    expect(functionRef(arg)).toEqual(ref);
  });

  it('ls: one line per function by name, the description cut to one short line; --versions adds the latest version and aliases', () => {
    const fns = [
      { FunctionName: 'zeta', Runtime: 'nodejs20.x', State: 'Active', LastUpdateStatus: 'InProgress', LastModified: '2026-12-06T10:00:00.000+0000', Description: `a very\nlong ${'x'.repeat(80)}` },
      { FunctionName: 'alpha', PackageType: 'Image', State: 'Pending', LastModified: '2026-12-06T09:00:00.000+0000' },
    ];
    const plain = functionsTable(fns).split('\n');
    expect(plain[0]).toMatch(/^NAME\s+RUNTIME\s+STATE\s+LAST-MODIFIED\s+DESCRIPTION$/);
    expect(plain[1]).toMatch(/^alpha\s+image\s+Pending\s+2026-12-06T09:00:00.000\+0000$/);
    expect(plain[2]).toMatch(/^zeta\s+nodejs20\.x\s+Active, updating\s+2026-12-06T10:00:00.000\+0000\s+a very long x+…$/);
    expect(plain[2]?.length).toBeLessThan(140);

    const versions = new Map([
      ['zeta', { versions: [{ Version: '$LATEST' }, { Version: '3' }, { Version: '4' }], aliases: [{ Name: 'live', FunctionVersion: '3' }, { Name: 'canary', FunctionVersion: '3', RoutingConfig: { AdditionalVersionWeights: { '4': 0.1 } } }] }],
      ['alpha', { versions: [{ Version: '$LATEST' }], aliases: [] }],
    ]);
    const wide = functionsTable(fns, versions).split('\n');
    expect(wide[0]).toMatch(/^NAME\s+RUNTIME\s+STATE\s+VERSION\s+ALIASES\s+LAST-MODIFIED\s+DESCRIPTION$/);
    expect(wide[1]).toMatch(/^alpha\s+image\s+Pending\s+-\s+-\s+2026/);
    expect(wide[2]).toMatch(/^zeta\s+nodejs20\.x\s+Active, updating\s+4\s+live=3 canary=3\+4@10%\s+2026/);
  });

  it('get: configuration, code, concurrency and tags readable; environment variables by name, never their values', () => {
    const out = describeFunction({
      Configuration: {
        FunctionName: 'hello',
        FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST',
        Runtime: 'python3.12',
        Role: 'arn:aws:iam::000000000000:role/hearth-hello',
        Handler: 'app.handler',
        CodeSize: 123,
        Description: 'says hello',
        Timeout: 3,
        MemorySize: 256,
        LastModified: '2026-12-06T10:00:00.000+0000',
        CodeSha256: Buffer.from('ab'.repeat(32), 'hex').toString('base64'),
        Version: '$LATEST',
        Environment: { Variables: { TOKEN: 'hunter2', A_FIRST: '1' } },
        RevisionId: '12345678-aaaa-bbbb-cccc-1234567890ab',
        State: 'Failed',
        StateReasonCode: 'InvalidZipFileException',
        StateReason: 'the package is not a ZIP',
        LastUpdateStatus: 'Failed',
        PackageType: 'Zip',
        Architectures: ['x86_64'],
        EphemeralStorage: { Size: 512 },
      },
      Code: { RepositoryType: 'S3', Location: 'http://127.0.0.1:8080/packages/abc?expires=1&signature=x' },
      Concurrency: { ReservedConcurrentExecutions: 5 },
      Tags: { team: 'web', app: 'demo' },
    });
    expect(out).not.toContain('hunter2');
    const lines = out.split('\n');
    expect(lines[0]).toBe('hello  arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST');
    expect(lines).toEqual(
      expect.arrayContaining([
        'Configuration',
        expect.stringMatching(/^ {2}Runtime\s+python3\.12$/),
        expect.stringMatching(/^ {2}Handler\s+app\.handler$/),
        expect.stringMatching(/^ {2}Memory\s+256 MB$/),
        expect.stringMatching(/^ {2}Timeout\s+3 s$/),
        expect.stringMatching(/^ {2}State\s+Failed \(InvalidZipFileException: the package is not a ZIP\)$/),
        expect.stringMatching(/^ {2}Last update\s+Failed$/),
        expect.stringMatching(/^ {2}Environment\s+A_FIRST, TOKEN \(values: --json\)$/),
        expect.stringMatching(/^ {2}Role\s+arn:aws:iam::000000000000:role\/hearth-hello$/),
        expect.stringMatching(/^ {2}Package\s+Zip, 123 bytes, sha256 (ab){32}$/),
        expect.stringMatching(/^ {2}Revision\s+12345678-aaaa-bbbb-cccc-1234567890ab$/),
        'Code',
        expect.stringMatching(/^ {2}Repository type\s+S3$/),
        expect.stringMatching(/^ {2}Location\s+http:\/\/127\.0\.0\.1:8080\/packages\/abc\?expires=1&signature=x$/),
        'Concurrency',
        expect.stringMatching(/^ {2}Reserved\s+5$/),
        'Tags',
      ]),
    );
    // Every section's values start in one column.
    const column = (label: string, value: string) => (lines.find((l) => l.startsWith(`  ${label} `)) ?? '').indexOf(value);
    expect(column('Reserved', '5')).toBe(column('Runtime', 'python3.12'));
    expect(column('Location', 'http')).toBe(column('Runtime', 'python3.12'));
    // Tags sorted by key, after their heading.
    expect(lines.slice(lines.indexOf('Tags') + 1)).toEqual([expect.stringMatching(/^ {2}app\s+demo$/), expect.stringMatching(/^ {2}team\s+web$/)]);
    // Members left out are not shown as empty lines.
    expect(describeFunction({ Configuration: { FunctionName: 'bare' } })).toBe('bare\nConcurrency\n  Reserved  none (draws on the unreserved pool)\nTags\n  none');
  });
});

describe('hearth ls and hearth get against hearth up', () => {
  let platform: Platform;
  // More functions than one page of ListFunctions (at most 50), so ls must follow NextMarker.
  const filler = Object.fromEntries(Array.from({ length: 53 }, (_, i) => [`f${String(i).padStart(2, '0')}`, py('def handler(e, c):\n    return 1\n')]));
  const hello: FunctionSpecInput = {
    ...py('def handler(e, c):\n    return "A"\n'),
    description: 'says hello',
    memoryMB: 256,
    env: [{ name: 'TOKEN', value: 'hunter2' }],
    tags: { team: 'web' },
    reservedConcurrency: 5,
  };
  beforeAll(async () => {
    platform = await startPlatform({ hello, other: node('export const handler = async () => 1;\n'), ...filler });
  }, 60_000);
  afterAll(async () => platform?.close());

  it('ls lists every function over several pages; --versions its latest version and aliases; --json the raw list', async () => {
    const listed = await hearth(platform.url, 'ls');
    expect([listed.code, listed.stderr]).toEqual([0, '']);
    const rows = listed.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^NAME\s+RUNTIME\s+STATE\s+LAST-MODIFIED\s+DESCRIPTION$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/)[0])).toEqual([...Object.keys(filler), 'hello', 'other'].sort());
    expect(line(listed.stdout, 'hello ')).toMatch(/^hello\s+python3\.12\s+Active\s+\d{4}-\d\d-\d\dT\S+\s+says hello$/);
    expect(line(listed.stdout, 'other ')).toMatch(/^other\s+nodejs20\.x\s+Active\s/);

    expect((await hearth(platform.url, 'publish', 'hello')).stdout.trim()).toBe('1');
    expect((await hearth(platform.url, 'alias', 'hello', 'live', '1')).code).toBe(0);
    const wide = await hearth(platform.url, 'ls', '--versions');
    expect(wide.code).toBe(0);
    expect(line(wide.stdout, 'hello ')).toMatch(/^hello\s+python3\.12\s+Active\s+1\s+live=1\s/);
    expect(line(wide.stdout, 'other ')).toMatch(/^other\s+nodejs20\.x\s+Active\s+-\s+-\s/);

    const json = JSON.parse((await hearth(platform.url, 'ls', '--json')).stdout) as { Functions: { FunctionName: string }[] };
    expect(json.Functions.map((f) => f.FunctionName).sort()).toEqual([...Object.keys(filler), 'hello', 'other'].sort());
    const wideJson = JSON.parse((await hearth(platform.url, 'ls', '--versions', '--json')).stdout) as { Functions: unknown[]; Versions: Record<string, { Version: string }[]>; Aliases: Record<string, { Name: string }[]> };
    expect(wideJson.Functions).toHaveLength(json.Functions.length);
    expect(wideJson.Versions.hello?.map((v) => v.Version)).toEqual(['$LATEST', '1']);
    expect(wideJson.Aliases.hello?.map((a) => a.Name)).toEqual(['live']);
    expect(wideJson.Aliases.other).toEqual([]);
  }, 120_000);

  it('get shows one function readable, a qualifier\'s version, and --json the answer as it came', async () => {
    const got = await hearth(platform.url, 'get', 'hello');
    expect([got.code, got.stderr]).toEqual([0, '']);
    expect(got.stdout).not.toContain('hunter2');
    for (const [label, value] of [
      ['Description', 'says hello'],
      ['Version', '\\$LATEST'],
      ['Runtime', 'python3\\.12'],
      ['Handler', 'app\\.handler'],
      ['Memory', '256 MB'],
      ['Timeout', '3 s'],
      ['State', 'Active'],
      ['Last update', 'Successful'],
      ['Environment', 'TOKEN \\(values: --json\\)'],
      ['Role', 'arn:aws:iam::\\d+:role/\\S+'],
      ['Revision', '[0-9a-f-]{36}'],
      ['Repository type', 'S3'],
      ['Reserved', '5'],
      ['team', 'web'],
    ]) {
      expect(got.stdout).toMatch(new RegExp(`^  ${label}\\s+${value}$`, 'm'));
    }

    const v1 = await hearth(platform.url, 'get', 'hello:1');
    expect(v1.code).toBe(0);
    expect(v1.stdout).toMatch(/^ {2}Version\s+1$/m);
    const live = await hearth(platform.url, 'get', 'hello:live');
    expect(live.stdout).toMatch(/^ {2}Version\s+1$/m);

    const raw = JSON.parse((await hearth(platform.url, 'get', 'hello', '--json')).stdout) as { Configuration: { FunctionName: string; Environment: { Variables: Record<string, string> } }; Concurrency: unknown; Tags: unknown };
    expect(raw.Configuration.FunctionName).toBe('hello');
    expect(raw.Configuration.Environment.Variables).toEqual({ TOKEN: 'hunter2' });
    expect(raw.Concurrency).toEqual({ ReservedConcurrentExecutions: 5 });
    expect(raw.Tags).toEqual({ team: 'web' });
  });

  it('errors: Lambda\'s type and message, exit 1; usage errors exit 2', async () => {
    const missing = await hearth(platform.url, 'get', 'nope');
    expect([missing.code, missing.stderr.trim()]).toEqual([1, 'ResourceNotFoundException (404): Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope']);
    const noVersion = await hearth(platform.url, 'get', 'hello:9');
    expect([noVersion.code, noVersion.stderr]).toEqual([1, expect.stringContaining('ResourceNotFoundException (404)')]);
    expect((await hearth(platform.url, 'get', 'a:b:c')).code).toBe(2);
    expect((await hearth(platform.url, 'get')).code).toBe(2);
    expect((await hearth(platform.url, 'ls', 'hello')).code).toBe(2);
    const unreachable = await hearth('http://127.0.0.1:9', 'ls');
    expect([unreachable.code, unreachable.stderr]).toEqual([1, expect.stringContaining('cannot reach the gateway at http://127.0.0.1:9')]);
  });
});
