// Must show: no caller credential reaches a function's event. A real Node
// function behind /fn answers with the event it received; called with an API
// key (Authorization: Bearer, X-Api-Key) and with an AWS Signature Version 4,
// its event holds neither the key, the signature nor the signing headers, and
// the function's own log (which the gateway keeps) does not either. Without
// authentication (the embedded default) an Authorization header is the
// application's own and reaches the function, as on a function URL whose
// AuthType is NONE.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { node, startPlatform } from '../helpers/platform.js';
import { FaultLog } from '../faults/collector.js';

const log = FaultLog.forFile(import.meta.url);
const KEY = 'event-credentials-key-0123456789';
const SIGV4 = { accessKeyId: 'AKIAEVENTCREDS01', secretAccessKey: 'event-credentials-secret-0123456789' };
// Answers with the event it received, and logs it as a careless function would.
const ECHO_EVENT = node('export const handler = async (event) => { console.log(JSON.stringify(event)); return { statusCode: 200, body: JSON.stringify(event) }; };');

type Platform = Awaited<ReturnType<typeof startPlatform>>;
interface Event {
  headers: Record<string, string>;
  rawQueryString: string;
  cookies?: string[];
}

async function callFn(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string; event: () => Event }> {
  const res = await request(`${base}${path}`, { method: 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, text, event: () => JSON.parse(text) as Event };
}

describe('with authentication: Hearth credentials stay out of /fn events', () => {
  let platform: Platform;
  let auth: CredentialsFileAuth;
  let logLines: string[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-event-creds-'));
    const file = join(dir, 'credentials.yaml');
    writeFileSync(file, stringify({ callers: [{ name: 'app', apiKey: KEY, functions: ['echo-event'] }, { name: 'signer', ...SIGV4, functions: ['echo-event'] }] }));
    auth = await authFromCredentialsFile(file);
    logLines = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    platform = await startPlatform({ 'echo-event': ECHO_EVENT }, { auth: auth.options, logger });
  }, 60_000);

  afterAll(async () => {
    await platform?.close();
    auth?.close();
    log.flush();
  });

  async function sigv4Headers(path: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const host = new URL(platform.url).host;
    const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', credentials: SIGV4, sha256: Sha256, applyChecksum: true });
    const [p, q] = path.split('?');
    const query = Object.fromEntries(new URLSearchParams(q ?? ''));
    const signed = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', path: p ?? path, query, headers: { host, ...extra } }));
    return signed.headers;
  }

  it('leaves out Authorization: Bearer, X-Api-Key and the SigV4 headers, keeping the rest', async () => {
    await log.run('bad input', '/fn called with a Hearth API key (Bearer, X-Api-Key) or a SigV4 signature; the function answers with its event', "the event holds none of the caller's credentials nor the signing headers; other headers, query and cookies reach it", async (rec) => {
      const cases: Array<[string, Record<string, string>, string[]]> = [
        ['Bearer', { authorization: `Bearer ${KEY}` }, [KEY]],
        ['X-Api-Key', { 'x-api-key': KEY }, [KEY]],
        ['SigV4', await sigv4Headers('/fn/echo-event/items?color=red', { 'x-app': 'kept' }), [SIGV4.secretAccessKey, 'AWS4-HMAC-SHA256', 'Signature=']],
      ];
      const seen: string[] = [];
      for (const [what, headers, secrets] of cases) {
        rec.tried();
        const r = await callFn(platform.url, '/fn/echo-event/items?color=red', { ...headers, 'x-app': 'kept', cookie: 'session=abc' });
        expect(r.status, `${what}: ${r.text}`).toBe(200);
        const event = r.event();
        for (const s of secrets) expect(r.text, what).not.toContain(s);
        for (const h of ['authorization', 'x-api-key', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']) expect(event.headers, `${what}: ${h}`).not.toHaveProperty(h);
        expect(event.headers['x-app']).toBe('kept');
        expect(event.rawQueryString).toBe('color=red');
        expect(event.cookies).toEqual(['session=abc']);
        seen.push(`${what}: ${Object.keys(event.headers).filter((h) => !['host', 'connection', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'sec-fetch-mode', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-amzn-trace-id'].includes(h)).join(', ')}`);
      }
      // The function logged its whole event; nothing of a credential is in what the gateway wrote.
      const written = logLines.join('');
      expect(written).not.toContain(KEY);
      expect(written).not.toContain('AWS4-HMAC-SHA256');
      rec.observe(`event headers beyond the usual: ${seen.join('; ')}; no key or signature in the event or the gateway's log`);
    });
  });
});

describe('without authentication (the embedded default on loopback)', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform({ 'echo-event': ECHO_EVENT });
  }, 60_000);

  afterAll(async () => {
    await platform?.close();
  });

  it("passes the application's own Authorization and X-Api-Key, as a function URL with AuthType NONE does", async () => {
    const r = await callFn(platform.url, '/fn/echo-event/', { authorization: 'Bearer app-session-token', 'x-api-key': 'app-key' });
    expect(r.status).toBe(200);
    expect(r.event().headers).toMatchObject({ authorization: 'Bearer app-session-token', 'x-api-key': 'app-key' });
  });
});
