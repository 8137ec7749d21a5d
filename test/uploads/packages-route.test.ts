// The embedded platform serving uploads: GET /packages/SHA256 answers the
// bytes for a good signature (without credentials, though authentication is
// on: its signature is its authorisation) and 403 for an expired, tampered or
// missing one, 404 for a signed digest no one uploaded; and a Function whose
// code.package.path is an upload runs.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { sha256 } from '../../src/packages/digest.js';
import { packageSignature } from '../../src/uploads/signed-url.js';
import { directorySigningKey } from '../../src/uploads/signing-key.js';
import type { StoredUpload } from '../../src/uploads/uploads.js';
import { functionYaml, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';
import { zipBytes } from '../packages/zip-bytes.js';

const API_KEY = 'uploads-test-key-0123456789';
const zip = zipBytes([{ name: 'app.py', data: 'def handler(event, context):\n    return {"from": "upload", "got": event}\n' }]);

let platform: Awaited<ReturnType<typeof startPlatform>>;
let auth: CredentialsFileAuth;
let stored: StoredUpload;

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${platform.url}${path}`, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], contentType: res.headers['content-type'], body };
}

function withQuery(url: string, edit: (q: URLSearchParams) => void): string {
  const u = new URL(url);
  edit(u.searchParams);
  return `${u.pathname}?${u.searchParams.toString()}`;
}

beforeAll(async () => {
  const credFile = join(mkdtempSync(join(tmpdir(), 'hearth-uploads-auth-')), 'credentials.yaml');
  writeFileSync(credFile, stringify({ callers: [{ name: 'ops', apiKey: API_KEY, functions: ['*'], actions: ['lambda:*'] }] }));
  auth = await authFromCredentialsFile(credFile);
  platform = await startPlatform({}, { auth: auth.options });
  // A plain start leaves no secret in the functions directory; the first signed URL makes it.
  expect(existsSync(join(platform.dir, '.hearth', 'signing-key'))).toBe(false);
  stored = await platform.uploads.put(zip);
});

afterAll(async () => {
  await platform?.close();
  auth?.close();
});

describe('GET /packages/:sha256', () => {
  it('answers the ZIP for a signed URL, without credentials', async () => {
    const r = await get(withQuery(platform.uploads.location(stored.sha256, platform.url), () => undefined));
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/zip');
    expect(r.body.equals(zip)).toBe(true);
  });

  it('answers 403 AccessDeniedException for an expired URL', async () => {
    // Signed with the platform's own key for a second ago: only the expiry refuses it.
    const then = Math.floor(Date.now() / 1000) - 1;
    const key = (await directorySigningKey(platform.dir))();
    const r = await get(`/packages/${stored.sha256}?expires=${then}&signature=${packageSignature(key, stored.sha256, then)}`);
    expect([r.status, r.type]).toEqual([403, 'AccessDeniedException']);
    const fresh = await get(`/packages/${stored.sha256}?expires=${then + 60}&signature=${packageSignature(key, stored.sha256, then + 60)}`);
    expect(fresh.status).toBe(200);
  });

  it('answers 403 for a tampered signature, a moved expiry, or no signature, even to a caller with credentials', async () => {
    const good = platform.uploads.location(stored.sha256, platform.url);
    const tampered = withQuery(good, (q) => q.set('signature', flip(q.get('signature') ?? '')));
    const later = withQuery(good, (q) => q.set('expires', String(Number(q.get('expires')) + 3600)));
    const never = withQuery(good, (q) => q.set('expires', '0'));
    for (const path of [tampered, later, never, `/packages/${stored.sha256}`]) {
      const r = await get(path);
      expect([r.status, r.type], path).toEqual([403, 'AccessDeniedException']);
    }
    const withKey = await get(`/packages/${stored.sha256}`, { authorization: `Bearer ${API_KEY}` });
    expect([withKey.status, withKey.type]).toEqual([403, 'AccessDeniedException']);
  });

  it('answers 404 for a signed URL of a digest no one uploaded, 403 for an unsigned one', async () => {
    const unknown = sha256(Buffer.from('never uploaded'));
    const r = await get(withQuery(platform.uploads.location(unknown, platform.url), () => undefined));
    expect([r.status, r.type]).toEqual([404, 'ResourceNotFoundException']);
    const unsigned = await get(`/packages/${unknown}`);
    expect(unsigned.status).toBe(403);
  });
});

describe('a Function whose package is an upload', () => {
  it('runs: code.package.path .hearth/packages/SHA.zip resolves in the functions directory', async () => {
    expect(stored.source).toEqual({ path: `.hearth/packages/${stored.sha256}.zip`, sha256: stored.sha256 });
    writeFileSync(join(platform.dir, 'uploaded.yaml'), functionYaml('uploaded', { runtime: 'python3.12', handler: 'app.handler', code: { package: stored.source } }));
    await waitFor('the function in the catalog', () => platform.catalog.get('uploaded'), 20_000);
    const res = await waitFor(
      'an answer from the uploaded function',
      async () => {
        const r = await request(`${platform.url}/2015-03-31/functions/uploaded/invocations`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: '{"n":1}' });
        const text = await r.body.text();
        return r.statusCode === 200 ? text : undefined;
      },
      60_000,
      200,
    );
    expect(JSON.parse(res)).toEqual({ from: 'upload', got: { n: 1 } });
  });
});

function flip(hex: string): string {
  return hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');
}
