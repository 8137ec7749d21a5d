// CreateEventSourceMapping and the rest on the embedded platform, beyond the
// conformance walk: the mapping is a file of the functions directory (with
// SASL and CA Secrets named as k8s-secret:NAME, shown back as Lambda's
// SourceAccessConfigurations); a qualifier must exist; a caller allowed one
// function creates mappings for that one only; a file written by hand is
// updated and deleted through the API; with the management API off the
// mapping writes answer 403.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { mappingUuid } from '../../src/sources/mapping-runner.js';
import { py, startPlatform } from '../helpers/platform.js';

const ADMIN = 'esm-api-admin-key-0123456789abcdef';
const ONLY_A = 'esm-api-only-a-key-0123456789abcdef';
const SOURCE = { SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['127.0.0.1:9'] } } };

describe('event-source mappings through the API on the embedded platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let auth: CredentialsFileAuth | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-esm-api-'));

  const call = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const res = await fetch(`${platform?.url ?? ''}/2015-03-31/event-source-mappings${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get('x-amzn-errortype'), json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const file = join(dir, 'credentials.yaml');
    writeFileSync(
      file,
      stringify({
        callers: [
          { name: 'admin', apiKey: ADMIN, functions: ['*'], actions: ['lambda:*'] },
          { name: 'only-a', apiKey: ONLY_A, functions: ['a'], actions: ['lambda:*'] },
        ],
      }),
    );
    auth = await authFromCredentialsFile(file);
    const fn = py('def handler(e, c):\n    return 1\n');
    platform = await startPlatform({ a: { ...fn, aliases: [{ name: 'live', version: '$LATEST' }] }, b: fn }, { auth: auth.options }, {
      'hand.yaml': stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'EventSourceMapping', metadata: { name: 'by-hand' }, spec: { functionName: 'b', enabled: false, kafka: { bootstrapServers: ['127.0.0.1:9'], topics: ['hand'] } } }),
    });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    auth?.close();
    rmSync(dir, { recursive: true, force: true });
    if (platform) rmSync(platform.dir, { recursive: true, force: true });
  });

  it('writes NAME.esm.yaml with the Secrets SourceAccessConfigurations name, and answers them back', async () => {
    const a = await call('POST', '/', {
      FunctionName: 'a:live',
      ...SOURCE,
      Topics: ['orders'],
      SourceAccessConfigurations: [
        { Type: 'SASL_SCRAM_512_AUTH', URI: 'k8s-secret:kafka-user' },
        { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: 'k8s-secret:kafka-ca' },
      ],
      Enabled: false,
    });
    expect(a.status, JSON.stringify(a.json)).toBe(202);
    expect(a.json).toMatchObject({
      State: 'Creating',
      SourceAccessConfigurations: [
        { Type: 'SASL_SCRAM_512_AUTH', URI: 'k8s-secret:kafka-user' },
        { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: 'k8s-secret:kafka-ca' },
      ],
    });
    expect(String(a.json.FunctionArn)).toMatch(/:function:a:live$/);
    const files = readdirSync(platform?.dir ?? '').filter((f) => f.endsWith('.esm.yaml'));
    expect(files).toEqual([expect.stringMatching(/^a-orders-[0-9a-f]{8}\.esm\.yaml$/)]);
    const text = readFileSync(join(platform?.dir ?? '', files[0] ?? ''), 'utf8');
    expect(text).toContain('mechanism: scram-sha-512');
    expect(text).toContain('name: kafka-user');
    expect(text).toContain('key: ca.crt');
    expect(a.json.UUID).toBe(mappingUuid({ metadata: { name: (files[0] ?? '').replace(/\.esm\.yaml$/, '') } }));
    expect((await call('DELETE', `/${String(a.json.UUID)}`)).status).toBe(202);
  });

  it('a qualifier that does not exist is 404; a caller allowed one function may not map another', async () => {
    const q = await call('POST', '/', { FunctionName: 'a:nope', ...SOURCE, Topics: ['t1'] });
    expect([q.status, q.type]).toEqual([404, 'ResourceNotFoundException']);
    const other = await call('POST', '/', { FunctionName: 'b', ...SOURCE, Topics: ['t1'] }, ONLY_A);
    expect([other.status, other.type]).toEqual([403, 'AccessDeniedException']);
    const own = await call('POST', '/', { FunctionName: 'a', ...SOURCE, Topics: ['t1'], Enabled: false }, ONLY_A);
    expect(own.status, JSON.stringify(own.json)).toBe(202);
    expect((await call('DELETE', `/${String(own.json.UUID)}`)).status).toBe(202);
  });

  it('updates and deletes a mapping written by hand, in its own file', async () => {
    const uuid = mappingUuid({ metadata: { name: 'by-hand' } });
    const u = await call('PUT', `/${uuid}`, { BatchSize: 3, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(u.status, JSON.stringify(u.json)).toBe(202);
    expect(u.json).toMatchObject({ UUID: uuid, State: 'Updating', BatchSize: 3, Topics: ['hand'] });
    expect(readFileSync(join(platform?.dir ?? '', 'hand.yaml'), 'utf8')).toContain('batchSize: 3');
    const refused = await call('PUT', `/${uuid}`, { Topics: ['other'] });
    expect([refused.status, refused.type]).toEqual([400, 'InvalidParameterValueException']);
    expect((await call('DELETE', `/${uuid}`)).status).toBe(202);
    expect(readdirSync(platform?.dir ?? '')).not.toContain('hand.yaml');
    expect((await call('GET', `/${uuid}`)).status).toBe(404);
  });
});

describe('with the management API off', () => {
  it('CreateEventSourceMapping answers 403 and writes nothing', async () => {
    const platform = await startPlatform({ a: py('def handler(e, c):\n    return 1\n') }, { managementApi: false });
    try {
      const res = await fetch(`${platform.url}/2015-03-31/event-source-mappings/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ FunctionName: 'a', ...SOURCE, Topics: ['t'] }) });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { message: string }).message).toMatch(/management API is disabled/);
      expect(readdirSync(platform.dir).filter((f) => f.endsWith('.esm.yaml'))).toEqual([]);
    } finally {
      await platform.close();
      rmSync(platform.dir, { recursive: true, force: true });
    }
  }, 60_000);
});
