// boto3's Lambda waiters work unchanged against the embedded gateway (issue
// 18): function_active_v2 after create_function, function_updated_v2 after a
// configuration and a code update, published_version_active after
// publish_version, and function_active_v2 stopping at Failed for a function
// that cannot run (a custom runtime's package without a bootstrap). The Python side is test/control/boto3_waiters.py, run with
// the AWS CLI venv's Python (make test installs boto3 there).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { AWS_PYTHON, pythonZip } from '../helpers/aws-cli.js';
import { startPlatform } from '../helpers/platform.js';

const SCRIPT = resolve('test/control/boto3_waiters.py');
const KEY_ID = 'AKIAHEARTHBOTO3001';
const SECRET = 'hearth-boto3-secret-0123456789';

function boto3Present(): boolean {
  const present = existsSync(AWS_PYTHON) && existsSync(join(resolve('.cache/awscli'), '.awscli-boto3'));
  if (!present && process.env.CI === 'true') throw new Error(`boto3 is required under CI=true (make test installs it into .cache/awscli)`);
  return present;
}
const present = boto3Present();

describe.skipIf(!present)('boto3\'s Lambda waiters against the embedded gateway', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let auth: CredentialsFileAuth | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-boto3-'));

  beforeAll(async () => {
    const file = join(dir, 'credentials.yaml');
    writeFileSync(file, stringify({ callers: [{ name: 'pipeline', accessKeyId: KEY_ID, secretAccessKey: SECRET, functions: ['*'], actions: ['lambda:*'] }] }));
    auth = await authFromCredentialsFile(file);
    platform = await startPlatform({}, { auth: auth.options });
    writeFileSync(join(dir, 'a.zip'), pythonZip('A'));
    writeFileSync(join(dir, 'b.zip'), pythonZip('B'));
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('function_active_v2, function_updated_v2 and published_version_active return when Lambda\'s would, and function_active_v2 stops at Failed', async () => {
    if (platform === undefined) throw new Error('no platform');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      HEARTH_ENDPOINT: platform.url,
      AWS_ACCESS_KEY_ID: KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET,
      HEARTH_FUNCTION: 'boto3-made',
      HEARTH_ROLE: 'arn:aws:iam::000000000000:role/boto3-runner',
      HEARTH_ZIP_A: join(dir, 'a.zip'),
      HEARTH_ZIP_B: join(dir, 'b.zip'),
    };
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(AWS_PYTHON, [SCRIPT], { env, timeout: 240_000 }, (err, stdout, stderr) => done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 124, stdout, stderr })),
    );
    expect(out.code, out.stderr).toBe(0);
    const seen = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(['Pending', 'Active']).toContain(seen.created_state);
    expect(seen.active_state).toBe('Active');
    expect(['InProgress', 'Successful']).toContain(seen.config_update_status);
    expect(seen.after_config).toEqual({ State: 'Active', LastUpdateStatus: 'Successful' });
    expect(seen.greeting).toBe('bonjour');
    expect(['InProgress', 'Successful']).toContain(seen.code_update_status);
    expect(seen.invoked_after_code_update).toMatchObject({ code: 'B', greeting: 'bonjour' });
    expect(seen.version).toBe('1');
    expect(seen.published).toEqual({ Version: '1', State: 'Active', LastUpdateStatus: 'Successful' });
    expect(seen.invoked_version).toMatchObject({ code: 'B' });
    expect(seen.broken).toMatchObject({ reason: 'Waiter encountered a terminal failure state: For expression "Configuration.State" we matched expected path: "Failed"', State: 'Failed' });
    expect(seen.broken).toMatchObject({ StateReasonCode: 'InvalidConfiguration' });
  }, 300_000);
});
