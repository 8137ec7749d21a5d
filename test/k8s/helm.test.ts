// The Helm chart against the real test control plane: `helm lint`; `helm
// template` with the defaults and several value sets, each render applied
// object by object with a server-side dry run so the API server validates
// every manifest; values.schema.json refusing bad values; the chart's crds/
// identical to the repository's; and a real `helm install` + `helm upgrade`
// that keeps generated secrets and grants only the RBAC each component needs.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AlwaysLeader } from '../../src/autoscaler/leader.js';
import { eventSourcesFrom, GATEWAY_SHUTDOWN_DEFAULTS, leaderElectFrom, parseGatewayArgs } from '../../src/cli/gateway.js';
import { checkServeFlags } from '../../src/cli/serve-flags.js';
import { packageSettings } from '../../src/cli/package-flags.js';
import type { ConnectionLimits } from '../../src/gateway/connection-guard.js';
import { LAMBDA_STREAM_LIMITS, type StreamLimits } from '../../src/streaming/stream-limits.js';
import { CredentialsFileSchema } from '../../src/gateway/auth/credentials.js';
import { electLeader } from '../../src/platform/cluster.js';
import { createControllerPoolMetrics, createGatewayPoolMetrics } from '../../src/metrics/pools.js';
import { scaleFunctionVersion } from '../../src/kube/objects.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { PodLogSource } from '../../src/logs/pod-source.js';
import { claimPod, markSpecializationFailed, readConfigMap } from '../../src/backends/kubernetes/pool-claims.js';
import { LABEL_POOL, poolPodLabels, poolSelector, unitPodLabels } from '../../src/pools/labels.js';
import { labelSelector } from '../../src/versions/labels.js';
import { KubernetesStore } from '../../src/store/kubernetes-store.js';
import { tracingConfig, tracingEnv } from '../../src/tracing/config.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const chartDir = join(repoRoot, 'charts/hearth');
const monitoringCrds = fileURLToPath(new URL('./fixtures/monitoring.coreos.com-crds.yaml', import.meta.url));

interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  resources?: { requests?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  securityContext?: { runAsNonRoot?: boolean };
  affinity?: { podAntiAffinity?: unknown };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    replicas?: number;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    [key: string]: unknown;
  };
  data?: Record<string, string>;
  rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs?: string[] }[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
    });
  });
}

function parseObjects(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    const o = doc.toJS() as K8sObject | null;
    if (o !== null) objects.push(o);
  }
  return objects;
}

function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** The WarmPools a render holds, by name: what the controller is told to keep warm. */
function pools(objs: K8sObject[]): { name: string; namespace?: string; spec: unknown }[] {
  return objs
    .filter((o) => o.kind === 'WarmPool')
    .map((o) => ({ name: o.metadata.name, namespace: o.metadata.namespace, spec: o.spec }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function kinds(objs: K8sObject[]): string[] {
  return objs.map((o) => `${o.kind}/${o.metadata.name}`);
}

function container(objs: K8sObject[], deployment: string): Container {
  const c = find(objs, 'Deployment', deployment).spec?.template?.spec.containers[0];
  if (c === undefined) throw new Error(`Deployment ${deployment} has no container`);
  return c;
}

function envOf(c: Container): Record<string, string> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? `secret:${e.valueFrom?.secretKeyRef?.name ?? ''}/${e.valueFrom?.secretKeyRef?.key ?? ''}`]));
}

/** The REDIS_* environment of a container: what src/queue/redis-connection.ts redisConnectionFrom reads. */
function redisEnvOf(c: Container): Record<string, string> {
  return Object.fromEntries(Object.entries(envOf(c)).filter(([k]) => k.startsWith('REDIS_')));
}

/** Whether a gateway started with the rendered args competes for the autoscaler's lease, as `hearth gateway` decides it. */
function gatewayLeaderElect(c: Container): boolean {
  return leaderElectFrom(parseGatewayArgs((c.args ?? []).slice(1)));
}

/** The K8S_VERSION the control plane is built at: `helm template` renders for it. */
async function kubeVersion(): Promise<string> {
  const env = await readFile(join(repoRoot, 'test/cluster/versions.env'), 'utf8');
  const m = /^K8S_VERSION=(\S+)$/m.exec(env);
  if (m?.[1] === undefined) throw new Error('K8S_VERSION missing from test/cluster/versions.env');
  return m[1];
}

interface ValueSet {
  name: string;
  values: Record<string, unknown>;
  check: (objs: K8sObject[], ns: string) => void | Promise<void>;
}

function valueSets(watchNs: string): ValueSet[] {
  return [
    {
      name: 'defaults',
      values: {},
      check: (objs, ns) => {
        const ctl = container(objs, 'r-defaults-hearth-controller');
        const gw = container(objs, 'r-defaults-hearth-gateway');
        // The images' entry point is `node /app/dist/cli/main.js`: args name the subcommand first.
        expect(ctl.args?.[0]).toBe('controller');
        expect(gw.args?.[0]).toBe('gateway');
        // Every image from one registry and tag: the platform's and the ones the controller gives function pods.
        expect(ctl.image).toBe('ghcr.io/hearth-dev/controller:0.1.0');
        expect(gw.image).toBe('ghcr.io/hearth-dev/gateway:0.1.0');
        expect(ctl.args).toEqual(expect.arrayContaining([
          '--agent-image=ghcr.io/hearth-dev/agent:0.1.0',
          '--python-image=ghcr.io/hearth-dev/runtime-python:0.1.0',
          '--nodejs-image=ghcr.io/hearth-dev/runtime-nodejs:0.1.0',
          '--go-image=ghcr.io/hearth-dev/runtime-go:0.1.0',
          '--provided-image=ghcr.io/hearth-dev/runtime-provided:0.1.0',
          '--gateway-service=r-defaults-hearth-gateway',
          `--gateway-namespace=${ns}`,
          '--leader-elect=true',
        ]));
        // The controller reconciles only the namespace the gateway serves: the release's.
        expect(ctl.args).toContain(`--namespace=${ns}`);
        expect(gw.args).toContain(`--namespace=${ns}`);
        expect(gw.args).toEqual(expect.arrayContaining(['--host=0.0.0.0', '--port=8080', '--credentials=/etc/hearth/credentials.yaml', '--leader-elect']));
        expect(gatewayLeaderElect(gw)).toBe(true);
        expect(envOf(gw)).toMatchObject({ REDIS_URL: `redis://r-defaults-hearth-redis.${ns}.svc:6379`, REDIS_PASSWORD: 'secret:r-defaults-hearth-redis/redis-password' });
        // The controller's finalizer reaches the same Redis, from the same environment.
        expect(ctl.args?.some((a) => a.startsWith('--redis-url'))).toBe(false);
        expect(redisEnvOf(ctl)).toEqual(redisEnvOf(gw));
        // No tracing unless tracing.otlpEndpoint is set: no process exports anywhere.
        expect(Object.keys({ ...envOf(gw), ...envOf(ctl) }).filter((k) => k.startsWith('OTEL_'))).toEqual([]);
        // Function pods admit only pods with this label.
        const gwDeploy = find(objs, 'Deployment', 'r-defaults-hearth-gateway');
        expect(gwDeploy.spec?.template?.metadata?.labels?.['app.kubernetes.io/component']).toBe('gateway');
        for (const d of objs.filter((o) => o.kind === 'Deployment')) {
          const pod = d.spec?.template?.spec;
          expect(pod?.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
          for (const c of pod?.containers ?? []) {
            expect(c.securityContext, `${d.metadata.name}/${c.name}`).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
            expect(c.livenessProbe, `${d.metadata.name}/${c.name}`).toBeDefined();
            expect(c.readinessProbe, `${d.metadata.name}/${c.name}`).toBeDefined();
            expect(c.resources?.requests, `${d.metadata.name}/${c.name}`).toBeDefined();
          }
        }
        expect(find(objs, 'Deployment', 'r-defaults-hearth-controller').spec?.template?.spec.affinity?.podAntiAffinity).toBeDefined();
        expect(kinds(objs)).toEqual(expect.arrayContaining([
          'PodDisruptionBudget/r-defaults-hearth-controller', 'PodDisruptionBudget/r-defaults-hearth-gateway',
          'Role/r-defaults-hearth-controller', 'Role/r-defaults-hearth-gateway',
          'Role/r-defaults-hearth-controller-leader-election',
          'PersistentVolumeClaim/r-defaults-hearth-redis-data', 'Service/r-defaults-hearth-redis', 'Secret/r-defaults-hearth-redis',
          'Secret/r-defaults-hearth-gateway-auth', 'Service/r-defaults-hearth-gateway',
          'NetworkPolicy/r-defaults-hearth-gateway', 'NetworkPolicy/r-defaults-hearth-controller', 'NetworkPolicy/r-defaults-hearth-redis',
        ]));
        const redis = container(objs, 'r-defaults-hearth-redis');
        expect(redis.image).toBe('redis:7-alpine');
        expect(redis.args).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--appendfsync', 'always', '--requirepass', '$(REDIS_PASSWORD)']));
        const auth = find(objs, 'Secret', 'r-defaults-hearth-gateway-auth');
        expect(Object.keys(auth.data ?? {}).sort()).toEqual(['api-key', 'credentials.yaml']);
        // The generated file is one the gateway accepts, holding the generated key.
        const generated = CredentialsFileSchema.parse(parseYaml(Buffer.from(auth.data?.['credentials.yaml'] ?? '', 'base64').toString()));
        expect(generated.callers[0]?.apiKey).toBe(Buffer.from(auth.data?.['api-key'] ?? '', 'base64').toString());
        // The generated key may do everything: invoke, and manage functions through the management API (on by default).
        expect(generated.callers[0]?.actions).toEqual(['lambda:*']);
        expect(gw.args?.some((a) => a.startsWith('--management-api'))).toBe(false);
        // Least privilege: the gateway reads Functions and EndpointSlices and scales; nothing else.
        expect(objs.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toBe(false);
        for (const role of ['r-defaults-hearth-controller', 'r-defaults-hearth-gateway']) {
          expect(find(objs, 'Role', role).metadata.namespace).toBe(ns);
          expect(find(objs, 'RoleBinding', role).metadata.namespace).toBe(ns);
        }
        // No Lease access for the gateway: its autoscaler's lease is in Redis.
        expect(objs.some((o) => o.kind === 'Role' && o.metadata.name.includes('gateway') && (o.rules ?? []).some((r) => r.resources?.includes('leases')))).toBe(false);
        const gwRole = find(objs, 'Role', 'r-defaults-hearth-gateway');
        const gwResources = (gwRole.rules ?? []).flatMap((r) => r.resources ?? []).sort();
        expect(gwResources).toEqual(['configmaps', 'endpointslices', 'eventsourcemappings', 'eventsourcemappings/status', 'functions', 'functions/scale', 'functions/status', 'functionversions', 'functionversions/scale', 'pods', 'pods/log', 'warmpools']);
        // Event-source mappings (eventSources.enabled by default): read and watched by every replica, their status patched by the leader; no Secret without eventSources.secretNames.
        // The management API (on by default) writes them too: Create/Update/DeleteEventSourceMapping.
        expect((gwRole.rules ?? []).find((r) => r.resources?.includes('eventsourcemappings'))?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update', 'delete']);
        expect((gwRole.rules ?? []).find((r) => r.resources?.includes('eventsourcemappings/status'))?.verbs).toEqual(['patch']);
        expect(gw.args?.some((a) => a.startsWith('--event-sources'))).toBe(false);
        expect(gatewayEventSources(gw)).toBe(true);
        // Pods: read and watched (pool pods to claim, new pods' readiness asked of their agent) and patched (a claim's
        // labels, the deletion cost of scale-down victims); never deleted or created. WarmPools only read.
        expect((gwRole.rules ?? []).find((r) => r.resources?.includes('pods'))?.verbs).toEqual(['get', 'list', 'watch', 'patch']);
        expect((gwRole.rules ?? []).find((r) => r.resources?.includes('warmpools'))?.verbs).toEqual(['get', 'list', 'watch']);
        // hearth logs: the function's pods' logs, only read.
        expect((gwRole.rules ?? []).find((r) => r.resources?.includes('pods/log'))?.verbs).toEqual(['get']);
        // The controller: claimed pods adopted (patch) and removed (delete); WarmPools read, their status written.
        const ctlVerbs = (resource: string) => (find(objs, 'Role', 'r-defaults-hearth-controller').rules ?? []).find((r) => r.resources?.includes(resource))?.verbs;
        expect(ctlVerbs('pods')).toEqual(['get', 'list', 'watch', 'patch', 'delete']);
        expect(ctlVerbs('warmpools')).toEqual(['get', 'list', 'watch']);
        expect(ctlVerbs('warmpools/status')).toEqual(['get', 'patch', 'update']);
        expect(ctlVerbs('warmpools/finalizers')).toEqual(['update']);
        // Warm pools on by default: one WarmPool per runtime, named after it, in the namespace the release serves.
        expect(pools(objs)).toEqual([
          { name: 'nodejs', namespace: ns, spec: { runtime: 'nodejs', minSize: 1, maxSize: 5, memoryMB: 128, ephemeralStorageMB: 512 } },
          { name: 'python', namespace: ns, spec: { runtime: 'python', minSize: 1, maxSize: 5, memoryMB: 128, ephemeralStorageMB: 512 } },
        ]);
        // Versions: ConfigMaps read and copied, never changed or deleted; a version only scaled, never edited.
        const gwVerbs = (resource: string) => (gwRole.rules ?? []).find((r) => r.resources?.includes(resource))?.verbs;
        expect(gwVerbs('configmaps')).toEqual(['get', 'create']);
        expect(gwVerbs('functionversions')).toEqual(['get', 'list', 'watch', 'create', 'delete']);
        expect(gwVerbs('functionversions/scale')).toEqual(['patch']);
        expect(gwVerbs('functions/status')).toEqual(['get', 'patch']);
        // The management API (managementApi.enabled, the default) creates, updates and deletes Functions.
        expect(gwVerbs('functions')).toEqual(['get', 'list', 'watch', 'patch', 'create', 'update', 'delete']);
        expect(objs.some((o) => o.kind === 'Ingress' || o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toBe(false);
        // Leaving without losing a call: the shutdown delay and drain reach the gateway, and the pod's grace covers both.
        expect(gw.args).toEqual(expect.arrayContaining(['--shutdown-delay-seconds=5', '--drain-timeout-seconds=60']));
        expect(gatewayShutdown(gw)).toEqual({ shutdownDelayMs: 5_000, drainTimeoutMs: 60_000 });
        // Uploaded packages: in the release's Redis, named by URLs on the gateway's Service, signed with the key the chart generated.
        const signingKey = Buffer.from(find(objs, 'Secret', 'r-defaults-hearth-gateway-packages').data?.['package-signing-key'] ?? '', 'base64').toString();
        expect(signingKey).toMatch(/^[A-Za-z0-9]{64}$/);
        expect(envOf(gw).HEARTH_PACKAGE_SIGNING_KEY).toBe('secret:r-defaults-hearth-gateway-packages/package-signing-key');
        expect(gw.args).toEqual(expect.arrayContaining(['--packages=redis', `--package-url-base=http://r-defaults-hearth-gateway.${ns}.svc:80`]));
        expect(gatewayPackages(gw, { 'r-defaults-hearth-gateway-packages/package-signing-key': signingKey })).toEqual({
          store: { kind: 'redis' },
          packageUrlBase: `http://r-defaults-hearth-gateway.${ns}.svc:80`,
          signingKey: Buffer.from(signingKey),
        });
        // Connection hygiene: the gateway's own cap (from the container's fd limit), a per-address cap for callers behind ingress or SNAT.
        expect(gatewayConnections(gw)).toEqual({ maxConnectionsPerAddress: 1024, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 });
        // Streamed responses: Lambda's limits (200 MiB, 6 MiB at full speed, then 2 MiB/s), said on the command line.
        expect(gw.args).toEqual(expect.arrayContaining(['--stream-max-bytes=209715200', '--stream-burst-bytes=6291456', '--stream-bytes-per-second=2097152']));
        expect(gatewayStreamLimits(gw)).toEqual(LAMBDA_STREAM_LIMITS);
        expect(gwDeploy.spec?.template?.spec.terminationGracePeriodSeconds).toBe(5 + 60 + 5);
        // helm upgrade: a new gateway is Ready before an old one goes.
        expect(gwDeploy.spec?.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
        // Node drains: evictions leave at least one gateway, the PDB selecting exactly the gateway's pods.
        const pdb = find(objs, 'PodDisruptionBudget', 'r-defaults-hearth-gateway');
        expect(pdb.spec?.minAvailable).toBe(1);
        const selector = (pdb.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
        expect(selector['app.kubernetes.io/component']).toBe('gateway');
        expect(gwDeploy.spec?.template?.metadata?.labels).toMatchObject(selector);
      },
    },
    {
      name: 'eventsecrets',
      values: { eventSources: { secretNames: ['kafka-sasl', 'kafka-ca'] } },
      check: (objs) => {
        // Exactly the named Secrets, get only: never list or watch (which would read every Secret of the namespace).
        const rules = (find(objs, 'Role', 'r-eventsecrets-hearth-gateway').rules ?? []).filter((r) => r.resources?.includes('secrets'));
        expect(rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['kafka-sasl', 'kafka-ca'], verbs: ['get'] }]);
        expect(gatewayEventSources(container(objs, 'r-eventsecrets-hearth-gateway'))).toBe(true);
      },
    },
    {
      name: 'noeventsources',
      values: { eventSources: { enabled: false, secretNames: ['kafka-sasl'] } },
      check: (objs) => {
        // eventSources.enabled: false reaches the gateway, which then runs no pollers; its Role has nothing on mappings or Secrets.
        const gw = container(objs, 'r-noeventsources-hearth-gateway');
        expect(gw.args).toContain('--event-sources=false');
        expect(gatewayEventSources(gw)).toBe(false);
        const resources = (find(objs, 'Role', 'r-noeventsources-hearth-gateway').rules ?? []).flatMap((r) => r.resources ?? []);
        expect(resources.filter((r) => r.startsWith('eventsourcemappings') || r === 'secrets')).toEqual([]);
      },
    },
    {
      name: 's3packages',
      values: {
        packages: { store: 's3', s3: { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'artifacts', region: 'eu-west-1', prefix: 'hearth/', existingSecret: 'artifact-keys' } },
        gateway: { service: { port: 8081 } },
      },
      check: (objs, ns) => {
        const gw = container(objs, 'r-s3packages-hearth-gateway');
        const key = Buffer.from(find(objs, 'Secret', 'r-s3packages-hearth-gateway-packages').data?.['package-signing-key'] ?? '', 'base64').toString();
        expect(envOf(gw)).toMatchObject({ HEARTH_PACKAGES_S3_ACCESS_KEY_ID: 'secret:artifact-keys/access-key-id', HEARTH_PACKAGES_S3_SECRET_ACCESS_KEY: 'secret:artifact-keys/secret-access-key' });
        const secrets = { 'r-s3packages-hearth-gateway-packages/package-signing-key': key, 'artifact-keys/access-key-id': 'AK', 'artifact-keys/secret-access-key': 'SK' };
        expect(gatewayPackages(gw, secrets)).toEqual({
          store: { kind: 's3', s3: { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'artifacts', region: 'eu-west-1', prefix: 'hearth/', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } } },
          packageUrlBase: `http://r-s3packages-hearth-gateway.${ns}.svc:8081`,
          signingKey: Buffer.from(key),
        });
      },
    },
    {
      name: 'slowdrain',
      values: { gateway: { shutdownDelaySeconds: 12, drainTimeoutSeconds: 900 } },
      check: (objs) => {
        const gw = container(objs, 'r-slowdrain-hearth-gateway');
        expect(gatewayShutdown(gw)).toEqual({ shutdownDelayMs: 12_000, drainTimeoutMs: 900_000 });
        expect(find(objs, 'Deployment', 'r-slowdrain-hearth-gateway').spec?.template?.spec.terminationGracePeriodSeconds).toBe(12 + 900 + 5);
      },
    },
    {
      name: 'connections',
      values: { gateway: { connections: { maxConnections: 120000, maxPerAddress: 64, headersTimeoutSeconds: 5, bodyTimeoutSeconds: 2.5 } } },
      check: (objs) => {
        const gw = container(objs, 'r-connections-hearth-gateway');
        expect(gatewayConnections(gw)).toEqual({ maxConnections: 120_000, maxConnectionsPerAddress: 64, headersTimeoutMs: 5_000, bodyTimeoutMs: 2_500 });
      },
    },
    {
      name: 'streaming',
      // Bytes well past 2^31, which a template's plain print would write as 5e+09.
      values: { gateway: { streaming: { maxBytes: 5_000_000_000, burstBytes: 0, bytesPerSecond: 0 } } },
      check: (objs) => {
        const gw = container(objs, 'r-streaming-hearth-gateway');
        expect(gatewayStreamLimits(gw)).toEqual({ maxBytes: 5_000_000_000, burstBytes: 0, bytesPerSecond: 0 });
      },
    },
    {
      name: 'external',
      values: { redis: { mode: 'external', external: { url: 'rediss://redis.example.com:6380/2' }, auth: { existingSecret: 'my-redis', existingSecretPasswordKey: 'pw' } } },
      check: (objs) => {
        expect(objs.some((o) => o.metadata.name.endsWith('-redis'))).toBe(false);
        expect(envOf(container(objs, 'r-external-hearth-gateway'))).toMatchObject({ REDIS_URL: 'rediss://redis.example.com:6380/2', REDIS_PASSWORD: 'secret:my-redis/pw' });
        expect(redisEnvOf(container(objs, 'r-external-hearth-controller'))).toEqual(redisEnvOf(container(objs, 'r-external-hearth-gateway')));
      },
    },
    {
      name: 'externaltls',
      values: { redis: { mode: 'external', tls: true, external: { url: 'redis://redis.example.com:6379' }, auth: { password: 'pw' } } },
      check: (objs) => {
        const want = { REDIS_URL: 'redis://redis.example.com:6379', REDIS_TLS: 'true', REDIS_PASSWORD: 'secret:r-externaltls-hearth-redis/redis-password' };
        expect(redisEnvOf(container(objs, 'r-externaltls-hearth-gateway'))).toEqual(want);
        expect(redisEnvOf(container(objs, 'r-externaltls-hearth-controller'))).toEqual(want);
      },
    },
    {
      name: 'sentinel',
      values: { redis: { mode: 'sentinel', sentinel: { nodes: ['sentinel-0.redis:26379', 'sentinel-1.redis:26379'], masterName: 'hearth' }, auth: { password: 's3cret' } } },
      check: (objs) => {
        const env = envOf(container(objs, 'r-sentinel-hearth-gateway'));
        expect(env).toMatchObject({ REDIS_SENTINELS: 'sentinel-0.redis:26379,sentinel-1.redis:26379', REDIS_SENTINEL_NAME: 'hearth', REDIS_PASSWORD: 'secret:r-sentinel-hearth-redis/redis-password' });
        expect(env.REDIS_URL).toBeUndefined();
        expect(redisEnvOf(container(objs, 'r-sentinel-hearth-controller'))).toEqual(redisEnvOf(container(objs, 'r-sentinel-hearth-gateway')));
        expect(Buffer.from(find(objs, 'Secret', 'r-sentinel-hearth-redis').data?.['redis-password'] ?? '', 'base64').toString()).toBe('s3cret');
        expect(objs.some((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-redis'))).toBe(false);
      },
    },
    {
      name: 'cluster',
      values: { redis: { mode: 'cluster', tls: true, cluster: { nodes: ['redis-0:6379', 'redis-1:6379', 'redis-2:6379'] }, auth: { existingSecret: 'redis-cluster' } } },
      check: (objs) => {
        const env = envOf(container(objs, 'r-cluster-hearth-gateway'));
        expect(env).toMatchObject({ REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379,redis-2:6379', REDIS_TLS: 'true', REDIS_PASSWORD: 'secret:redis-cluster/redis-password' });
        // The controller gets the same Cluster nodes, TLS and password (it had no Redis at all in this mode before).
        expect(redisEnvOf(container(objs, 'r-cluster-hearth-controller'))).toEqual({ REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379,redis-2:6379', REDIS_TLS: 'true', REDIS_PASSWORD: 'secret:redis-cluster/redis-password' });
      },
    },
    {
      name: 'namespaced',
      values: { watchNamespace: watchNs },
      check: (objs, ns) => {
        expect(objs.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toBe(false);
        expect(find(objs, 'Role', 'r-namespaced-hearth-controller').metadata.namespace).toBe(watchNs);
        expect(find(objs, 'Role', 'r-namespaced-hearth-gateway').metadata.namespace).toBe(watchNs);
        // Its leader Lease stays with the controller, in the release namespace.
        expect(find(objs, 'Role', 'r-namespaced-hearth-controller-leader-election').metadata.namespace).toBe(ns);
        expect(container(objs, 'r-namespaced-hearth-controller').args).toContain(`--namespace=${watchNs}`);
        expect(container(objs, 'r-namespaced-hearth-gateway').args).toContain(`--namespace=${watchNs}`);
      },
    },
    {
      name: 'noauth',
      values: { gateway: { auth: { enabled: false } }, networkPolicy: { enabled: false } },
      check: (objs) => {
        expect(container(objs, 'r-noauth-hearth-gateway').args).toContain('--no-auth');
        expect(objs.some((o) => o.kind === 'Secret' && o.metadata.name.endsWith('gateway-auth'))).toBe(false);
        expect(objs.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
      },
    },
    {
      name: 'observed',
      values: {
        image: { registry: 'registry.example.com:5000', repository: 'mirror/hearth', tag: '1.2.3' },
        gateway: {
          ingress: { enabled: true, className: 'nginx', hosts: [{ host: 'fn.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }], tls: [{ secretName: 'fn-tls', hosts: ['fn.example.com'] }] },
          service: { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8'] },
          autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 12 },
          podAntiAffinity: 'hard',
          auth: { existingSecret: 'gw-keys' },
        },
        metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } }, prometheusRule: { enabled: true }, dashboard: { enabled: true } },
      },
      check: async (objs) => {
        expect(kinds(objs)).toEqual(expect.arrayContaining([
          'Ingress/r-observed-hearth-gateway', 'ServiceMonitor/r-observed-hearth', 'PrometheusRule/r-observed-hearth',
          'ConfigMap/r-observed-hearth-dashboard', 'HorizontalPodAutoscaler/r-observed-hearth-gateway',
        ]));
        expect(find(objs, 'Deployment', 'r-observed-hearth-gateway').spec?.replicas).toBeUndefined();
        expect(container(objs, 'r-observed-hearth-gateway').image).toBe('registry.example.com:5000/mirror/hearth/gateway:1.2.3');
        expect(container(objs, 'r-observed-hearth-controller').args).toContain('--agent-image=registry.example.com:5000/mirror/hearth/agent:1.2.3');
        expect(objs.some((o) => o.kind === 'Secret' && o.metadata.name.endsWith('gateway-auth'))).toBe(false);
        const dashboard = find(objs, 'ConfigMap', 'r-observed-hearth-dashboard');
        const json = JSON.parse(dashboard.data?.['hearth.json'] ?? '') as { panels: unknown[] };
        expect(json.panels.length).toBeGreaterThan(5);
        expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
        // Warm pools: the dashboard shows every pool metric the gateway and controller register, by its real name.
        const registry = new Registry();
        createGatewayPoolMetrics(registry);
        createControllerPoolMetrics(registry);
        const poolMetrics = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
        const exprs = (json.panels as { targets?: { expr: string }[] }[]).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
        const shown = new Set(exprs.flatMap((e) => e.match(/hearth_(?:pool_[a-z_]+|instance_starts_total)/g) ?? []).map((n) => n.replace(/_bucket$/, '')));
        expect([...shown].sort()).toEqual(poolMetrics);
      },
    },
    {
      name: 'small',
      values: {
        controller: { replicas: 1, leaderElection: { enabled: false } },
        gateway: { replicas: 1, leaderElection: { enabled: false }, auth: { credentials: { callers: [{ name: 'ci', apiKey: 'k-1234567890abcdef', functions: ['*'] }] } } },
        redis: { auth: { enabled: false }, bundled: { persistence: { enabled: false } } },
      },
      check: async (objs, ns) => {
        expect(objs.some((o) => o.kind === 'PodDisruptionBudget' || o.kind === 'PersistentVolumeClaim')).toBe(false);
        expect(objs.some((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-redis'))).toBe(false);
        expect(objs.some((o) => o.kind === 'Role' && o.metadata.name.endsWith('leader-election'))).toBe(false);
        expect(container(objs, 'r-small-hearth-controller').args).toContain('--leader-elect=false');
        expect(redisEnvOf(container(objs, 'r-small-hearth-controller'))).toEqual({ REDIS_URL: `redis://r-small-hearth-redis.${ns}.svc:6379` });
        expect(envOf(container(objs, 'r-small-hearth-gateway')).REDIS_PASSWORD).toBeUndefined();
        // gateway.leaderElection.enabled: false reaches the gateway, which then decides alone.
        const gw = container(objs, 'r-small-hearth-gateway');
        expect(gw.args).toContain('--no-leader-elect');
        expect(gatewayLeaderElect(gw)).toBe(false);
        const { leader, client } = await electLeader({ leaderElect: gatewayLeaderElect(gw), redis: { url: 'redis://127.0.0.1:1' }, namespace: ns, logger: pino({ level: 'silent' }) });
        expect(leader).toBeInstanceOf(AlwaysLeader);
        expect(client).toBeUndefined();
        const creds = Buffer.from(find(objs, 'Secret', 'r-small-hearth-gateway-auth').data?.['credentials.yaml'] ?? '', 'base64').toString();
        expect(CredentialsFileSchema.parse(parseYaml(creds)).callers[0]?.apiKey).toBe('k-1234567890abcdef');
      },
    },
    {
      name: 'pools',
      values: {
        watchNamespace: watchNs,
        pools: { runtimes: { python: { minSize: 2, maxSize: 8, memoryMB: 256, ephemeralStorageMB: 1024 }, nodejs: { enabled: false } } },
      },
      check: (objs) => {
        // Each runtime's own values reach its WarmPool (the CRD's schema accepts it in the dry run below); a disabled runtime has none.
        expect(pools(objs)).toEqual([
          { name: 'python', namespace: watchNs, spec: { runtime: 'python', minSize: 2, maxSize: 8, memoryMB: 256, ephemeralStorageMB: 1024 } },
        ]);
      },
    },
    {
      name: 'nodepool',
      values: { pools: { runtimes: { python: { enabled: false }, nodejs: { minSize: 0, maxSize: 3, memoryMB: 512, ephemeralStorageMB: 2048 } } } },
      check: (objs, ns) => {
        expect(pools(objs)).toEqual([
          { name: 'nodejs', namespace: ns, spec: { runtime: 'nodejs', minSize: 0, maxSize: 3, memoryMB: 512, ephemeralStorageMB: 2048 } },
        ]);
      },
    },
    {
      name: 'nopools',
      values: { pools: { enabled: false } },
      check: (objs) => {
        expect(pools(objs)).toEqual([]);
        // The Roles stay: the gateway still asks new pods' agents when they are ready, and both watch WarmPools an admin may create.
        expect((find(objs, 'Role', 'r-nopools-hearth-gateway').rules ?? []).find((r) => r.resources?.includes('warmpools'))?.verbs).toEqual(['get', 'list', 'watch']);
      },
    },
    {
      name: 'privatemetrics',
      values: { gateway: { auth: { openRoutes: [] } }, metrics: { serviceMonitor: { enabled: true } } },
      check: (objs) => {
        const gw = container(objs, 'r-privatemetrics-hearth-gateway');
        expect(gw.args).toContain('--open-routes=none');
        expect(gatewayOpenRoutes(gw)).toEqual([]);
        // Prometheus then scrapes the gateway with the generated key, which the auth Secret holds under api-key.
        const endpoints = find(objs, 'ServiceMonitor', 'r-privatemetrics-hearth').spec?.endpoints as Array<{ port: string; authorization?: unknown }>;
        expect(endpoints.find((e) => e.port === 'http')?.authorization).toEqual({ type: 'Bearer', credentials: { name: 'r-privatemetrics-hearth-gateway-auth', key: 'api-key' } });
        expect(endpoints.find((e) => e.port === 'metrics')?.authorization).toBeUndefined();
        expect(find(objs, 'Secret', 'r-privatemetrics-hearth-gateway-auth').data?.['api-key']).toBeDefined();
      },
    },
    {
      name: 'tracing',
      values: { tracing: { otlpEndpoint: 'http://jaeger-collector.observability:4318', sampler: 'parentbased_traceidratio', samplerRatio: '0.25' } },
      check: (objs) => {
        const gw = container(objs, 'r-tracing-hearth-gateway');
        const ctl = container(objs, 'r-tracing-hearth-controller');
        for (const c of [gw, ctl]) {
          expect(envOf(c)).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger-collector.observability:4318', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
          // What the process reads from that environment (src/tracing/config.ts, as installTracing does).
          expect(tracingConfig(envOf(c))).toEqual({ url: 'http://jaeger-collector.observability:4318/v1/traces', sampler: { name: 'parentbased_traceidratio', ratio: 0.25 } });
        }
        // The controller hands the same on to every agent it runs (test/tracing/agent-env.test.ts builds those pods).
        const handedOn = Object.fromEntries(tracingEnv(envOf(ctl)).map((e) => [e.name, e.value]));
        expect(tracingConfig(handedOn)).toEqual(tracingConfig(envOf(ctl)));
      },
    },
  ];
}

/** Whether a gateway started with the rendered args runs event-source pollers, as `hearth gateway` reads them. */
function gatewayEventSources(c: Container): boolean | string {
  return eventSourcesFrom(parseGatewayArgs((c.args ?? []).slice(1)));
}

/** The shutdown delay and drain timeout a gateway started with the rendered args keeps, as `hearth gateway` reads them. */
function gatewayShutdown(c: Container): { shutdownDelayMs: number; drainTimeoutMs: number } {
  const settings = checkServeFlags(parseGatewayArgs((c.args ?? []).slice(1)), GATEWAY_SHUTDOWN_DEFAULTS);
  if (typeof settings === 'string') throw new Error(settings);
  return { shutdownDelayMs: settings.shutdownDelayMs, drainTimeoutMs: settings.drainTimeoutMs };
}

/** The connection caps and timeouts a gateway started with the rendered args applies, as `hearth gateway` reads them (unset: its default). */
function gatewayConnections(c: Container): Partial<ConnectionLimits> {
  const settings = checkServeFlags(parseGatewayArgs((c.args ?? []).slice(1)));
  if (typeof settings === 'string') throw new Error(settings);
  return settings.connections;
}

/** The limits on streamed responses a gateway started with the rendered args keeps, as `hearth gateway` reads them. */
function gatewayStreamLimits(c: Container): StreamLimits {
  const settings = checkServeFlags(parseGatewayArgs((c.args ?? []).slice(1)));
  if (typeof settings === 'string') throw new Error(settings);
  return settings.streamLimits;
}

/** Where a gateway started with the rendered args and environment keeps uploaded packages, as `hearth gateway` reads them; `secrets` give the Secret keys the environment refers to (NAME/KEY). */
function gatewayPackages(c: Container, secrets: Record<string, string>): ReturnType<typeof packageSettings> {
  const env = Object.fromEntries(Object.entries(envOf(c)).map(([k, v]) => [k, v.startsWith('secret:') ? secrets[v.slice('secret:'.length)] : v]));
  return packageSettings(parseGatewayArgs((c.args ?? []).slice(1)), env);
}

/** The routes a gateway started with the rendered args leaves open to anonymous callers, as `hearth gateway` reads them (undefined: its default). */
function gatewayOpenRoutes(c: Container): string[] | undefined {
  const settings = checkServeFlags(parseGatewayArgs((c.args ?? []).slice(1)));
  if (typeof settings === 'string') throw new Error(settings);
  return settings.openRoutes;
}

// Static, so it runs with or without a control plane: every image the chart
// names is built by `make images`, and the Node.js targets run the CLI as a
// non-root user with the subcommand as a literal exec-form CMD.
describe('images the chart refers to', () => {
  it('are each built by make images, the Node.js ones from images/hearth.Dockerfile', async () => {
    const dockerfile = await readFile(join(repoRoot, 'images/hearth.Dockerfile'), 'utf8');
    for (const target of ['gateway', 'controller', 'agent']) {
      const stage = dockerfile.split(/^FROM /m).find((st) => new RegExp(`^\\S+ AS ${target}\\s*$`, 'm').test(st.split('\n')[0] ?? ''));
      expect(stage, `no stage ${target}`).toBeDefined();
      expect(stage).toContain('ENTRYPOINT ["node", "/app/dist/cli/main.js"]');
      expect(stage).toContain(`CMD ["${target}"]`);
    }
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    const makefile = await readFile(join(repoRoot, 'Makefile'), 'utf8');
    const images = /^HEARTH_IMAGES := (.+)$/m.exec(makefile)?.[1]?.split(/\s+/) ?? [];
    expect(images.sort()).toEqual(['agent', 'controller', 'gateway', 'runtime-go', 'runtime-nodejs', 'runtime-provided', 'runtime-python']);
    for (const image of images) expect(makefile, `make images does not build ${image}`).toContain(`-t $(IMAGE_PREFIX)/${image}:$(IMAGE_TAG)`);
  });
});

/**
 * Waits (at most 30 s) until `path` lists for this client. A Role just
 * installed by helm, or a CRD another suite applied in a different form a
 * moment ago (the API server rebuilds its handler), can refuse a first request
 * for a short while; what the store does after that is what is under test.
 * The last refusal is kept in the failure so CI's tail says what it was.
 */
async function servedTo(rest: KubeRest, path: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 60; i++) {
    try {
      await rest.request('GET', path);
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${path} still refused after 30 s: ${last}`);
}

/** A client that acts as `user` (impersonated by the admin's credentials). */
function impersonating(admin: KubeConfig, user: string): KubeRest {
  const asUser = new KubeConfig();
  const cluster = admin.getCurrentCluster();
  const adminUser = admin.getCurrentUser();
  if (cluster === null || adminUser === null) throw new Error('kubeconfig without a current cluster or user');
  asUser.loadFromOptions({
    clusters: [cluster],
    users: [{ ...adminUser, impersonateUser: user }],
    contexts: [{ name: 'as', cluster: cluster.name, user: adminUser.name }],
    currentContext: 'as',
  });
  return new KubeRest(asUser);
}

/**
 * A warm-pool claim's Kubernetes requests, each as the component that makes
 * it, with the chart's Roles: the gateway lists WarmPools and pods, claims an
 * idle pool pod with the conditional merge patch (a second claim from the same
 * resourceVersion gets 409, so two gateways never share a pod), reads a code
 * ConfigMap and marks a failed specialisation; the controller adopts the
 * claimed pod for its Function, writes a WarmPool's status and deletes the pod.
 * Each step fails with 403 if a Role lacks a verb it needs.
 */
async function poolsAs(admin: KubeConfig, gatewayUser: string, controllerUser: string, namespace: string): Promise<void> {
  const adminRest = new KubeRest(admin);
  const gw = impersonating(admin, gatewayUser);
  const ctl = impersonating(admin, controllerUser);
  try {
    await servedTo(gw, resourcePath(RESOURCES.WarmPool, namespace));
    const pools = await gw.request<{ items: { metadata: { name: string } }[] }>('GET', resourcePath(RESOURCES.WarmPool, namespace));
    expect(pools.items.map((p) => p.metadata.name).sort()).toEqual(['nodejs', 'python']);
    const fn = await adminRest.request<{ metadata: { uid: string } }>('POST', resourcePath(RESOURCES.Function, namespace), {
      body: { apiVersion: RESOURCES.Function.apiVersion, kind: 'Function', metadata: { name: 'pooled' }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'pooled-src' } } } },
    });
    await adminRest.request('POST', resourcePath(RESOURCES.ConfigMap, namespace), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pooled-src' }, data: { 'app.py': 'def handler(e, c):\n    return 1\n' } } });
    const pod = await adminRest.request<{ metadata: { name: string; resourceVersion: string } }>('POST', resourcePath(RESOURCES.Pod, namespace), {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pool-python-rbac', labels: poolPodLabels('python', 'python') }, spec: { schedulerName: 'nobody', containers: [{ name: 'runtime', image: 'ghcr.io/hearth-dev/runtime-python:0.1.0' }] } },
    }); // No scheduler takes it, so nothing changes it before the claim.
    const idle = await gw.request<{ items: { metadata: { name: string } }[] }>('GET', resourcePath(RESOURCES.Pod, namespace), { query: { labelSelector: labelSelector(poolSelector('python')) } });
    expect(idle.items.map((p) => p.metadata.name)).toEqual(['pool-python-rbac']);
    const claim = { resourceVersion: pod.metadata.resourceVersion, pool: 'python', unit: 'pooled', specHash: '0123456789abcdef', claimedBy: 'rbac-test', now: Date.now() };
    expect(await claimPod(gw, namespace, 'pool-python-rbac', claim)).toBe('claimed');
    expect(await claimPod(gw, namespace, 'pool-python-rbac', { ...claim, unit: 'other' })).toBe('conflict');
    const claimed = await gw.request<{ metadata: { labels: Record<string, string> } }>('GET', resourcePath(RESOURCES.Pod, namespace, 'pool-python-rbac'));
    expect(claimed.metadata.labels[LABEL_POOL]).toBeUndefined();
    expect(claimed.metadata.labels).toMatchObject(unitPodLabels('pooled'));
    expect((await readConfigMap(gw, namespace, 'pooled-src'))?.data?.['app.py']).toContain('def handler');
    await markSpecializationFailed(gw, namespace, 'pool-python-rbac');

    await ctl.request('PATCH', resourcePath(RESOURCES.Pod, namespace, 'pool-python-rbac'), {
      body: { metadata: { ownerReferences: [{ apiVersion: RESOURCES.Function.apiVersion, kind: 'Function', name: 'pooled', uid: fn.metadata.uid, controller: true, blockOwnerDeletion: true }] } },
      contentType: CONTENT_MERGE,
    });
    await ctl.request('PATCH', resourcePath(RESOURCES.WarmPool, namespace, 'python', 'status'), { body: { status: { desiredSize: 1, readyPods: 0, claims: 1 } }, contentType: CONTENT_MERGE });
    await ctl.request('DELETE', resourcePath(RESOURCES.Pod, namespace, 'pool-python-rbac'), { body: { gracePeriodSeconds: 0 } });
  } finally {
    await adminRest.request('DELETE', resourcePath(RESOURCES.Function, namespace, 'pooled')).catch(() => undefined);
    gw.close();
    ctl.close();
    adminRest.close();
  }
}

/**
 * What the gateway's logs route asks of the API server, as `user`: the
 * function's pods (PodLogSource lists them) and a pod's log. The pod is
 * never scheduled, so its log answers 400 (no node to ask) once RBAC has let
 * the request through; without pods/log get it is 403.
 */
async function logsAs(admin: KubeConfig, user: string, namespace: string): Promise<void> {
  const adminRest = new KubeRest(admin);
  const rest = impersonating(admin, user);
  try {
    await servedTo(rest, resourcePath(RESOURCES.Pod, namespace));
    await adminRest.request('POST', resourcePath(RESOURCES.Pod, namespace), {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'logs-rbac', labels: { ...unitPodLabels('logged') } }, spec: { schedulerName: 'nobody', containers: [{ name: 'agent', image: 'ghcr.io/hearth-dev/agent:0.1.0' }] } },
    });
    // A pod not yet running is listed only once it runs: the Pending one is left out, and the read is allowed.
    const source = new PodLogSource({ rest, namespace });
    expect(await source.pods({ functionName: 'logged', versions: undefined })).toEqual([]);
    const status = await rest.getText(resourcePath(RESOURCES.Pod, namespace, 'logs-rbac', 'log')).then(
      () => 200,
      (err: unknown) => (err as { statusCode?: number }).statusCode,
    );
    expect(status).not.toBe(403);
    const denied = await impersonating(admin, 'nobody-in-particular')
      .getText(resourcePath(RESOURCES.Pod, namespace, 'logs-rbac', 'log'))
      .then(() => 200, (err: unknown) => (err as { statusCode?: number }).statusCode);
    expect(denied).toBe(403);
  } finally {
    await adminRest.request('DELETE', resourcePath(RESOURCES.Pod, namespace, 'logs-rbac'), { body: { gracePeriodSeconds: 0 } }).catch(() => undefined);
    rest.close();
    adminRest.close();
  }
}

/**
 * Publishes a version with ConfigMap code (copied), sets and removes an
 * alias, scales the version, lists and deletes it, as `user`: each step
 * fails with 403 if the user's Role lacks a verb it needs.
 */
async function versionsAs(admin: KubeConfig, user: string, namespace: string): Promise<void> {
  const adminRest = new KubeRest(admin);
  const rest = impersonating(admin, user);
  try {
    await servedTo(rest, resourcePath(RESOURCES.FunctionVersion, namespace));
    await adminRest.request('POST', resourcePath(RESOURCES.ConfigMap, namespace), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rbac-src' }, data: { 'app.py': 'def handler(e, c):\n    return 1\n' } } });
    await adminRest.request('POST', resourcePath(RESOURCES.Function, namespace), {
      body: { apiVersion: RESOURCES.Function.apiVersion, kind: 'Function', metadata: { name: 'rbac' }, spec: { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'rbac-src' } } } },
    });
    const store = new KubernetesStore({ rest, namespace });
    const { version } = await store.publishVersion('rbac');
    expect(version.spec.snapshot.code.configMap?.name).toBe('rbac-v1-code');
    expect((await store.listVersions('rbac')).map((v) => v.spec.version)).toEqual(['1']);
    await store.putAlias('rbac', { name: 'live', version: '1' }, 'put');
    await scaleFunctionVersion(rest, namespace, 'rbac-v1', 1);
    await store.deleteAlias('rbac', 'live');
    await store.deleteVersion('rbac', '1');
  } finally {
    rest.close();
    adminRest.close();
  }
}

if (!ctx.available) {
  describe.skip(`Helm chart (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('Helm chart charts/hearth', () => {
    const k8s = ctx;
    const helm = join(k8s.binDir, 'helm');
    const suffix = randomBytes(3).toString('hex');
    const ns = `helm-${suffix}`;
    const watchNs = `helm-fns-${suffix}`;
    const installNs = `helm-install-${suffix}`;
    let kc: KubeConfig;
    let core: CoreV1Api;
    let work: string;
    let kubeVer: string;
    // helm keeps its cache and config out of the developer's home.
    const helmEnv = (): NodeJS.ProcessEnv => ({
      KUBECONFIG: k8s.kubeconfigPath,
      HELM_CACHE_HOME: join(work, 'helm/cache'),
      HELM_CONFIG_HOME: join(work, 'helm/config'),
      HELM_DATA_HOME: join(work, 'helm/data'),
    });

    async function template(release: string, namespace: string, values: Record<string, unknown>, extra: string[] = []): Promise<Run> {
      const file = join(work, `${release}-values.yaml`);
      await writeFile(file, stringify(values));
      return run(helm, ['template', release, chartDir, '--namespace', namespace, '--kube-version', kubeVer, '-f', file, ...extra], helmEnv());
    }

    async function kubectl(...args: string[]): Promise<Run> {
      return run(k8s.kubectl, ['--kubeconfig', k8s.kubeconfigPath, ...args]);
    }

    beforeAll(async () => {
      kc = kubeConfigFor(ctx);
      core = kc.makeApiClient(CoreV1Api);
      work = await mkdtemp(join(tmpdir(), 'hearth-helm-'));
      kubeVer = await kubeVersion();
      for (const name of [ns, watchNs, installNs]) await core.createNamespace({ body: { metadata: { name } } });
      // The chart's own CRDs for real (helm installs crds/ before the templates), and stand-ins for the Prometheus operator's.
      await applyDir(k8s.kubectl, k8s.kubeconfigPath, join(chartDir, 'crds'));
      await applyDir(k8s.kubectl, k8s.kubeconfigPath, monitoringCrds);
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev', 'warmpools.hearth.dev', 'servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']);
    });

    afterAll(async () => {
      await run(helm, ['uninstall', 'hearth', '--namespace', installNs, '--wait=false'], helmEnv()).catch(() => undefined);
      await run(helm, ['uninstall', 'scoped', '--namespace', installNs, '--wait=false'], helmEnv()).catch(() => undefined);
      for (const name of [ns, watchNs, installNs]) await core?.deleteNamespace({ name }).catch(() => undefined);
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    });

    it("keeps the chart's crds/ identical to the repository's crds/", async () => {
      const repoFiles = (await readdir(join(repoRoot, 'crds'))).sort();
      const chartFiles = (await readdir(join(chartDir, 'crds'))).sort();
      expect(chartFiles).toEqual(repoFiles);
      for (const f of repoFiles) {
        expect(await readFile(join(chartDir, 'crds', f), 'utf8'), `charts/hearth/crds/${f} differs from crds/${f}; run npm run gen:crd`).toBe(await readFile(join(repoRoot, 'crds', f), 'utf8'));
      }
    });

    it('passes helm lint with the defaults and with every value set', async () => {
      const plain = await run(helm, ['lint', chartDir, '--strict', '--kube-version', kubeVer], helmEnv());
      expect(plain.code, plain.stdout + plain.stderr).toBe(0);
      for (const set of valueSets(watchNs)) {
        const file = join(work, `lint-${set.name}.yaml`);
        await writeFile(file, stringify(set.values));
        const r = await run(helm, ['lint', chartDir, '--strict', '--kube-version', kubeVer, '--namespace', ns, '-f', file], helmEnv());
        expect(r.code, `${set.name}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    });

    describe.each(valueSets(watchNs).map((s) => [s.name, s] as const))('helm template with value set %s', (name, set) => {
      it('renders the expected objects, and the API server accepts every one in a server-side dry run', async () => {
        const release = `r-${name}`;
        const r = await template(release, ns, set.values);
        expect(r.code, r.stderr).toBe(0);
        const objs = parseObjects(r.stdout);
        expect(objs.length).toBeGreaterThan(5);
        await set.check(objs, ns);
        for (const o of objs) expect(o.metadata.labels?.['app.kubernetes.io/instance'], `${o.kind}/${o.metadata.name}`).toBe(release);

        const file = join(work, `${release}.yaml`);
        await writeFile(file, r.stdout);
        const applied = await kubectl('apply', '--server-side', '--dry-run=server', '--field-manager=hearth-helm-test', '-f', file);
        expect(applied.code, applied.stderr).toBe(0);
        const lines = applied.stdout.trim().split('\n').filter((l) => l.includes('(server dry run)'));
        expect(lines).toHaveLength(objs.length);
      });
    });

    it.each([
      ['a negative controller replica count', ['--set', 'controller.replicas=-1'], '/controller/replicas'],
      ['a top-level replicas key', ['--set', 'replicas=-1'], "additional properties 'replicas'"],
      ['a misspelt key', ['--set', 'gateway.replica=3'], "additional properties 'replica'"],
      ['a string replica count', ['--set-string', 'gateway.replicas=two'], '/gateway/replicas'],
      ['an unknown Redis mode', ['--set', 'redis.mode=memcached'], '/redis/mode'],
      ['external Redis without a URL', ['--set', 'redis.mode=external'], '/redis/external/url'],
      ['a Redis URL of another scheme', ['--set', 'redis.mode=external', '--set', 'redis.external.url=http://redis:6379'], '/redis/external/url'],
      ['Sentinel without nodes', ['--set', 'redis.mode=sentinel'], '/redis/sentinel'],
      ['a Sentinel node without a port', ['--set', 'redis.mode=sentinel', '--set', 'redis.sentinel.nodes={sentinel-0}'], '/redis/sentinel/nodes/0'],
      ['Cluster without nodes', ['--set', 'redis.mode=cluster'], '/redis/cluster'],
      ['a port above 65535', ['--set', 'gateway.port=70000'], '/gateway/port'],
      ['an unknown Service type', ['--set', 'gateway.service.type=External'], '/gateway/service/type'],
      ['an unknown pull policy', ['--set', 'image.pullPolicy=Sometimes'], '/image/pullPolicy'],
      ['an invalid namespace name', ['--set', 'watchNamespace=Not_A_Namespace'], '/watchNamespace'],
      ['a malformed scrape interval', ['--set', 'metrics.serviceMonitor.interval=soon'], '/metrics/serviceMonitor/interval'],
      ['a malformed volume size', ['--set', 'redis.bundled.persistence.size=lots'], '/redis/bundled/persistence/size'],
      ['an unknown anti-affinity preset', ['--set', 'controller.podAntiAffinity=sometimes'], '/controller/podAntiAffinity'],
      ['auth.enabled as a string', ['--set-string', 'gateway.auth.enabled=no'], '/gateway/auth/enabled'],
      ['an open route that is not an operations route', ['--set', 'gateway.auth.openRoutes={/fn}'], '/gateway/auth/openRoutes/0'],
      ['the removed gateway.rbac.leases (the lease is in Redis)', ['--set', 'gateway.rbac.leases=true'], "additional properties 'rbac'"],
      ['a negative shutdown delay', ['--set', 'gateway.shutdownDelaySeconds=-1'], '/gateway/shutdownDelaySeconds'],
      ['a fractional drain timeout (the grace period is whole seconds)', ['--set', 'gateway.drainTimeoutSeconds=2.5'], '/gateway/drainTimeoutSeconds'],
      ['a stream allowed no bytes', ['--set', 'gateway.streaming.maxBytes=0'], '/gateway/streaming/maxBytes'],
      ['a negative stream pace', ['--set', 'gateway.streaming.bytesPerSecond=-1'], '/gateway/streaming/bytesPerSecond'],
      ['a fractional stream burst', ['--set', 'gateway.streaming.burstBytes=1.5'], '/gateway/streaming/burstBytes'],
      ['a stream size with a unit (the chart takes bytes)', ['--set', 'gateway.streaming.maxBytes=200Mi'], '/gateway/streaming/maxBytes'],
      ['an unknown packages store', ['--set', 'packages.store=disk'], '/packages/store'],
      ['managementApi.enabled as a string', ['--set-string', 'managementApi.enabled=no'], '/managementApi/enabled'],
      ['pools.enabled as a string', ['--set-string', 'pools.enabled=yes'], '/pools/enabled'],
      ['a pool for a runtime no pool can start ahead', ['--set', 'pools.runtimes.go.enabled=true'], "additional properties 'go'"],
      ['a negative pool minSize', ['--set', 'pools.runtimes.python.minSize=-1'], '/pools/runtimes/python/minSize'],
      ['a pool maxSize above the CRD\'s 100', ['--set', 'pools.runtimes.nodejs.maxSize=101'], '/pools/runtimes/nodejs/maxSize'],
      ['a fractional pool size', ['--set', 'pools.runtimes.python.maxSize=2.5'], '/pools/runtimes/python/maxSize'],
      ['a pool memoryMB below Lambda\'s 128', ['--set', 'pools.runtimes.python.memoryMB=64'], '/pools/runtimes/python/memoryMB'],
      ['a pool /tmp below Lambda\'s 512 MB', ['--set', 'pools.runtimes.nodejs.ephemeralStorageMB=256'], '/pools/runtimes/nodejs/ephemeralStorageMB'],
      ['a misspelt pool key', ['--set', 'pools.runtimes.python.minsize=2'], "additional properties 'minsize'"],
      ['eventSources.enabled as a string', ['--set-string', 'eventSources.enabled=no'], '/eventSources/enabled'],
      ['a Secret name that is not a DNS subdomain', ['--set', 'eventSources.secretNames={Kafka_Creds}'], '/eventSources/secretNames/0'],
    ])('values.schema.json rejects %s', async (_what, args, where) => {
      const r = await run(helm, ['template', 'bad', chartDir, '--kube-version', kubeVer, ...args], helmEnv());
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("values don't meet the specifications of the schema");
      expect(r.stderr).toContain(where);
    });

    it('renders gateway.auth.openRoutes as the gateway\'s --open-routes, and none without authentication', async () => {
      const gatewayOf = async (values: Record<string, unknown>) => {
        const r = await template('r-routes', ns, values, ['--show-only', 'templates/gateway/deployment.yaml']);
        expect(r.code, r.stderr).toBe(0);
        return container(parseObjects(r.stdout), 'r-routes-hearth-gateway');
      };
      expect(gatewayOpenRoutes(await gatewayOf({}))).toEqual(['/metrics', '/openapi.json']);
      expect(gatewayOpenRoutes(await gatewayOf({ gateway: { auth: { openRoutes: ['/openapi.json'] } } }))).toEqual(['/openapi.json']);
      expect(gatewayOpenRoutes(await gatewayOf({ gateway: { auth: { openRoutes: [] } } }))).toEqual([]);
      const noAuth = await gatewayOf({ gateway: { auth: { enabled: false, openRoutes: [] } } });
      expect(noAuth.args?.some((a) => a.startsWith('--open-routes'))).toBe(false);
    });

    it('renders managementApi.enabled: false as --management-api=false, which the gateway reads, and a Role without Function writes', async () => {
      const r = await template('r-mgmt', ns, { managementApi: { enabled: false } }, ['--show-only', 'templates/gateway/deployment.yaml', '--show-only', 'templates/gateway/rbac.yaml']);
      expect(r.code, r.stderr).toBe(0);
      const objs = parseObjects(r.stdout);
      const gw = container(objs, 'r-mgmt-hearth-gateway');
      expect(gw.args).toContain('--management-api=false');
      expect(checkServeFlags(parseGatewayArgs((gw.args ?? []).slice(1)))).toMatchObject({ managementApi: false });
      const rules = find(objs, 'Role', 'r-mgmt-hearth-gateway').rules ?? [];
      expect(rules.find((rule) => rule.resources?.includes('functions'))?.verbs).toEqual(['get', 'list', 'watch', 'patch']);
      // Nor mapping writes: CreateEventSourceMapping and the rest are management routes, answered 403.
      expect(rules.find((rule) => rule.resources?.includes('eventsourcemappings'))?.verbs).toEqual(['get', 'list', 'watch']);
    });

    it('refuses a pool whose minSize exceeds its maxSize, naming the runtime, as the CRD would', async () => {
      const r = await template('r-poolbad', ns, { pools: { runtimes: { nodejs: { minSize: 6, maxSize: 5 } } } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('pools.runtimes.nodejs.minSize (6) must not exceed its maxSize (5)');
      const equal = await template('r-poolbad', ns, { pools: { runtimes: { nodejs: { minSize: 5, maxSize: 5 } } } });
      expect(equal.code, equal.stderr).toBe(0);
      // The API server holds a WarmPool written by hand to the same rule (the CRD's CEL validation).
      const file = join(work, 'warmpool-bad.yaml');
      await writeFile(file, stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'WarmPool', metadata: { name: 'bad', namespace: ns }, spec: { runtime: 'nodejs', minSize: 6, maxSize: 5 } }));
      const applied = await kubectl('apply', '--server-side', '--dry-run=server', '-f', file);
      expect(applied.code).not.toBe(0);
      expect(applied.stderr).toContain('minSize must not exceed maxSize');
    });

    it('refuses packages.store s3 without its endpoint, bucket and credentials Secret', async () => {
      for (const missing of ['endpoint', 'bucket', 'existingSecret']) {
        const s3 = { endpoint: 'http://minio:9000', bucket: 'b', existingSecret: 'keys', [missing]: '' };
        const r = await template('r-s3bad', ns, { packages: { store: 's3', s3 } });
        expect(r.code, missing).not.toBe(0);
        expect(r.stderr).toContain('packages.store s3 needs packages.s3.endpoint, packages.s3.bucket and packages.s3.existingSecret');
      }
    });

    it('refuses tracing values no process could read: an unknown sampler, a ratio outside 0..1, an endpoint that is not a URL', async () => {
      for (const [tracing, field] of [
        [{ otlpEndpoint: 'http://j:4318', sampler: 'jaeger_remote' }, '/tracing/sampler'],
        [{ otlpEndpoint: 'http://j:4318', samplerRatio: 2 }, '/tracing/samplerRatio'],
        [{ otlpEndpoint: 'http://j:4318', samplerRatio: 'half' }, '/tracing/samplerRatio'],
        [{ otlpEndpoint: 'jaeger:4318' }, '/tracing/otlpEndpoint'],
      ] as const) {
        const r = await template('r-tracingbad', ns, { tracing });
        expect(r.code, JSON.stringify(tracing)).not.toBe(0);
        expect(r.stderr).toContain(field);
      }
      // A ratio written as a number renders as the string the SDK reads.
      const ok = await template('r-tracingnum', ns, { tracing: { otlpEndpoint: 'http://j:4318', sampler: 'traceidratio', samplerRatio: 0.1 } });
      expect(ok.code, ok.stderr).toBe(0);
      expect(tracingConfig(envOf(container(parseObjects(ok.stdout), 'r-tracingnum-hearth-gateway')))?.sampler).toEqual({ name: 'traceidratio', ratio: 0.1 });
    });

    it('installs for real, keeps generated secrets across an upgrade, prints the next steps, and grants least privilege', async () => {
      const install = await run(helm, ['install', 'hearth', chartDir, '--namespace', installNs], helmEnv());
      expect(install.code, install.stderr).toBe(0);
      expect(install.stdout).toContain(`kubectl apply -n ${installNs} -f examples/hello-python.yaml`);
      expect(install.stdout).toContain(`kubectl -n ${installNs} port-forward svc/hearth-gateway 8080:80`);
      expect(install.stdout).toContain('Authorization: Bearer $HEARTH_API_KEY');
      expect(install.stdout).toContain(`warm pools  python, nodejs (kubectl get warmpools -n ${installNs})`);
      // kubectl get shows the pools the release made, with the CRD's columns.
      const wp = await kubectl('get', 'warmpools', '-n', installNs);
      expect(wp.code, wp.stderr).toBe(0);
      expect(wp.stdout.split('\n')[0]?.split(/\s+/).filter(Boolean)).toEqual(['NAME', 'RUNTIME', 'DESIRED', 'READY', 'CLAIMS', 'PER-MINUTE', 'AGE']);
      expect(wp.stdout).toMatch(/^nodejs\s+nodejs\s/m);
      expect(wp.stdout).toMatch(/^python\s+python\s/m);

      const secretData = async (name: string): Promise<Record<string, string>> => (await core.readNamespacedSecret({ namespace: installNs, name })).data ?? {};
      const redisBefore = await secretData('hearth-redis');
      const authBefore = await secretData('hearth-gateway-auth');
      const packagesBefore = await secretData('hearth-gateway-packages');
      expect(Buffer.from(packagesBefore['package-signing-key'] ?? '', 'base64').toString()).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(Buffer.from(redisBefore['redis-password'] ?? '', 'base64').toString()).toMatch(/^[A-Za-z0-9]{32}$/);
      const key = Buffer.from(authBefore['api-key'] ?? '', 'base64').toString();
      expect(key).toMatch(/^hk_[A-Za-z0-9]{40}$/);
      expect(Buffer.from(authBefore['credentials.yaml'] ?? '', 'base64').toString()).toContain(key);

      const upgrade = await run(helm, ['upgrade', 'hearth', chartDir, '--namespace', installNs, '--set', 'gateway.replicas=3'], helmEnv());
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(await secretData('hearth-redis')).toEqual(redisBefore);
      expect(await secretData('hearth-gateway-auth')).toEqual(authBefore);
      // The package signing key too: URLs already written into Functions keep working.
      expect(await secretData('hearth-gateway-packages')).toEqual(packagesBefore);

      // What each ServiceAccount may do, as the API server's authorizer answers it.
      const can = async (sa: string, verb: string, resource: string, namespace: string, subresource?: string): Promise<boolean> => {
        const args = ['auth', 'can-i', verb, resource, '-n', namespace, `--as=system:serviceaccount:${installNs}:${sa}`];
        if (subresource !== undefined) args.push(`--subresource=${subresource}`);
        const r = await kubectl(...args);
        return r.stdout.trim() === 'yes';
      };
      // Without watchNamespace both work in the release's namespace, and nowhere else: no Function is built that no gateway serves.
      const here = installNs;
      const elsewhere = watchNs;
      expect(await can('hearth-gateway', 'list', 'functions.hearth.dev', here)).toBe(true);
      expect(await can('hearth-gateway', 'patch', 'functions.hearth.dev', here, 'scale')).toBe(true);
      expect(await can('hearth-gateway', 'watch', 'endpointslices.discovery.k8s.io', here)).toBe(true);
      expect(await can('hearth-gateway', 'patch', 'pods', here)).toBe(true);
      expect(await can('hearth-gateway', 'delete', 'pods', here)).toBe(false);
      // Warm pools: the gateway watches pods and WarmPools and claims a pod by a patch; it changes no WarmPool and reads no Secret.
      for (const verb of ['get', 'list', 'watch']) {
        expect(await can('hearth-gateway', verb, 'pods', here), `${verb} pods`).toBe(true);
        expect(await can('hearth-gateway', verb, 'warmpools.hearth.dev', here), `${verb} warmpools`).toBe(true);
      }
      expect(await can('hearth-gateway', 'create', 'pods', here)).toBe(false);
      expect(await can('hearth-gateway', 'update', 'warmpools.hearth.dev', here)).toBe(false);
      expect(await can('hearth-gateway', 'patch', 'warmpools.hearth.dev', here, 'status')).toBe(false);
      expect(await can('hearth-gateway', 'list', 'pods', elsewhere)).toBe(false);
      // hearth logs reads a function's pods' logs (pods/log get), nowhere else.
      expect(await can('hearth-gateway', 'get', 'pods', here, 'log')).toBe(true);
      expect(await can('hearth-gateway', 'get', 'pods', elsewhere, 'log')).toBe(false);
      // Aliases are a patch of the Function; the management API (on by default) creates, updates and deletes them.
      expect(await can('hearth-gateway', 'patch', 'functions.hearth.dev', here)).toBe(true);
      for (const verb of ['create', 'update', 'delete']) expect(await can('hearth-gateway', verb, 'functions.hearth.dev', here), `${verb} functions`).toBe(true);
      expect(await can('hearth-gateway', 'update', 'configmaps', here)).toBe(false);
      expect(await can('hearth-gateway', 'delete', 'configmaps', here)).toBe(false);
      expect(await can('hearth-gateway', 'update', 'functionversions.hearth.dev', here)).toBe(false);
      expect(await can('hearth-gateway', 'get', 'secrets', here)).toBe(false);
      // Event-source mappings: read and watched, status patched; created, updated and deleted by the management API (on by default), never patched.
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete']) expect(await can('hearth-gateway', verb, 'eventsourcemappings.hearth.dev', here), `${verb} eventsourcemappings`).toBe(true);
      expect(await can('hearth-gateway', 'patch', 'eventsourcemappings.hearth.dev', here, 'status')).toBe(true);
      expect(await can('hearth-gateway', 'patch', 'eventsourcemappings.hearth.dev', here)).toBe(false);
      expect(await can('hearth-gateway', 'list', 'eventsourcemappings.hearth.dev', elsewhere)).toBe(false);
      expect(await can('hearth-gateway', 'create', 'deployments.apps', here)).toBe(false);
      expect(await can('hearth-gateway', 'update', 'leases.coordination.k8s.io', here)).toBe(false);
      expect(await can('hearth-gateway', 'list', 'functions.hearth.dev', elsewhere)).toBe(false);
      expect(await can('hearth-controller', 'create', 'deployments.apps', here)).toBe(true);
      expect(await can('hearth-controller', 'patch', 'functions.hearth.dev', here, 'status')).toBe(true);
      expect(await can('hearth-controller', 'update', 'functions.hearth.dev', here, 'finalizers')).toBe(true);
      // Versions: reconciled and their status written; published on change and deleted past retention (through the store).
      for (const verb of ['get', 'list', 'watch', 'create', 'patch', 'delete']) expect(await can('hearth-controller', verb, 'functionversions.hearth.dev', here), `${verb} functionversions`).toBe(true);
      expect(await can('hearth-controller', 'patch', 'functionversions.hearth.dev', here, 'status')).toBe(true);
      expect(await can('hearth-controller', 'update', 'functionversions.hearth.dev', here, 'finalizers')).toBe(true);
      expect(await can('hearth-controller', 'list', 'functionversions.hearth.dev', elsewhere)).toBe(false);
      expect(await can('hearth-controller', 'create', 'networkpolicies.networking.k8s.io', here)).toBe(true);
      expect(await can('hearth-controller', 'list', 'pods', here)).toBe(true);
      // Claimed pool pods: adopted by their function (patch) and removed when surplus, stale or failed (delete); never created.
      expect(await can('hearth-controller', 'patch', 'pods', here)).toBe(true);
      expect(await can('hearth-controller', 'delete', 'pods', here)).toBe(true);
      expect(await can('hearth-controller', 'create', 'pods', here)).toBe(false);
      expect(await can('hearth-controller', 'delete', 'pods', elsewhere)).toBe(false);
      for (const verb of ['get', 'list', 'watch']) expect(await can('hearth-controller', verb, 'warmpools.hearth.dev', here), `${verb} warmpools`).toBe(true);
      expect(await can('hearth-controller', 'patch', 'warmpools.hearth.dev', here, 'status')).toBe(true);
      expect(await can('hearth-controller', 'update', 'warmpools.hearth.dev', here, 'finalizers')).toBe(true);
      // The pools come from the chart's values: the controller does not create or edit them.
      expect(await can('hearth-controller', 'create', 'warmpools.hearth.dev', here)).toBe(false);
      expect(await can('hearth-controller', 'patch', 'warmpools.hearth.dev', here)).toBe(false);
      expect(await can('hearth-controller', 'get', 'secrets', here)).toBe(false);
      expect(await can('hearth-controller', 'create', 'deployments.apps', elsewhere)).toBe(false);
      expect(await can('hearth-controller', 'list', 'functions.hearth.dev', elsewhere)).toBe(false);
      expect(await can('hearth-controller', 'update', 'leases.coordination.k8s.io', installNs)).toBe(false); // only its own Lease by name
      const leaseOwn = await kubectl('auth', 'can-i', 'update', 'leases.coordination.k8s.io/hearth-controller', '-n', installNs, `--as=system:serviceaccount:${installNs}:hearth-controller`);
      expect(leaseOwn.stdout.trim()).toBe('yes');
      // Everything the gateway's KubernetesStore and backend do for versions, done as its ServiceAccount: the Role is enough.
      await versionsAs(kc, `system:serviceaccount:${installNs}:hearth-gateway`, installNs);
      // hearth logs as the gateway: the pod list and a pod's log, each refused with 403 if the Role lacked it.
      await logsAs(kc, `system:serviceaccount:${installNs}:hearth-gateway`, installNs);
      // And everything a warm-pool claim takes, as the gateway and the controller.
      await poolsAs(kc, `system:serviceaccount:${installNs}:hearth-gateway`, `system:serviceaccount:${installNs}:hearth-controller`, installNs);

      // Watching one namespace: Roles there, nothing anywhere else. With the management API off: no Function writes beyond aliases' patch.
      const scoped = await run(helm, ['install', 'scoped', chartDir, '--namespace', installNs, '--set', `watchNamespace=${watchNs}`, '--set', 'managementApi.enabled=false', '--set', 'eventSources.secretNames={kafka-sasl}'], helmEnv());
      expect(scoped.code, scoped.stderr).toBe(0);
      // The Secrets mappings name: exactly those listed, where the gateway serves; no other, and never a list.
      expect((await kubectl('auth', 'can-i', 'get', 'secrets/kafka-sasl', '-n', watchNs, `--as=system:serviceaccount:${installNs}:scoped-hearth-gateway`)).stdout.trim()).toBe('yes');
      expect((await kubectl('auth', 'can-i', 'get', 'secrets/scoped-hearth-redis', '-n', watchNs, `--as=system:serviceaccount:${installNs}:scoped-hearth-gateway`)).stdout.trim()).toBe('no');
      expect(await can('scoped-hearth-gateway', 'list', 'secrets', watchNs)).toBe(false);
      expect(await can('scoped-hearth-gateway', 'get', 'secrets', installNs)).toBe(false);
      for (const verb of ['create', 'update', 'delete']) expect(await can('scoped-hearth-gateway', verb, 'functions.hearth.dev', watchNs), `${verb} functions`).toBe(false);
      expect(await can('scoped-hearth-gateway', 'patch', 'functions.hearth.dev', watchNs)).toBe(true);
      expect(await can('scoped-hearth-controller', 'create', 'deployments.apps', watchNs)).toBe(true);
      expect(await can('scoped-hearth-controller', 'create', 'deployments.apps', ns)).toBe(false);
      expect(await can('scoped-hearth-gateway', 'list', 'functions.hearth.dev', watchNs)).toBe(true);
      expect(await can('scoped-hearth-gateway', 'list', 'functions.hearth.dev', ns)).toBe(false);
      expect(await can('scoped-hearth-controller', 'create', 'deployments.apps', installNs)).toBe(false);

      for (const release of ['hearth', 'scoped']) {
        const un = await run(helm, ['uninstall', release, '--namespace', installNs], helmEnv());
        expect(un.code, un.stderr).toBe(0);
      }
    });
  });
}
