// ConfigMaps and Secrets in the embedded platform's functions directory, as
// `kubectl apply -f DIR` takes them: env valueFrom, code.configMap,
// code.package.configMap and layers[].configMap resolve through them, follow
// their files as they change, and a missing key answers with its name. And a
// destination stream, which the in-memory queue cannot make readable, is
// refused there with the reason, and accepted with Redis.
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { py, startPlatform } from '../helpers/platform.js';
import { capturedLogger } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { zipBytes } from '../packages/zip-bytes.js';

const ENV_READER = `import os, json
def handler(event, context):
    return {"greeting": os.environ.get("GREETING"), "token": os.environ.get("TOKEN"), "extra": os.environ.get("EXTRA", "unset")}
`;
const PACKAGED = `import layer_greeting
def handler(event, context):
    return {"from_package": True, "from_layer": layer_greeting.greet(event["name"])}
`;
const FROM_SOURCE = `def handler(event, context):
    return "code from a ConfigMap"
`;

const settings = (greeting: string, more: Record<string, string> = {}) =>
  [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { GREETING: greeting, ...more } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, type: 'Opaque', data: { TOKEN: Buffer.from('t0k-secret').toString('base64') } },
  ]
    .map((d) => stringify(d))
    .join('---\n');

const pkgs = stringify({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'pkgs' },
  binaryData: {
    'fn.zip': zipBytes([{ name: 'app.py', data: PACKAGED }]).toString('base64'),
    'layer.zip': zipBytes([{ name: 'python/layer_greeting.py', data: 'def greet(n):\n    return "hi " + n + " from a layer"\n' }]).toString('base64'),
  },
});

const streamer = { ...py('def handler(event, context):\n    return "ok"\n'), async: { onSuccess: { stream: 'successes' } } };

const { logger: capturingLogger, lines } = capturedLogger('info');

let platform: Awaited<ReturnType<typeof startPlatform>>;

async function invoke(name: string, payload: unknown = {}, url = platform.url): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: JSON.stringify(payload) });
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), body: await res.text() };
}

beforeAll(async () => {
  platform = await startPlatform(
    {
      'env-reader': {
        ...py(ENV_READER),
        env: [
          { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'GREETING' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'TOKEN' } } },
          { name: 'EXTRA', valueFrom: { configMapKeyRef: { name: 'settings', key: 'EXTRA', optional: true } } },
        ],
      },
      packaged: {
        runtime: 'python3.12',
        handler: 'app.handler',
        code: { package: { configMap: { name: 'pkgs', key: 'fn.zip' } } },
        layers: [{ configMap: { name: 'pkgs', key: 'layer.zip' } }],
      },
      'from-source': { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'source' } } },
      'missing-key': { ...py(ENV_READER), env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'LATER' } } }] },
      'missing-object': { ...py(ENV_READER), env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'nowhere', key: 'TOKEN' } } }] },
      streamer,
    },
    { logger: capturingLogger },
    {
      'settings.yaml': settings('hello'),
      'pkgs.yaml': pkgs,
      'source.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'source' }, data: { 'app.py': FROM_SOURCE } }),
    },
  );
}, 120_000);

afterAll(async () => {
  await platform?.close();
});

describe('ConfigMaps and Secrets in the functions directory', () => {
  it('gives a function env from a ConfigMap key and a Secret key', async () => {
    const r = await invoke('env-reader');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ greeting: 'hello', token: 't0k-secret', extra: 'unset' });
  });

  it('runs code.package and a layer from a ConfigMap\'s binaryData, and code.configMap', async () => {
    const r = await invoke('packaged', { name: 'Ada' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ from_package: true, from_layer: 'hi Ada from a layer' });
    expect(JSON.parse((await invoke('from-source')).body)).toBe('code from a ConfigMap');
  });

  it('answers a missing key or object with its name', async () => {
    const key = await invoke('missing-key');
    expect(key.status).toBe(502);
    expect(key.type).toBe('ResourceNotReadyException');
    expect(JSON.parse(key.body).message).toContain(
      'env GREETING refers to ConfigMap settings key LATER: ConfigMap settings has no key LATER (its keys: GREETING)',
    );
    const object = await invoke('missing-object');
    expect(object.status).toBe(502);
    expect(JSON.parse(object.body).message).toContain(`env TOKEN refers to Secret nowhere key TOKEN: there is no Secret nowhere in the functions directory ${basename(platform.dir)}`);
    // Callers see no server path: the directory is named, not located.
    expect(JSON.parse(object.body).message).not.toContain(platform.dir);
  });

  it('follows a changed manifest: the new value reaches the function, the missing key appears', { timeout: 60_000 }, async () => {
    writeFileSync(join(platform.dir, 'settings.yaml'), settings('bonjour', { LATER: 'now here', EXTRA: 'extra' }));
    await waitFor(
      'the new ConfigMap value to reach env-reader',
      async () => {
        const r = await invoke('env-reader');
        return r.status === 200 && JSON.parse(r.body).greeting === 'bonjour' ? r : undefined;
      },
      30_000,
      200,
    );
    expect(JSON.parse((await invoke('env-reader')).body)).toEqual({ greeting: 'bonjour', token: 't0k-secret', extra: 'extra' });
    const fixed = await waitFor('missing-key to start', async () => ((await invoke('missing-key')).status === 200 ? true : undefined), 30_000, 200);
    expect(fixed).toBe(true);
    expect(JSON.parse((await invoke('missing-key')).body).greeting).toBe('now here');
  });
});

describe('destination streams', () => {
  it('refuses a Function with a destination stream in memory mode, naming the field and why', async () => {
    expect(platform.queue.kind).toBe('memory');
    expect(platform.catalog.get('streamer')).toBeUndefined();
    expect((await invoke('streamer')).status).toBe(404);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string }).find((l) => l.msg.includes('spec.async.onSuccess.stream'));
    expect(logged?.msg).toBe(
      `Function streamer in ${join(platform.dir, 'streamer.yaml')} not loaded: spec.async.onSuccess.stream: needs Redis: ` +
        'with the in-memory queue a destination stream would be written but never readable. ' +
        'Start hearth up with --redis-url (or REDIS_URL), or use a function or url destination.',
    );
  });

  describe('with Redis', () => {
    let redis: RedisServer;
    let withRedis: Awaited<ReturnType<typeof startPlatform>>;
    beforeAll(async () => {
      redis = await startRedis();
      withRedis = await startPlatform({ streamer }, { redisUrl: redis.url });
    }, 60_000);
    afterAll(async () => {
      await withRedis?.close();
      await redis?.stop();
    });

    it('accepts it, and the record lands in the stream', { timeout: 30_000 }, async () => {
      const res = await fetch(`${withRedis.url}/2015-03-31/functions/streamer/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: '{}' });
      expect(res.status).toBe(202);
      const [entry] = await waitFor('the success record', async () => {
        const l = await withRedis.queue.readStream('successes');
        return l.length > 0 ? l : undefined;
      }, 20_000, 100);
      expect(entry?.record.responsePayload).toBe('ok');
    });
  });
});
