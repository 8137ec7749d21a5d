// AWS's own CLI (installed by make test into .cache/awscli) run against a
// Hearth gateway with SigV4 credentials, as a Lambda user points it at an
// endpoint; and the Python deployment package the control-plane tests
// create functions from. Shared by the embedded and cluster suites.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { zipBytes } from '../packages/zip-bytes.js';

export const AWS_CLI = resolve(process.env.HEARTH_AWS_CLI ?? '.cache/awscli/bin/aws');
export const AWS_PYTHON = resolve('.cache/awscli/bin/python');

/** Throws under CI=true when the CLI is missing (make test installs it); otherwise says whether to skip. */
export function awsCliPresent(): boolean {
  const present = existsSync(AWS_CLI);
  if (!present && process.env.CI === 'true') throw new Error(`the AWS CLI is required under CI=true (make test installs it at ${AWS_CLI})`);
  return present;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `aws --endpoint-url URL lambda ARGS…`, never retrying, bounded by timeoutMs. */
export function awsLambda(endpoint: string, creds: AwsCredentials, home: string, args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '1',
    AWS_PAGER: '',
  };
  return new Promise((done) => {
    execFile(AWS_CLI, ['--endpoint-url', endpoint, '--output', 'json', 'lambda', ...args], { env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 124;
      done({ code, stdout, stderr: err !== null && err.killed ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr });
    });
  });
}

/** A Lambda Python handler's package that answers which code it is (`{"code": MARK, "event": …}`). */
export function pythonZip(mark: string): Buffer {
  return zipBytes([{ name: 'app.py', data: `import os\n\ndef handler(event, context):\n    return {"code": ${JSON.stringify(mark)}, "greeting": os.environ.get("GREETING"), "event": event}\n` }]);
}
