// Secrets never reach the platform's logs or metric labels: API keys, SigV4
// secret keys, and function environment values (plain and from Secrets),
// through good calls, bad calls, function errors and a credentials file
// that turns invalid (its parse error must not quote the file).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { py, startPlatform } from '../helpers/platform.js';
import { capturedLogger } from '../helpers/log-capture.js';
import { invokePath, get, post } from '../faults/support.js';

const SECRETS = {
  apiKey: 'sk-live-APIKEY-4b1d7e0c9a8f',
  secretAccessKey: 'SIGV4SECRET-9f8e7d6c5b4a',
  plainEnv: 'PLAIN-ENV-VALUE-5e6f7a8b',
  secretEnv: 'SECRET-REF-VALUE-1a2b3c4d',
};

const { logger: capturingLogger, lines } = capturedLogger('trace');
let platform: Awaited<ReturnType<typeof startPlatform>>;
let auth: CredentialsFileAuth;
let credFile: string;

beforeAll(async () => {
  const logger = capturingLogger;
  credFile = join(mkdtempSync(join(tmpdir(), 'hearth-secrets-')), 'credentials.yaml');
  writeFileSync(credFile, stringify({ callers: [{ name: 'app', apiKey: SECRETS.apiKey, functions: ['*'] }, { name: 'sdk', accessKeyId: 'AKIASECRETSTEST', secretAccessKey: SECRETS.secretAccessKey, functions: ['*'] }] }));
  auth = await authFromCredentialsFile(credFile, { logger, pollIntervalMs: 60_000 });
  const env = [{ name: 'PLAIN', value: SECRETS.plainEnv }, { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }];
  platform = await startPlatform(
    {
      uses: { ...py('import os\ndef handler(event, context):\n    return len(os.environ["PLAIN"]) + len(os.environ["FROM_SECRET"])\n'), env },
      fails: { ...py('import os\ndef handler(event, context):\n    raise ValueError("failed")\n'), env },
    },
    { logger, auth: auth.options },
    { 'db-secret.yaml': stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: SECRETS.secretEnv } }) },
  );
}, 120_000);

afterAll(async () => {
  auth?.close();
  await platform?.close();
});

it('keeps API keys, SigV4 secrets and env values out of logs and /metrics', { timeout: 60_000 }, async () => {
  const h = { authorization: `Bearer ${SECRETS.apiKey}` };
  expect((await post(platform.url, invokePath('uses'), '{}', h)).text).toBe(String(SECRETS.plainEnv.length + SECRETS.secretEnv.length));
  expect((await post(platform.url, invokePath('fails'), '{}', h)).headers['x-amz-function-error']).toBe('Unhandled');
  expect((await post(platform.url, invokePath('uses'), '{}', { ...h, 'x-amz-invocation-type': 'Event' })).status).toBe(202);
  expect((await post(platform.url, invokePath('uses'), '{}', { authorization: `Bearer ${SECRETS.apiKey}x` })).status).toBe(401);
  expect((await post(platform.url, '/fn/uses/x', '{}', { 'x-api-key': SECRETS.apiKey.slice(0, -1) })).status).toBe(401);
  const good = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIASECRETSTEST', secretAccessKey: SECRETS.secretAccessKey }, maxAttempts: 1 });
  const bad = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIASECRETSTEST', secretAccessKey: `${SECRETS.secretAccessKey}-wrong` }, maxAttempts: 1 });
  try {
    expect((await good.send(new InvokeCommand({ FunctionName: 'uses' }))).StatusCode).toBe(200);
    await expect(bad.send(new InvokeCommand({ FunctionName: 'uses' }))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
  } finally {
    good.destroy();
    bad.destroy();
  }
  // A broken file whose YAML error would quote the line holding the key.
  writeFileSync(credFile, `callers:\n  - name: app\n    apiKey: "${SECRETS.apiKey}\n    functions: [*\n`);
  expect(await auth.reload()).toBe(false);
  writeFileSync(credFile, stringify({ callers: [{ name: 'app', apiKey: SECRETS.apiKey, functions: 'not-a-list' }] }));
  expect(await auth.reload()).toBe(false);

  const metrics = (await get(platform.url, '/metrics')).text;
  const logs = lines.join('');
  expect(lines.length).toBeGreaterThan(5);
  expect(logs).toContain('credentials file not reloaded');
  for (const [what, secret] of Object.entries(SECRETS)) {
    expect(logs.includes(secret), `${what} in logs`).toBe(false);
    expect(metrics.includes(secret), `${what} in /metrics`).toBe(false);
    // Nor a long enough piece of it to matter.
    expect(logs.includes(secret.slice(4, 16)), `part of ${what} in logs`).toBe(false);
  }
});
