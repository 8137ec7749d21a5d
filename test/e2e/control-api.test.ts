// Must show (issue 18) on the process-node cluster: AWS's own CLI manages a
// function through the gateway's Service exactly as on Lambda, in the
// issue's order (create-function from a ZIP, wait function-active-v2,
// invoke, update-function-code --publish, wait function-updated-v2,
// create-alias --routing-config, invoke the alias, the three lists, reserved
// and provisioned concurrency until READY, get-function whose Code.Location
// downloads the same bytes, delete-function). The API writes the same
// Function object kubectl does: `kubectl get functions` shows what the API
// made, a kubectl edit of the spec shows in get-function, and delete-function
// removes the object and its versions. Packages go to the chart's Redis (its
// default). A caller without management actions gets 403.
//
// The AWS CLI signs with SigV4, so two SigV4 callers are added to the
// release's credentials Secret beside the chart's generated API key (kept, so
// the other files' calls go on working) and the gateway restarted to read it.
// Runs on the release hearth.test.ts installed, or installs it when run alone.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot } from '../cluster/node/images.js';
import { AWS_PYTHON, awsCliPresent, awsLambda, pythonZip, type AwsCredentials, type CliResult } from '../helpers/aws-cli.js';
import { findLambdaModel, loadModel } from '../helpers/botocore-model.js';
import { conformanceWalk } from '../helpers/conformance-walk.js';
import { GATEWAY, NS, api, apiKey, ensureRelease, isReady, kubectl, pods, until } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'cli-made';
const ROLE = 'arn:aws:iam::000000000000:role/cli-made-runner';
const DEPLOYER: AwsCredentials = { accessKeyId: 'AKIAHEARTHE2EDEPLOY', secretAccessKey: 'hearth-e2e-deployer-secret-0123456789' };
const INVOKER: AwsCredentials = { accessKeyId: 'AKIAHEARTHE2EINVOKE', secretAccessKey: 'hearth-e2e-invoker-secret-0123456789' };
const SECRET = 'hearth-gateway-auth';
const INVOKER_KEY = 'hearth-e2e-invoker-key-0123456789';
const MODEL_PATH = findLambdaModel();
if (MODEL_PATH === undefined && process.env.CI === 'true') throw new Error('botocore\'s Lambda model is required under CI=true (make test installs the AWS CLI into .cache/awscli)');

const present = awsCliPresent();

interface SecretWire {
  metadata: { resourceVersion?: string };
  data: Record<string, string>;
}

/** Adds the SigV4 callers to the release's credentials file (keeping every caller there) and restarts the gateway to read it. */
async function addSigV4Callers(): Promise<void> {
  const path = `/api/v1/namespaces/${NS}/secrets/${SECRET}`;
  const secret = await api().get<SecretWire>(path);
  const file = parse(Buffer.from(secret.data['credentials.yaml'] ?? '', 'base64').toString('utf8')) as { callers: Array<{ name: string }> };
  const callers = file.callers.filter((c) => !c.name.startsWith('e2e-'));
  callers.push(
    { name: 'e2e-deployer', ...DEPLOYER, functions: ['*'], actions: ['lambda:*'] } as { name: string },
    { name: 'e2e-invoker', ...INVOKER, functions: ['*'] } as { name: string },
    { name: 'e2e-invoker-key', apiKey: INVOKER_KEY, functions: ['*'] } as { name: string },
  );
  const text = stringify({ ...file, callers });
  await kubectl('patch', 'secret', SECRET, '--namespace', NS, '--type', 'merge', '-p', JSON.stringify({ data: { 'credentials.yaml': Buffer.from(text).toString('base64') } }));
  await restartGateway();
}

/**
 * Restarts the gateway's pods and waits until only new ones are left: the
 * rollout is complete before the old pods have stopped, and until then the
 * Service may still send a call to one with the old credentials.
 */
async function restartGateway(): Promise<void> {
  await kubectl('rollout', 'restart', 'deployment/hearth-gateway', '--namespace', NS);
  await kubectl('rollout', 'status', 'deployment/hearth-gateway', '--namespace', NS, '--timeout=240s');
  const deployment = await api().get<{ spec: { replicas?: number; selector: { matchLabels: Record<string, string> } }; status: { updatedReplicas?: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/hearth-gateway`);
  const selector = Object.entries(deployment.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
  await until('only the restarted gateway pods left', async () => {
    const list = await pods(NS, selector);
    return list.length === (deployment.spec.replicas ?? 1) && list.every((p) => p.metadata.deletionTimestamp === undefined && isReady(p)) ? true : undefined;
  }, 180_000, 1_000);
}

/** Once per run: the release, the execution role's ServiceAccount, and the SigV4 and invoke-only callers. */
let prepared: Promise<void> | undefined;
function prepare(): Promise<void> {
  prepared ??= (async () => {
    await ensureRelease();
    // The execution role the CLI's function is created with: a ServiceAccount of that name, as a Lambda role must exist.
    await kubectl('create', 'serviceaccount', 'cli-made-runner', '--namespace', NS).catch((err: unknown) => {
      if (!/AlreadyExists/.test(String(err))) throw err;
    });
    await addSigV4Callers();
  })();
  return prepared;
}

describe.runIf(inject('e2e') !== undefined && present).sequential('the AWS CLI manages a function on the process-node cluster (issue 18)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-e2e-awscli-'));
  const zipA = join(dir, 'a.zip');
  const zipB = join(dir, 'b.zip');

  beforeAll(async () => {
    writeFileSync(zipA, pythonZip('A'));
    writeFileSync(zipB, pythonZip('B'));
    await prepare();
    // The restarted gateway answers the deployer (a read that needs a management action).
    await until('the gateway to accept the SigV4 deployer', async () => ((await aws(['list-functions'])).code === 0 ? true : undefined), 120_000, 1_000);
  }, 600_000);
  afterAll(async () => {
    // Its pods would only take the machine from the files after this one.
    await kubectl('delete', 'function', '--namespace', NS, FN, '--wait=false', '--ignore-not-found').catch(() => undefined);
    await kubectl('delete', 'serviceaccount', '--namespace', NS, 'cli-made-runner', '--ignore-not-found').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  function aws(args: string[], creds = DEPLOYER, timeoutMs = 180_000): Promise<CliResult> {
    return awsLambda(GATEWAY, creds, dir, args, timeoutMs);
  }
  async function ok(args: string[], timeoutMs?: number): Promise<Record<string, unknown>> {
    const r = await aws(args, DEPLOYER, timeoutMs);
    expect(r.code, `aws lambda ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  }
  async function invoke(qualifier?: string): Promise<{ meta: { StatusCode: number; ExecutedVersion: string }; answer: { code: string; greeting: string | null } }> {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
    const meta = (await ok(['invoke', '--function-name', FN, ...(qualifier ? ['--qualifier', qualifier] : []), '--payload', '{"n":1}', out])) as { StatusCode: number; ExecutedVersion: string };
    return { meta, answer: JSON.parse(readFileSync(out, 'utf8')) as { code: string; greeting: string | null } };
  }
  const functionObject = (): Promise<{ metadata: { generation: number }; spec: Record<string, unknown> }> => api().get(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);

  it('create-function --zip-file fileb://… makes a Function object that kubectl get functions shows', async () => {
    const created = await ok([
      'create-function', '--function-name', FN, '--runtime', 'python3.12', '--handler', 'app.handler', '--role', ROLE,
      '--zip-file', `fileb://${zipA}`, '--environment', 'Variables={GREETING=hello}', '--memory-size', '256', '--timeout', '30', '--publish',
    ]);
    expect(created).toMatchObject({ FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', MemorySize: 256, Timeout: 30, Version: '1' });
    const listed = await kubectl('get', 'functions', '--namespace', NS);
    expect(listed).toMatch(new RegExp(`^${FN}\\s`, 'm'));
    const fn = await functionObject();
    expect(fn.spec).toMatchObject({ runtime: 'python3.12', handler: 'app.handler', memoryMB: 256, timeoutSeconds: 30, serviceAccountName: 'cli-made-runner' });
    expect(JSON.stringify(fn.spec.env)).toContain('GREETING');
    // The package the API took is named by its digest, served by the gateway from the chart's package store.
    const sha = createHash('sha256').update(readFileSync(zipA)).digest('hex');
    expect((fn.spec.code as { package?: { url?: string; sha256?: string } }).package).toMatchObject({ sha256: sha, url: expect.stringContaining(`/packages/${sha}`) });
  });

  it('wait function-active-v2, then invoke runs the uploaded code (fetched by the instance from the chart\'s package store)', async () => {
    await ok(['wait', 'function-active-v2', '--function-name', FN], 330_000);
    expect(await ok(['get-function-configuration', '--function-name', FN])).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' });
    const { meta, answer } = await invoke();
    expect(meta).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(answer).toMatchObject({ code: 'A', greeting: 'hello' });
  }, 400_000);

  it('update-function-code --publish makes version 2; wait function-updated-v2; each version runs its own code', async () => {
    expect(await ok(['update-function-code', '--function-name', FN, '--zip-file', `fileb://${zipB}`, '--publish'])).toMatchObject({ Version: '2' });
    await ok(['wait', 'function-updated-v2', '--function-name', FN], 330_000);
    await until('$LATEST answering with code B', async () => ((await invoke()).answer.code === 'B' ? true : undefined), 180_000, 1_000);
    expect((await invoke('1')).answer.code).toBe('A');
    expect((await invoke('2')).answer.code).toBe('B');
  }, 600_000);

  it('create-alias --routing-config; invoking the alias runs both versions', async () => {
    expect(await ok(['create-alias', '--function-name', FN, '--name', 'live', '--function-version', '1', '--routing-config', '{"AdditionalVersionWeights":{"2":0.5}}'])).toMatchObject({
      Name: 'live',
      FunctionVersion: '1',
      RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } },
    });
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const { meta, answer } = await invoke('live');
      expect(answer.code).toBe(meta.ExecutedVersion === '1' ? 'A' : 'B');
      seen.add(meta.ExecutedVersion);
    }
    expect([...seen].sort()).toEqual(['1', '2']);
  }, 300_000);

  it('list-functions, list-versions-by-function, list-aliases', async () => {
    const fns = (await ok(['list-functions'])) as { Functions: Array<{ FunctionName: string }> };
    expect(fns.Functions.map((f) => f.FunctionName)).toContain(FN);
    expect(((await ok(['list-versions-by-function', '--function-name', FN])) as { Versions: Array<{ Version: string }> }).Versions.map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);
    expect(((await ok(['list-aliases', '--function-name', FN])) as { Aliases: Array<{ Name: string }> }).Aliases.map((a) => a.Name)).toEqual(['live']);
  });

  it('put-function-concurrency; put-provisioned-concurrency-config on the alias until READY', async () => {
    expect(await ok(['put-function-concurrency', '--function-name', FN, '--reserved-concurrent-executions', '10'])).toEqual({ ReservedConcurrentExecutions: 10 });
    expect((await functionObject()).spec.reservedConcurrency).toBe(10);
    const put = await ok(['put-provisioned-concurrency-config', '--function-name', FN, '--qualifier', 'live', '--provisioned-concurrent-executions', '2']);
    expect(['IN_PROGRESS', 'READY']).toContain(put.Status);
    const deadline = Date.now() + 300_000;
    let got: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      got = await ok(['get-provisioned-concurrency-config', '--function-name', FN, '--qualifier', 'live']);
      if (got.Status === 'READY') break;
      expect(got.Status).toBe('IN_PROGRESS');
      await sleep(2_000);
    }
    expect(got).toMatchObject({ Status: 'READY', RequestedProvisionedConcurrentExecutions: 2, AllocatedProvisionedConcurrentExecutions: 2 });
  }, 400_000);

  it('get-function\'s Code.Location downloads the same bytes as the ZIP uploaded, also after the gateway restarted', async () => {
    const got = (await ok(['get-function', '--function-name', FN])) as { Code: { Location: string } };
    const res = await fetch(got.Code.Location);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(zipB))).toBe(true);
    // Packages live in the chart's Redis, not in a gateway: new gateway pods serve them.
    await restartGateway();
    const again = await until('get-function from the restarted gateway', async () => {
      const r = await aws(['get-function', '--function-name', FN, '--qualifier', '1']);
      return r.code === 0 ? (JSON.parse(r.stdout) as { Code: { Location: string } }) : undefined;
    }, 120_000, 1_000);
    expect(Buffer.from(await (await fetch(again.Code.Location)).arrayBuffer()).equals(readFileSync(zipA))).toBe(true);
  }, 400_000);

  it('a kubectl edit of the spec shows in get-function', async () => {
    const before = (await ok(['get-function', '--function-name', FN])) as { Configuration: { RevisionId: string } };
    await kubectl('patch', 'function', FN, '--namespace', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { memoryMB: 384, description: 'edited with kubectl' } }));
    const after = (await ok(['get-function', '--function-name', FN])) as { Configuration: { MemorySize: number; Description: string; RevisionId: string } };
    expect(after.Configuration).toMatchObject({ MemorySize: 384, Description: 'edited with kubectl' });
    expect(after.Configuration.RevisionId).not.toBe(before.Configuration.RevisionId);
    // The API's RevisionId is the object's: an update with the one from before kubectl's edit is refused.
    const stale = await aws(['update-function-configuration', '--function-name', FN, '--timeout', '20', '--revision-id', before.Configuration.RevisionId]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('PreconditionFailedException');
    await ok(['wait', 'function-updated-v2', '--function-name', FN], 330_000);
  }, 400_000);

  it('a caller without management actions gets 403 AccessDeniedException and may still invoke', async () => {
    for (const args of [['get-function', '--function-name', FN], ['delete-function', '--function-name', FN], ['create-function', '--function-name', 'other', '--runtime', 'python3.12', '--handler', 'app.handler', '--role', ROLE, '--zip-file', `fileb://${zipA}`]]) {
      const r = await aws(args, INVOKER);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/\(AccessDeniedException\).*User: e2e-invoker is not authorized to perform: lambda:/);
    }
    const r = await aws(['invoke', '--function-name', FN, join(dir, 'invoker.json')], INVOKER);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  it('delete-function removes the Function object and its versions', async () => {
    await ok(['delete-function', '--function-name', FN]);
    await until(`${FN} gone from kubectl get functions`, async () => ((await kubectl('get', 'functions', '--namespace', NS, '--ignore-not-found', FN)).trim() === '' ? true : undefined), 60_000, 500);
    await until(`${FN}'s FunctionVersions garbage-collected`, async () => {
      const list = await api().get<{ items: Array<{ metadata: { name: string } }> }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functionversions`);
      return list.items.some((v) => v.metadata.name.startsWith(`${FN}-v`)) ? undefined : true;
    }, 120_000, 1_000);
    const r = await aws(['get-function', '--function-name', FN]);
    expect(r.stderr).toContain('ResourceNotFoundException');
  }, 200_000);
});

describe.runIf(inject('e2e') !== undefined && present && MODEL_PATH !== undefined).sequential('every operation the gateway serves against botocore\'s output shapes, and Lambda\'s error cases, on the process-node cluster', () => {
  let key = '';
  beforeAll(async () => {
    await prepare();
    key = await apiKey();
    // A function made with kubectl, not the API: the error cases' subject.
    await applyPython('conform-kubectl', 'def lambda_handler(event, context):\n    return 1\n', {});
  }, 600_000);
  afterAll(async () => {
    await kubectl('delete', 'function', '--namespace', NS, 'conform-kubectl', 'conform', '--wait=false', '--ignore-not-found').catch(() => undefined);
  }, 60_000);

  if (MODEL_PATH !== undefined) {
    conformanceWalk(loadModel(MODEL_PATH), {
      url: () => GATEWAY,
      get adminKey() {
        return key;
      },
      invokerKey: INVOKER_KEY,
      invokerName: 'e2e-invoker-key',
      existing: 'conform-kubectl',
      fn: 'conform',
      waitMs: 300_000,
      loopback: false,
    });
  }
});

describe.runIf(inject('e2e') !== undefined && present).sequential('boto3\'s Lambda waiters against the cluster gateway', () => {
  beforeAll(prepare, 600_000);

  it('function_active_v2, function_updated_v2 and published_version_active return when Lambda\'s would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-e2e-boto3-'));
    try {
      writeFileSync(join(dir, 'a.zip'), pythonZip('A'));
      writeFileSync(join(dir, 'b.zip'), pythonZip('B'));
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        HEARTH_ENDPOINT: GATEWAY,
        AWS_ACCESS_KEY_ID: DEPLOYER.accessKeyId,
        AWS_SECRET_ACCESS_KEY: DEPLOYER.secretAccessKey,
        HEARTH_FUNCTION: 'boto3-made',
        HEARTH_ROLE: 'arn:aws:iam::000000000000:role/boto3-made',
        HEARTH_ZIP_A: join(dir, 'a.zip'),
        HEARTH_ZIP_B: join(dir, 'b.zip'),
        // A package the process node cannot run is a crash at start there, which Lambda reports per invocation, not as State Failed.
        HEARTH_SKIP_FAILED_CASE: '1',
        HEARTH_WAIT_ATTEMPTS: '300',
      };
      const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(AWS_PYTHON, [join(repoRoot, 'test/control/boto3_waiters.py')], { env, timeout: 900_000 }, (err, stdout, stderr) => done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 124, stdout, stderr })),
      );
      expect(out.code, out.stderr).toBe(0);
      const seen = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      expect(seen.active_state).toBe('Active');
      expect(seen.after_config).toEqual({ State: 'Active', LastUpdateStatus: 'Successful' });
      expect(seen.greeting).toBe('bonjour');
      expect(seen.invoked_after_code_update).toMatchObject({ code: 'B', greeting: 'bonjour' });
      expect(seen.published).toEqual({ Version: '1', State: 'Active', LastUpdateStatus: 'Successful' });
      expect(seen.invoked_version).toMatchObject({ code: 'B' });
    } finally {
      await kubectl('delete', 'function', '--namespace', NS, 'boto3-made', '--wait=false', '--ignore-not-found').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_000_000);
});
