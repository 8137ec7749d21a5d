// What a qualifier costs a warm invocation through the embedded gateway: the
// same function called unqualified ($LATEST, the baseline), by a version
// number, and through an alias that sends 10 % of its calls to a second
// version. One platform, one client on one keep-alive connection, the three
// kinds of call taking turns call by call so that whatever else the machine
// does falls on all three alike. v1 is the Lambda guide's Python handler,
// v2 the same answering a different string. Loopback only; bounded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Client } from 'undici';
import { startEmbedded, type EmbeddedPlatform } from '../src/platform/embedded.js';
import { summarize, type Row } from './report.js';

const FN = 'bench-versions';
const WARMUP = 100;
const CALLS = 2000;
const SHARE = 0.1;

const yaml = (greeting: string): string => `apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: ${FN}
spec:
  runtime: python3.12
  handler: lambda_function.lambda_handler
  code:
    inline:
      lambda_function.py: |
        import json

        def lambda_handler(event, context):
            return {
                'statusCode': 200,
                'body': json.dumps('${greeting}')
            }
`;

/** What each version answers, by X-Amz-Executed-Version. */
const GREETING: Record<string, string> = { '1': 'Hello, world!', '2': 'Hello from v2!', $LATEST: 'Hello from v2!' };

async function control(platform: EmbeddedPlatform, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${platform.url}/2015-03-31/functions/${FN}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Rewrites the function's file and waits (bounded) until the catalog has the new code. */
async function changeCode(platform: EmbeddedPlatform, file: string, greeting: string): Promise<void> {
  writeFileSync(file, yaml(greeting));
  const deadline = Date.now() + 10_000;
  while (!JSON.stringify(platform.catalog.get(FN)?.spec.code ?? {}).includes(greeting)) {
    if (Date.now() > deadline) throw new Error(`${FN}'s change never reached the catalog`);
    await sleep(20);
  }
}

export async function benchVersions(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-versions-'));
  const file = join(dir, `${FN}.yaml`);
  writeFileSync(file, yaml(GREETING['1'] ?? ''));
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), autoscale: false });
  const client = new Client(platform.url, { pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    const v1 = await control(platform, '/versions', { Description: 'the guide handler' });
    await changeCode(platform, file, GREETING['2'] ?? '');
    const v2 = await control(platform, '/versions', { Description: 'a different answer' });
    if (v1.Version !== '1' || v2.Version !== '2') throw new Error(`published versions ${String(v1.Version)} and ${String(v2.Version)}, not 1 and 2`);
    await control(platform, '/aliases', { Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': SHARE } } });

    const kinds = [
      { name: 'unqualified ($LATEST)', target: FN, note: 'baseline: no qualifier', ran: new Map<string, number>(), samples: [] as number[] },
      { name: 'a version number (NAME:1)', target: `${FN}:1`, note: '', ran: new Map<string, number>(), samples: [] as number[] },
      { name: 'an alias, 1 + 10 % to 2 (NAME:live)', target: `${FN}:live`, note: '', ran: new Map<string, number>(), samples: [] as number[] },
    ];
    const call = async (target: string): Promise<string> => {
      const res = await client.request({ method: 'POST', path: `/2015-03-31/functions/${target}/invocations`, body: '{"key":"value"}', headers: { 'content-type': 'application/json' } });
      const text = await res.body.text();
      const version = String(res.headers['x-amz-executed-version']);
      if (res.statusCode !== 200 || !text.includes(GREETING[version] ?? '\0')) throw new Error(`${target}: unexpected answer ${res.statusCode} (version ${version}) ${text}`);
      return version;
    };
    // Warm-ups start every version's instance (the alias's second version included) before anything is timed.
    for (let i = 0; i < WARMUP; i++) for (const k of kinds) await call(k.target);
    for (let i = 0; i < CALLS; i++) {
      for (const k of kinds) {
        const t0 = performance.now();
        const version = await call(k.target);
        k.samples.push(performance.now() - t0);
        k.ran.set(version, (k.ran.get(version) ?? 0) + 1);
      }
    }
    return kinds.map((k) => {
      const v2 = k.ran.get('2') ?? 0;
      const note = k.target.endsWith(':live') ? `v2 ran ${((v2 / CALLS) * 100).toFixed(1)} % of ${CALLS}` : k.note;
      return summarize(k.name, k.samples, { note });
    });
  } finally {
    await client.close();
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
