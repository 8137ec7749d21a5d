// hearth publish, hearth alias and hearth versions as a user runs them
// against a running embedded platform (the CLI as a child process, talking
// to the gateway through HEARTH_URL), and their argument checks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAlias, parseAliasArgs } from '../../src/cli/alias.js';
import { provisionedByAlias, provisionedLabel } from '../../src/cli/provisioned-concurrency.js';
import { versionsReport } from '../../src/cli/versions.js';
import { runHearth } from '../helpers/hearth-cli.js';
import { functionYaml, py, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const hearth = (url: string, ...args: string[]) => runHearth({ url }, ...args);

describe('parseAliasArgs', () => {
  it.each([
    { argv: ['f', 'live', '1'], values: {}, out: { name: 'f', alias: 'live', version: '1' } },
    { argv: ['f', 'live', '$LATEST'], values: { 'min-instances': '2' }, out: { name: 'f', alias: 'live', version: '$LATEST', minInstances: 2 } },
    { argv: ['f', 'live', '1'], values: { weight: ['2=10'] }, out: { name: 'f', alias: 'live', version: '1', weight: { version: '2', weight: 0.1 } } },
    { argv: ['f', 'live', '1'], values: { weight: ['2=33.3%'], description: 'canary' }, out: { name: 'f', alias: 'live', version: '1', weight: { version: '2', weight: 0.333 }, description: 'canary' } },
    { argv: ['f', 'live', '1'], values: { weight: ['2=0'] }, out: { name: 'f', alias: 'live', version: '1', weight: { version: '2', weight: 0 } } },
  ])('reads $argv $values', ({ argv, values, out }) => {
    expect(parseAliasArgs(argv, values)).toEqual(out);
  });

  it.each([
    { argv: ['f', 'live'], values: {}, error: 'expected NAME ALIAS VERSION, got f live' },
    { argv: ['f', 'live', 'two'], values: {}, error: 'VERSION must be a version number or $LATEST' },
    { argv: ['f', '3', '1'], values: {}, error: 'an alias may not be named like a version (3)' },
    { argv: ['f', '$LATEST', '1'], values: {}, error: 'an alias may not be named like a version ($LATEST)' },
    { argv: ['f', 'live', '1'], values: { weight: ['2=10', '3=5'] }, error: 'at most one --weight' },
    { argv: ['f', 'live', '1'], values: { weight: ['2:10'] }, error: '--weight must be VERSION=PERCENT' },
    { argv: ['f', 'live', '1'], values: { weight: ['2=150'] }, error: 'between 0 and 100' },
    { argv: ['f', 'live', '1'], values: { weight: ['1=10'] }, error: "is the alias's own version" },
    { argv: ['f', 'live', '$LATEST'], values: { weight: ['2=10'] }, error: 'not $LATEST' },
    { argv: ['f', 'live', '1'], values: { 'min-instances': '-1' }, error: '--min-instances must be a whole number from 0 to 1000' },
  ])('refuses $argv $values', ({ argv, values, error }) => {
    expect(parseAliasArgs(argv, values)).toContain(error);
  });

  it('describes an alias in one line', () => {
    const ready = { RequestedProvisionedConcurrentExecutions: 1, Status: 'READY' };
    expect(describeAlias({ Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } }, ready)).toBe('live → 1 (90 %), 2 (10 %); provisioned concurrency 1 (READY)');
    expect(describeAlias({ Name: 'live', FunctionVersion: '2' })).toBe('live → 2');
  });

  it('provisioned concurrency: by alias from the list\'s ARNs, shown as count and status', () => {
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:f';
    const byAlias = provisionedByAlias([
      { FunctionArn: `${arn}:live`, RequestedProvisionedConcurrentExecutions: 2, Status: 'READY' },
      { FunctionArn: `${arn}:edge`, RequestedProvisionedConcurrentExecutions: 8, Status: 'IN_PROGRESS' },
    ]);
    expect([...byAlias.keys()]).toEqual(['live', 'edge']);
    expect(provisionedLabel(byAlias.get('live'))).toBe('2 (READY)');
    expect(provisionedLabel(byAlias.get('edge'))).toBe('8 (IN_PROGRESS)');
    expect(provisionedLabel(byAlias.get('canary'))).toBe('—');
    expect(provisionedLabel({ RequestedProvisionedConcurrentExecutions: 0, Status: 'READY' })).toBe('—');
  });

  it('versions table: each version with the aliases sending it calls and their share', () => {
    const out = versionsReport(
      [{ Version: '$LATEST' }, { Version: '1', Description: 'code A', LastModified: '2026-01-01T00:00:00.000+0000' }, { Version: '2' }],
      [{ Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } }, { Name: 'edge', FunctionVersion: '$LATEST' }],
      new Map([['edge', { RequestedProvisionedConcurrentExecutions: 2, Status: 'IN_PROGRESS' }]]),
    );
    const line = (start: string) => out.split('\n').find((l) => l.startsWith(start)) ?? '';
    expect(line('$LATEST')).toContain('edge');
    expect(line('1 ')).toContain('live (90 %)');
    expect(line('1 ')).toContain('code A');
    expect(line('2 ')).toContain('live (10 %)');
    expect(out).toMatch(/^ALIAS\s+VERSION\s+ROUTING\s+PROVISIONED\s+DESCRIPTION$/m);
    expect(line('live')).toMatch(/live\s+1\s+1 90 %, 2 10 %\s+—$/);
    expect(line('edge')).toMatch(/edge\s+\$LATEST\s+\$LATEST 100 %\s+2 \(IN_PROGRESS\)$/);
    // Provisioned concurrency the caller may not read: the rest of the table still shows.
    const unread = versionsReport([{ Version: '$LATEST' }], [{ Name: 'edge', FunctionVersion: '$LATEST' }], '?');
    expect(unread.split('\n').find((l) => l.startsWith('edge'))).toMatch(/edge\s+\$LATEST\s+\$LATEST 100 %\s+\?$/);
  });
});

describe('hearth publish, alias and versions against hearth up', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform({ hello: py('def handler(e, c):\n    return "A"\n') });
  }, 60_000);
  afterAll(async () => platform?.close());

  it('publish prints the number, and says when the function was unchanged', async () => {
    const first = await hearth(platform.url, 'publish', 'hello', '--description', 'code A');
    expect([first.code, first.stdout.trim()]).toEqual([0, '1']);
    expect(first.stderr).toBe('');
    const again = await hearth(platform.url, 'publish', 'hello');
    expect([again.code, again.stdout.trim()]).toEqual([0, '1']);
    expect(again.stderr).toContain('hello has not changed since version 1: no new version published');

    const file = join(platform.dir, 'hello.yaml');
    writeFileSync(file, functionYaml('hello', py('def handler(e, c):\n    return "B"\n')));
    await waitFor('the edit loaded', () => platform.catalog.get('hello')?.spec.code.inline?.['app.py']?.includes('"B"'), 10_000);
    expect((await hearth(platform.url, 'publish', 'hello')).stdout.trim()).toBe('2');
  });

  it('alias creates, shifts and promotes; the Function file holds it; versions lists both', async () => {
    const created = await hearth(platform.url, 'alias', 'hello', 'live', '1', '--min-instances', '1');
    // The minimum it sent (CreateAlias's MinInstances, Hearth's extension) read back as Lambda's provisioned concurrency.
    expect([created.code, created.stderr, created.stdout.trim()]).toEqual([0, '', expect.stringMatching(/^live → 1; provisioned concurrency 1 \((IN_PROGRESS|READY)\)$/)]);
    // The alias's provisioned minimum starts version 1's own instance before any call, and none of version 2's.
    const ready = (key: string) => platform.backend.instances(key).filter((i) => i.state === 'ready').length;
    await waitFor('version 1 warm for live', () => ready('hello:1') === 1, 20_000);
    expect(ready('hello:2')).toBe(0);
    const shifted = await hearth(platform.url, 'alias', 'hello', 'live', '1', '--weight', '2=10');
    // --min-instances left out keeps what the alias had.
    expect([shifted.code, shifted.stdout.trim()]).toEqual([0, expect.stringMatching(/^live → 1 \(90 %\), 2 \(10 %\); provisioned concurrency 1 \((IN_PROGRESS|READY)\)$/)]);
    expect(readFileSync(join(platform.dir, 'hello.yaml'), 'utf8')).toContain('additionalVersionWeights:\n        "2": 0.1');
    // Split by weight, rounded up: the 10 % version gets a warm instance too.
    await waitFor('version 2 warm for its 10 % of live', () => ready('hello:2') === 1, 20_000);
    expect(ready('hello:1')).toBe(1);
    const listed = await hearth(platform.url, 'versions', 'hello');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^\$LATEST/m);
    expect(listed.stdout).toMatch(/^1\s.*live \(90 %\).*code A/m);
    expect(listed.stdout).toMatch(/^2\s.*live \(10 %\)/m);
    // Both versions' instances are ready (waited for above): the alias's provisioned concurrency is READY.
    expect(listed.stdout).toMatch(/^live\s+1\s+1 90 %, 2 10 %\s+1 \(READY\)$/m);
    const json = JSON.parse((await hearth(platform.url, 'versions', 'hello', '--json')).stdout) as { Aliases: Record<string, unknown>[]; ProvisionedConcurrencyConfigs: Record<string, unknown>[] };
    expect(json.Aliases[0]).not.toHaveProperty('MinInstances');
    expect(json.ProvisionedConcurrencyConfigs).toEqual([expect.objectContaining({ FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:hello:live', RequestedProvisionedConcurrentExecutions: 1, Status: 'READY' })]);
    const promoted = await hearth(platform.url, 'alias', 'hello', 'live', '2');
    expect(promoted.stdout.trim()).toMatch(/^live → 2; provisioned concurrency 1 \((IN_PROGRESS|READY)\)$/);
    expect(platform.catalog.get('hello')?.spec.aliases).toEqual([{ name: 'live', version: '2', minInstances: 1 }]);
  });

  it('clear errors: bad arguments exit 2, what the gateway refuses exits 1 with Lambda\'s error', async () => {
    const usage = await hearth(platform.url, 'alias', 'hello', 'live');
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('hearth alias: expected NAME ALIAS VERSION')]);
    const missing = await hearth(platform.url, 'alias', 'hello', 'live', '9');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('InvalidParameterValueException (400): FunctionVersion (spec.aliases[0].version): version 9 does not exist');
    const unknown = await hearth(platform.url, 'publish', 'nope');
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'ResourceNotFoundException (404): Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope']);
    const versions = await hearth(platform.url, 'versions');
    expect(versions.code).toBe(2);
    const unreachable = await hearth('http://127.0.0.1:9', 'versions', 'hello');
    expect([unreachable.code, unreachable.stderr]).toEqual([1, expect.stringContaining('cannot reach the gateway at http://127.0.0.1:9')]);
  });
});
