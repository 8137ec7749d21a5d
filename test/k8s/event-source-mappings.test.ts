// EventSourceMappings against the real API server: the CRD is accepted, the
// API server refuses what the schema's CEL rules refuse (`kubectl apply`),
// and a real cluster gateway (with a real Redis) picks the mappings of its
// namespace up, polls their Redis streams and writes each one's status,
// which `kubectl get esm` shows in its columns. (kwok's pods never answer, so
// records stay behind here: the lag is what the status shows; invocations
// are the process-node suite's business, test/e2e/event-sources.test.ts.)
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceMappingSchema, type EventSourceMappingStatus } from '../../src/api/event-source-mapping.js';
import { KubeRest } from '../../src/kube/rest.js';
import { functionKeys, namespaceKeyPrefix } from '../../src/queue/keys.js';
import { mappingSlotsKey } from '../../src/sources/concurrency-slots.js';
import { resolveCredentials } from '../../src/platform/event-source-watch.js';
import { startClusterGateway, type ClusterGateway } from '../../src/platform/cluster.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));
const esmApi = { group: 'hearth.dev', version: 'v1alpha1', plural: 'eventsourcemappings' } as const;
const fnApi = { group: 'hearth.dev', version: 'v1alpha1', plural: 'functions' } as const;
const fnSpec = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } } };
const timings = { statusIntervalMs: 100, lagWriteIntervalMs: 300, secretRefreshMs: 300, lagIntervalMs: 100 };

const until = <T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> => waitFor(what, probe, ms, 100);

if (!ctx.available) {
  describe.skip(`EventSourceMappings in a cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('EventSourceMappings in a cluster', () => {
    const suffix = randomBytes(3).toString('hex');
    const ns = `esm-${suffix}`;
    const offNs = `esm-off-${suffix}`;
    let redis: RedisServer;
    let locked: RedisServer;
    let client: Redis;
    let gateway: ClusterGateway;
    let objects: CustomObjectsApi;
    let core: CoreV1Api;

    function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = execFile(ctx.available ? ctx.kubectl : 'kubectl', ['--kubeconfig', ctx.available ? ctx.kubeconfigPath : '', ...args], (err, stdout, stderr) => {
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
        });
        if (input !== undefined) child.stdin?.end(input);
      });
    }

    const mapping = (name: string, spec: Record<string, unknown>, namespace = ns) => stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'EventSourceMapping', metadata: { name, namespace }, spec });
    const statusOf = async (name: string, namespace = ns): Promise<EventSourceMappingStatus | undefined> =>
      ((await objects.getNamespacedCustomObject({ ...esmApi, namespace, name })) as { status?: EventSourceMappingStatus }).status;

    beforeAll(async () => {
      const kc = kubeConfigFor(ctx);
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev', 'eventsourcemappings.hearth.dev']);
      core = kc.makeApiClient(CoreV1Api);
      objects = kc.makeApiClient(CustomObjectsApi);
      for (const name of [ns, offNs]) await core.createNamespace({ body: { metadata: { name } } });
      redis = await startRedis();
      locked = await startRedis({ password: 'streams-pw' });
      client = new Redis(redis.url);
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: ns, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'sink' }, spec: fnSpec } });
      gateway = await startClusterGateway({ kubeConfig: kc, namespace: ns, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: true, eventSourceTimings: timings });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      client?.disconnect();
      await redis?.stop();
      await locked?.stop();
      for (const name of [ns, offNs]) await core?.deleteNamespace({ name }).catch(() => undefined);
    });

    it('the CRD is served: kubectl knows the kind by its short name esm, with its columns', async () => {
      const r = await kubectl(['get', 'esm', '-n', ns]);
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toContain('No resources found');
      const resources = await kubectl(['api-resources', '--api-group=hearth.dev', '-o', 'wide']);
      expect(resources.stdout).toMatch(/^eventsourcemappings\s+esm\s+hearth\.dev\/v1alpha1\s+true\s+EventSourceMapping/m);
    });

    it.each([
      ['both kafka and redisStreams', { functionName: 'sink', kafka: { bootstrapServers: ['k:9092'], topics: ['t'] }, redisStreams: { streams: ['s'] } }, 'exactly one of kafka and redisStreams must be set'],
      ['neither source', { functionName: 'sink' }, 'exactly one of kafka and redisStreams must be set'],
      ['AT_TIMESTAMP without a timestamp', { functionName: 'sink', redisStreams: { streams: ['s'] }, startingPosition: 'AT_TIMESTAMP' }, 'startingPositionTimestamp is required with AT_TIMESTAMP, and only with it'],
      ['a timestamp without AT_TIMESTAMP', { functionName: 'sink', redisStreams: { streams: ['s'] }, startingPositionTimestamp: '2026-01-01T00:00:00Z' }, 'startingPositionTimestamp is required with AT_TIMESTAMP, and only with it'],
      ['a bootstrap server without a port', { functionName: 'sink', kafka: { bootstrapServers: ['broker'], topics: ['t'] } }, 'spec.kafka.bootstrapServers[0]'],
      ['two topics (Lambda takes one)', { functionName: 'sink', kafka: { bootstrapServers: ['k:9092'], topics: ['a', 'b'] } }, 'spec.kafka.topics'],
      ['a batch size of 0', { functionName: 'sink', redisStreams: { streams: ['s'] }, batchSize: 0 }, 'spec.batchSize'],
      ['an unknown field', { functionName: 'sink', redisStreams: { streams: ['s'] }, batchsize: 10 }, 'batchsize'],
    ])('kubectl apply refuses %s', async (_what, spec, message) => {
      const r = await kubectl(['apply', '-f', '-'], mapping('bad', spec));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
    });

    it('kubectl apply accepts a valid Kafka mapping with every field, and AT_TIMESTAMP with its timestamp', async () => {
      const full = {
        functionName: 'sink',
        qualifier: 'live',
        enabled: false,
        kafka: {
          bootstrapServers: ['broker-0.kafka:9092', 'broker-1.kafka:9092'],
          topics: ['orders'],
          consumerGroupId: 'orders-sink',
          sasl: { mechanism: 'scram-sha-512', username: { name: 'kafka-creds', key: 'user' }, password: { name: 'kafka-creds', key: 'password' } },
          tls: { enabled: true, ca: { name: 'kafka-ca', key: 'ca.crt' } },
        },
        batchSize: 500,
        maximumBatchingWindowInSeconds: 5,
        startingPosition: 'AT_TIMESTAMP',
        startingPositionTimestamp: '2026-12-01T00:00:00Z',
        filterCriteria: { filters: [{ pattern: '{"value":{"kind":["order"]}}' }] },
        functionResponseTypes: ['ReportBatchItemFailures'],
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 3,
        maximumRecordAgeInSeconds: 3600,
        destinationConfig: { onFailure: { destination: 'kafka://orders-dlq' } },
        scalingConfig: { maximumConcurrency: 5 },
      };
      const r = await kubectl(['apply', '-f', '-'], mapping('full', full));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('eventsourcemapping.hearth.dev/full created');
      // Defaults the CRD fills in, as the schema does.
      const minimal = await kubectl(['apply', '-f', '-'], mapping('minimal', { functionName: 'sink', redisStreams: { streams: ['nothing-here'] }, enabled: false }));
      expect(minimal.code, minimal.stderr).toBe(0);
      const got = (await objects.getNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'minimal' })) as { spec: Record<string, unknown> };
      expect(got.spec).toMatchObject({ batchSize: 100, maximumBatchingWindowInSeconds: 0, startingPosition: 'LATEST', bisectBatchOnFunctionError: false, maximumRetryAttempts: -1, maximumRecordAgeInSeconds: -1 });
      // A disabled mapping: its status says so (the gateway wrote it), and nothing polls.
      const s = await until('the full mapping\'s status', async () => {
        const st = await statusOf('full');
        return st?.state === 'Disabled' ? st : undefined;
      });
      expect(s.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'Disabled' });
      for (const name of ['full', 'minimal']) await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name });
    });

    it('the gateway polls a Redis Streams mapping and writes its status, which kubectl get esm shows: state, lag, last result', async () => {
      // Records in the stream before the mapping: TRIM_HORIZON reads them; the function's pods never answer here, so they stay behind.
      for (let i = 0; i < 7; i++) await client.xadd('orders', '*', 'n', String(i));
      const r = await kubectl(['apply', '-f', '-'], mapping('orders', { functionName: 'sink', redisStreams: { streams: ['orders'] }, startingPosition: 'TRIM_HORIZON', batchSize: 10 }));
      expect(r.code, r.stderr).toBe(0);
      const s = await until('status with the lag of 7', async () => {
        const st = await statusOf('orders');
        return st?.totalLag === 7 ? st : undefined;
      });
      expect(s).toMatchObject({ state: 'Enabled', observedGeneration: 1, lag: [{ partition: 'orders', lag: 7 }], totalLag: 7 });
      expect(s.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(s.lastModified).toBeDefined();
      expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Polling', observedGeneration: 1 });
      // The consumer group is the default one, on the platform's Redis.
      const groups = (await client.xinfo('GROUPS', 'orders')) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual([`hearth-${ns}-orders`]);

      const table = await kubectl(['get', 'esm', 'orders', '-n', ns]);
      expect(table.code, table.stderr).toBe(0);
      const [head, row] = table.stdout.trim().split('\n');
      expect(head?.split(/\s{2,}/)).toEqual(['NAME', 'FUNCTION', 'STATE', 'LAG', 'LAST-RESULT', 'AGE']);
      expect(row).toMatch(/^orders\s+sink\s+Enabled\s+7\s+(No records processed|OK|PROBLEM: .+)\s+\S+$/);

      // More records: the lag follows (bounded writes still catch up).
      for (let i = 7; i < 10; i++) await client.xadd('orders', '*', 'n', String(i));
      await until('status with the lag of 10', async () => ((await statusOf('orders'))?.totalLag === 10 ? true : undefined));

      // Disabled through kubectl: a new generation, state Disabled, Ready False.
      const patched = await kubectl(['patch', 'esm', 'orders', '-n', ns, '--type=merge', '-p', '{"spec":{"enabled":false}}']);
      expect(patched.code, patched.stderr).toBe(0);
      const d = await until('status Disabled at generation 2', async () => {
        const st = await statusOf('orders');
        return st?.state === 'Disabled' && st.observedGeneration === 2 ? st : undefined;
      });
      expect(d.conditions?.[0]).toMatchObject({ status: 'False', reason: 'Disabled', observedGeneration: 2 });
      expect(d.lastModified).not.toBe(s.lastModified);
      await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'orders' });
    });

    it('scalingConfig.maximumConcurrency is counted in Redis for every replica, under the mapping\'s own lease key', async () => {
      // kwok's pods never answer, so each batch waits for an instance, holding its slot: the mapping's key fills to its bound and no further.
      const streams = ['capped-a', 'capped-b', 'capped-c'];
      for (const s of streams) await client.xadd(s, '*', 'n', '1');
      const r = await kubectl(['apply', '-f', '-'], mapping('capped', { functionName: 'sink', redisStreams: { streams }, startingPosition: 'TRIM_HORIZON', batchSize: 1, scalingConfig: { maximumConcurrency: 2 } }));
      expect(r.code, r.stderr).toBe(0);
      const leases = functionKeys(mappingSlotsKey(`${ns}/capped`), namespaceKeyPrefix(ns)).leases;
      await until('2 slots held', async () => ((await client.zcard(leases)) === 2 ? true : undefined));
      for (let i = 0; i < 10; i++) {
        expect(await client.zcard(leases)).toBeLessThanOrEqual(2);
        await new Promise((res) => setTimeout(res, 50));
      }
      await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'capped' });
    });

    it('a mapping to a missing function shows PROBLEM in its status and Ready False', async () => {
      const r = await kubectl(['apply', '-f', '-'], mapping('ghostly', { functionName: 'ghost', redisStreams: { streams: ['ghost-stream'] } }));
      expect(r.code, r.stderr).toBe(0);
      const s = await until('a PROBLEM status', async () => {
        const st = await statusOf('ghostly');
        return st?.lastProcessingResult?.startsWith('PROBLEM') ? st : undefined;
      });
      expect(s.lastProcessingResult).toBe('PROBLEM: Function not found: ghost');
      expect(s.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'Problem' });
      const table = await kubectl(['get', 'esm', 'ghostly', '-n', ns, '--no-headers']);
      expect(table.stdout).toMatch(/^ghostly\s+ghost\s+Enabled\s+0\s+PROBLEM: Function not found: ghost\s/);
      await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'ghostly' });
    });

    it('a spec the CRD accepts but the schema refuses (a record age under 60 s) shows InvalidSpec and does not run', async () => {
      const r = await kubectl(['apply', '-f', '-'], mapping('young', { functionName: 'sink', redisStreams: { streams: ['young'] }, maximumRecordAgeInSeconds: 30 }));
      expect(r.code, r.stderr).toBe(0);
      const s = await until('an InvalidSpec status', async () => {
        const st = await statusOf('young');
        return st?.conditions?.[0]?.reason === 'InvalidSpec' ? st : undefined;
      });
      expect(s.lastProcessingResult).toContain('maximumRecordAgeInSeconds');
      expect(s.state).toBe('Disabled');
      expect(await client.exists('young')).toBe(0); // No consumer group was made (MKSTREAM would have made the stream).
      await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'young' });
    });

    it('reads redisStreams.password from the Secret the mapping names: missing shows PROBLEM, created it polls', async () => {
      const lockedClient = new Redis(locked.url, { password: 'streams-pw' });
      try {
        for (let i = 0; i < 4; i++) await lockedClient.xadd('locked', '*', 'n', String(i));
        const spec = { functionName: 'sink', redisStreams: { url: locked.url, streams: ['locked'], password: { name: 'streams-auth', key: 'password' } }, startingPosition: 'TRIM_HORIZON' };
        expect((await kubectl(['apply', '-f', '-'], mapping('locked', spec))).code).toBe(0);
        const missing = await until('a missing Secret PROBLEM', async () => {
          const st = await statusOf('locked');
          return st?.lastProcessingResult?.includes('Secret streams-auth') ? st : undefined;
        });
        expect(missing.lastProcessingResult).toBe(`PROBLEM: redisStreams.password: Secret streams-auth not found in namespace ${ns}`);
        await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'streams-auth' }, stringData: { password: 'streams-pw' } } });
        // The next Secret refresh restarts the mapping with the password: it reads the stream (its lag shows) and the problem is gone.
        const s = await until('the locked stream polled', async () => {
          const st = await statusOf('locked');
          return st?.totalLag === 4 && !(st.lastProcessingResult ?? '').startsWith('PROBLEM') ? st : undefined;
        });
        expect(s.conditions?.[0]).toMatchObject({ status: 'True', reason: 'Polling' });
        await objects.deleteNamespacedCustomObject({ ...esmApi, namespace: ns, name: 'locked' });
      } finally {
        lockedClient.disconnect();
      }
    });

    it('reads a mapping\'s Secrets with get on their names only (the chart\'s eventSources.secretNames); one not granted is a PROBLEM that says where to grant it', async () => {
      const kc = kubeConfigFor(ctx);
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'kafka-sasl' }, stringData: { user: 'alice', password: 'pw' } } });
      await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'other' }, stringData: { user: 'bob' } } });
      // As the chart renders it with eventSources.secretNames: [kafka-sasl].
      await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'esm-secrets' }, rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['kafka-sasl'], verbs: ['get'] }] } });
      await rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'esm-secrets' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'esm-secrets' }, subjects: [{ kind: 'User', name: 'esm-gateway' }] } });
      const asGateway = new KubeConfig();
      const cluster = kc.getCurrentCluster();
      const admin = kc.getCurrentUser();
      if (cluster === null || admin === null) throw new Error('kubeconfig without a current cluster or user');
      asGateway.loadFromOptions({ clusters: [cluster], users: [{ ...admin, impersonateUser: 'esm-gateway' }], contexts: [{ name: 'gw', cluster: cluster.name, user: admin.name }], currentContext: 'gw' });
      const rest = new KubeRest(asGateway);
      const kafkaMapping = (secret: string) =>
        EventSourceMappingSchema.parse({
          apiVersion: 'hearth.dev/v1alpha1',
          kind: 'EventSourceMapping',
          metadata: { name: 'sasl', namespace: ns },
          spec: { functionName: 'sink', kafka: { bootstrapServers: ['k:9092'], topics: ['t'], sasl: { mechanism: 'plain', username: { name: secret, key: 'user' }, password: { name: secret, key: 'password' } } } },
        });
      try {
        // The Role may take a moment to reach the authorizer's cache.
        const granted = await until('the Role to apply', async () => {
          const r = await resolveCredentials(rest, kafkaMapping('kafka-sasl'));
          return r.ok ? r : undefined;
        });
        expect(granted.credentials).toEqual({ sasl: { mechanism: 'plain', username: 'alice', password: 'pw' } });
        expect(await resolveCredentials(rest, kafkaMapping('other'))).toEqual({ ok: false, reason: "kafka.sasl.username: the gateway may not read Secret other (add it to the chart's eventSources.secretNames)" });
        // A key the Secret lacks, named.
        expect(await resolveCredentials(rest, { ...kafkaMapping('kafka-sasl'), spec: { ...kafkaMapping('kafka-sasl').spec, kafka: { bootstrapServers: ['k:9092'], topics: ['t'], sasl: { mechanism: 'plain', username: { name: 'kafka-sasl', key: 'user' }, password: { name: 'kafka-sasl', key: 'pass' } } } } })).toEqual({
          ok: false,
          reason: 'kafka.sasl.password: Secret kafka-sasl has no key pass',
        });
      } finally {
        rest.close();
      }
    });

    it('a gateway with event sources off (--event-sources=false, the chart\'s eventSources.enabled: false) polls nothing and writes no status; on, it does', async () => {
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: offNs, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'sink' }, spec: fnSpec } });
      await client.xadd('off-stream', '*', 'n', '0');
      expect((await kubectl(['apply', '-f', '-'], mapping('quiet', { functionName: 'sink', redisStreams: { streams: ['off-stream'] }, startingPosition: 'TRIM_HORIZON' }, offNs))).code).toBe(0);
      const kc = kubeConfigFor(ctx);
      const off = await startClusterGateway({ kubeConfig: kc, namespace: offNs, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: true, eventSources: false, eventSourceTimings: timings });
      try {
        expect(off.eventSources).toBeUndefined();
        // Ten status rounds of the timings above pass: nothing is written, and no consumer group is made.
        await new Promise((r) => setTimeout(r, 10 * timings.statusIntervalMs));
        expect(await statusOf('quiet', offNs)).toBeUndefined();
        expect(await client.xinfo('GROUPS', 'off-stream')).toEqual([]);
      } finally {
        await off.close();
      }
      const on = await startClusterGateway({ kubeConfig: kc, namespace: offNs, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: true, eventSourceTimings: timings });
      try {
        await until('the status of the mapping once a gateway runs event sources', async () => ((await statusOf('quiet', offNs))?.totalLag === 1 ? true : undefined));
        expect(((await client.xinfo('GROUPS', 'off-stream')) as unknown[][]).map((g) => g[1])).toEqual([`hearth-${offNs}-quiet`]);
      } finally {
        await on.close();
      }
    });
  });
}
