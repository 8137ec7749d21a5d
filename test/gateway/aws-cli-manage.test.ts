// Must show (issue 18), embedded default: AWS's own CLI manages a function on
// hearth up's platform exactly as a Lambda user would, in the order:
// create-function from a ZIP, wait function-active-v2, invoke,
// update-function-code --publish, wait function-updated-v2, create-alias with
// a routing config, invoke the alias, the three lists, reserved and
// provisioned concurrency (until READY), get-function whose Code.Location
// downloads the same bytes, delete-function. A caller without management
// actions is refused with 403 AccessDeniedException.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { awsCliPresent, awsLambda, pythonZip, type AwsCredentials, type CliResult } from '../helpers/aws-cli.js';
import { startPlatform } from '../helpers/platform.js';

const present = awsCliPresent();
const ADMIN: AwsCredentials = { accessKeyId: 'AKIAHEARTHMANAGE01', secretAccessKey: 'hearth-manage-secret-0123456789' };
const INVOKER: AwsCredentials = { accessKeyId: 'AKIAHEARTHINVOKE01', secretAccessKey: 'hearth-invoke-secret-0123456789' };
const FN = 'cli-made';
const ROLE = 'arn:aws:iam::000000000000:role/cli-made-runner';

describe.skipIf(!present)('the AWS CLI manages a function on the embedded platform (issue 18\'s sequence)', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let auth: CredentialsFileAuth | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-awscli-manage-'));
  const zipA = join(dir, 'a.zip');
  const zipB = join(dir, 'b.zip');

  beforeAll(async () => {
    writeFileSync(zipA, pythonZip('A'));
    writeFileSync(zipB, pythonZip('B'));
    const file = join(dir, 'credentials.yaml');
    writeFileSync(
      file,
      stringify({
        callers: [
          { name: 'deployer', ...ADMIN, functions: ['*'], actions: ['lambda:*'] },
          { name: 'invoker', ...INVOKER, functions: ['*'] },
        ],
      }),
    );
    auth = await authFromCredentialsFile(file);
    platform = await startPlatform({}, { auth: auth.options });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const aws = (args: string[], creds = ADMIN, timeoutMs?: number): Promise<CliResult> => {
    if (platform === undefined) throw new Error('no platform');
    return awsLambda(platform.url, creds, dir, args, timeoutMs);
  };
  const ok = async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await aws(args);
    expect(r.code, `aws lambda ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  };
  const invoke = async (qualifier?: string): Promise<{ meta: { StatusCode: number; ExecutedVersion: string }; answer: { code: string; greeting: string | null } }> => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
    const meta = (await ok(['invoke', '--function-name', FN, ...(qualifier ? ['--qualifier', qualifier] : []), '--payload', '{"n":1}', out])) as { StatusCode: number; ExecutedVersion: string };
    return { meta, answer: JSON.parse(readFileSync(out, 'utf8')) as { code: string; greeting: string | null } };
  };

  it('create-function --zip-file fileb://… answers the new function, Pending or Active', async () => {
    const created = await ok([
      'create-function', '--function-name', FN, '--runtime', 'python3.12', '--handler', 'app.handler', '--role', ROLE,
      '--zip-file', `fileb://${zipA}`, '--environment', 'Variables={GREETING=hello}', '--memory-size', '256', '--timeout', '10', '--publish',
    ]);
    expect(created).toMatchObject({ FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, MemorySize: 256, Timeout: 10, Version: '1' });
    expect(['Pending', 'Active']).toContain(created.State);
  });

  it('aws lambda wait function-active-v2 returns once it is Active', async () => {
    await ok(['wait', 'function-active-v2', '--function-name', FN]);
    expect(await ok(['get-function-configuration', '--function-name', FN])).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' });
  });

  it('invoke runs the uploaded code', async () => {
    const { meta, answer } = await invoke();
    expect(meta).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(answer).toMatchObject({ code: 'A', greeting: 'hello' });
  });

  it('update-function-code --publish makes version 2 with the new code; wait function-updated-v2', async () => {
    const updated = await ok(['update-function-code', '--function-name', FN, '--zip-file', `fileb://${zipB}`, '--publish']);
    expect(updated).toMatchObject({ FunctionName: FN, Version: '2' });
    await ok(['wait', 'function-updated-v2', '--function-name', FN]);
    expect(await ok(['get-function-configuration', '--function-name', FN])).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' });
    expect((await invoke()).answer.code).toBe('B');
    expect((await invoke('1')).answer.code).toBe('A');
  });

  it('create-alias --routing-config splits the alias; invoking it runs both versions, each its own code', async () => {
    const alias = await ok(['create-alias', '--function-name', FN, '--name', 'live', '--function-version', '1', '--routing-config', '{"AdditionalVersionWeights":{"2":0.5}}']);
    expect(alias).toMatchObject({ Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });
    const seen = new Set<string>();
    // 16 calls at 50 %: the chance of seeing only one version is 2 in 65,536.
    for (let round = 0; round < 4; round++) {
      const calls = await Promise.all([0, 1, 2, 3].map(() => invoke('live')));
      for (const { meta, answer } of calls) {
        expect(['1', '2']).toContain(meta.ExecutedVersion);
        expect(answer.code).toBe(meta.ExecutedVersion === '1' ? 'A' : 'B');
        seen.add(meta.ExecutedVersion);
      }
    }
    expect([...seen].sort()).toEqual(['1', '2']);
  }, 120_000);

  it('list-functions, list-versions-by-function and list-aliases show what was made', async () => {
    const fns = (await ok(['list-functions'])) as { Functions: Array<{ FunctionName: string }> };
    expect(fns.Functions.map((f) => f.FunctionName)).toEqual([FN]);
    const versions = (await ok(['list-versions-by-function', '--function-name', FN])) as { Versions: Array<{ Version: string }> };
    expect(versions.Versions.map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);
    const aliases = (await ok(['list-aliases', '--function-name', FN])) as { Aliases: Array<{ Name: string; FunctionVersion: string }> };
    expect(aliases.Aliases.map((a) => [a.Name, a.FunctionVersion])).toEqual([['live', '1']]);
  });

  it('put-function-concurrency reserves concurrency', async () => {
    expect(await ok(['put-function-concurrency', '--function-name', FN, '--reserved-concurrent-executions', '10'])).toEqual({ ReservedConcurrentExecutions: 10 });
    expect(await ok(['get-function-concurrency', '--function-name', FN])).toEqual({ ReservedConcurrentExecutions: 10 });
  });

  it('put-provisioned-concurrency-config on the alias, IN_PROGRESS until the instances are warm, then READY', async () => {
    const put = await ok(['put-provisioned-concurrency-config', '--function-name', FN, '--qualifier', 'live', '--provisioned-concurrent-executions', '2']);
    expect(put).toMatchObject({ RequestedProvisionedConcurrentExecutions: 2 });
    expect(['IN_PROGRESS', 'READY']).toContain(put.Status);
    const deadline = Date.now() + 90_000;
    let got: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      got = await ok(['get-provisioned-concurrency-config', '--function-name', FN, '--qualifier', 'live']);
      if (got.Status === 'READY') break;
      expect(got.Status).toBe('IN_PROGRESS');
      await sleep(500);
    }
    expect(got).toMatchObject({ Status: 'READY', RequestedProvisionedConcurrentExecutions: 2, AllocatedProvisionedConcurrentExecutions: 2, AvailableProvisionedConcurrentExecutions: 2 });
  }, 120_000);

  it('get-function\'s Code.Location downloads the same bytes as the ZIP uploaded', async () => {
    const got = (await ok(['get-function', '--function-name', FN])) as { Configuration: { CodeSha256: string; CodeSize: number }; Code: { Location: string } };
    const res = await fetch(got.Code.Location);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(readFileSync(zipB))).toBe(true);
  });

  it('get-function of a published version gives its own package\'s Code.Location', async () => {
    const v1 = (await ok(['get-function', '--function-name', FN, '--qualifier', '1'])) as { Code: { Location?: string } };
    expect(v1.Code.Location, JSON.stringify(v1.Code)).toEqual(expect.any(String));
    expect(Buffer.from(await (await fetch(v1.Code.Location ?? '')).arrayBuffer()).equals(readFileSync(zipA))).toBe(true);
  });

  it('CodeSha256 and CodeSize are the package\'s (base64 SHA-256, bytes), for $LATEST and each version, on every read', async () => {
    const seen: Array<[string, string, number]> = [];
    const wanted: Array<[string, string, number]> = [];
    for (const [qualifier, zip] of [['$LATEST', zipB], ['1', zipA], ['2', zipB]] as const) {
      const bytes = readFileSync(zip);
      const got = (await ok(['get-function-configuration', '--function-name', FN, '--qualifier', qualifier])) as { CodeSha256: string; CodeSize: number };
      seen.push([qualifier, got.CodeSha256, got.CodeSize]);
      wanted.push([qualifier, createHash('sha256').update(bytes).digest('base64'), bytes.length]);
    }
    expect(seen).toEqual(wanted);
  });

  it('a caller without management actions gets 403 AccessDeniedException, and may still invoke', async () => {
    for (const args of [['get-function', '--function-name', FN], ['list-functions'], ['delete-function', '--function-name', FN], ['create-function', '--function-name', 'other', '--runtime', 'python3.12', '--handler', 'app.handler', '--role', ROLE, '--zip-file', `fileb://${zipA}`]]) {
      const r = await aws(args, INVOKER);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/\(AccessDeniedException\).*User: invoker is not authorized to perform: lambda:/);
    }
    const r = await aws(['invoke', '--function-name', FN, join(dir, 'invoker.json')], INVOKER);
    expect(r.code, r.stderr).toBe(0);
  });

  it('delete-function removes it: its file, its versions, and further calls find nothing', async () => {
    await ok(['delete-function', '--function-name', FN]);
    const r = await aws(['get-function', '--function-name', FN]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ResourceNotFoundException');
    expect(((await ok(['list-functions'])) as { Functions: unknown[] }).Functions).toEqual([]);
    const inv = await aws(['invoke', '--function-name', FN, join(dir, 'gone.json')]);
    expect(inv.stderr).toContain('ResourceNotFoundException');
  });
});
