// AWS's own CLI against the gateway, as a user points it at Lambda: sync
// invoke, log tail, Event, an unknown function, and SigV4 authentication
// with configured credentials (accepted when right, refused when wrong).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { startPlatform } from '../helpers/platform.js';

const run = promisify(execFile);
const AWS = resolve(process.env.HEARTH_AWS_CLI ?? '.cache/awscli/bin/aws');
const helloPython = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;
const KEY_ID = 'AKIAHEARTHTEST0001';
const SECRET = 'hearth-test-secret-key-0123456789';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const present = existsSync(AWS);
if (!present && process.env.CI === 'true') throw new Error(`the AWS CLI is required under CI=true (make test installs it at ${AWS})`);

describe.skipIf(!present)(`AWS CLI against the gateway${present ? '' : ` (skipped: no AWS CLI at ${AWS}; make test installs it)`}`, () => {
  let platform: Platform;
  let auth: CredentialsFileAuth;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-awscli-'));

  beforeAll(async () => {
    const file = join(dir, 'credentials.yaml');
    writeFileSync(file, stringify({ callers: [{ name: 'cli', accessKeyId: KEY_ID, secretAccessKey: SECRET, functions: ['hello-python', 'nope'] }] }));
    auth = await authFromCredentialsFile(file);
    platform = await startPlatform({ 'hello-python': helloPython }, { auth: auth.options });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    auth?.close();
  });

  async function aws(args: string[], secret = SECRET): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: secret, AWS_DEFAULT_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '1' };
    try {
      const { stdout, stderr } = await run(AWS, ['--endpoint-url', platform.url, 'lambda', ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('invokes the Lambda guide\'s handler and writes its answer', async () => {
    const out = join(dir, 'out.json');
    const r = await aws(['invoke', '--function-name', 'hello-python', '--payload', '{"key":"value"}', '--log-type', 'Tail', out]);
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(r.stdout) as { StatusCode: number; ExecutedVersion: string; LogResult: string };
    expect(meta.StatusCode).toBe(200);
    expect(meta.ExecutedVersion).toBe('$LATEST');
    expect(Buffer.from(meta.LogResult, 'base64').toString()).toMatch(/REPORT RequestId/);
    expect(readFileSync(out, 'utf8')).toBe('{"statusCode": 200, "body": "\\"Hello, world!\\""}');
  });

  it('queues an Event invocation', async () => {
    const r = await aws(['invoke', '--function-name', 'hello-python', '--invocation-type', 'Event', join(dir, 'event.json')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ StatusCode: 202 });
  });

  it('reports an unknown function as Lambda does', async () => {
    const r = await aws(['invoke', '--function-name', 'nope', join(dir, 'x.json')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ResourceNotFoundException');
  });

  it('refuses a request signed with the wrong secret', async () => {
    const r = await aws(['invoke', '--function-name', 'hello-python', join(dir, 'y.json')], 'not-the-secret-at-all-0123456789');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('InvalidSignatureException');
  });
});
