// The gateway's side of EventSourceMapping objects in a cluster: an informer
// on the mappings of its namespace hands the desired set to the event
// sources (every gateway replica runs the pollers; partitions are shared
// through the brokers' consumer groups and Redis leases), the Secrets the
// mappings name (SASL, TLS CA, Redis password) are read for them, and the
// leader gateway writes each mapping's status through the status
// subresource at a bounded rate (src/sources/mapping-status-writer.ts
// decides what and when).
//
// Secrets: RBAC cannot grant `get` on "the Secrets a mapping names", since
// resourceNames are fixed in the Role. The chart grants `get` on exactly the
// Secrets listed in eventSources.secretNames, never list or watch, so a
// Secret is read by a GET when its mapping starts and every refresh after
// (a rotated Secret restarts the mapping's connector). A Secret not granted
// shows as the mapping's PROBLEM, saying so.
import { createHash } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { EventSourceMappingSchema, type EventSourceMapping, type EventSourceMappingStatus } from '../api/event-source-mapping.js';
import { describeProblems, problemsOf } from '../api/validate.js';
import type { LeaderElector } from '../autoscaler/leader.js';
import { Informer } from '../kube/informer.js';
import { RESOURCES, resourcePath } from '../kube/paths.js';
import { CONTENT_MERGE, isStatus, KubeRest } from '../kube/rest.js';
import { mappingKey, mappingUuid, type EventSources, type MappingConnector } from '../sources/mapping-runner.js';
import { redisStreamsConnector } from '../sources/redis-streams/connector.js';
import { kafkaConnector } from '../sources/kafka/connector.js';
import { mappingStatus, mergeResults, writeDecision, type MappingObservation, type SharedResult } from '../sources/mapping-status-writer.js';
import type { RedisClient } from '../queue/redis.js';

/** What a mapping's connector is given from its Secrets. */
export interface MappingCredentials {
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  tls?: { ca?: string };
  redisPassword?: string;
}

export type ResolvedCredentials = { ok: true; credentials: MappingCredentials; fingerprint: string } | { ok: false; reason: string };

/** Reads the Secrets a mapping names, in the mapping's namespace. */
export async function resolveCredentials(rest: KubeRest, m: EventSourceMapping): Promise<ResolvedCredentials> {
  const ns = m.metadata.namespace ?? 'default';
  const cache = new Map<string, Record<string, string> | undefined>();
  const read = async (ref: { name: string; key: string }, field: string): Promise<string> => {
    if (!cache.has(ref.name)) {
      try {
        const s = await rest.request<{ data?: Record<string, string> }>('GET', resourcePath(RESOURCES.Secret, ns, ref.name));
        cache.set(ref.name, s.data ?? {});
      } catch (err) {
        if (isStatus(err, 404)) throw new Error(`${field}: Secret ${ref.name} not found in namespace ${ns}`);
        if (isStatus(err, 403)) throw new Error(`${field}: the gateway may not read Secret ${ref.name} (add it to the chart's eventSources.secretNames)`);
        throw new Error(`${field}: reading Secret ${ref.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const b64 = cache.get(ref.name)?.[ref.key];
    if (b64 === undefined) throw new Error(`${field}: Secret ${ref.name} has no key ${ref.key}`);
    return Buffer.from(b64, 'base64').toString('utf8');
  };
  try {
    const c: MappingCredentials = {};
    const kafka = m.spec.kafka;
    if (kafka?.sasl) {
      c.sasl = { mechanism: kafka.sasl.mechanism, username: await read(kafka.sasl.username, 'kafka.sasl.username'), password: await read(kafka.sasl.password, 'kafka.sasl.password') };
    }
    if (kafka?.tls?.enabled) c.tls = kafka.tls.ca ? { ca: await read(kafka.tls.ca, 'kafka.tls.ca') } : {};
    if (m.spec.redisStreams?.password) c.redisPassword = await read(m.spec.redisStreams.password, 'redisStreams.password');
    return { ok: true, credentials: c, fingerprint: createHash('sha256').update(JSON.stringify(c)).digest('hex') };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** The credentials of the mappings handed to the event sources, for their connectorFor. */
export class CredentialStore {
  readonly #by = new Map<string, ResolvedCredentials>();
  get(m: EventSourceMapping): MappingCredentials {
    const r = this.#by.get(mappingKey(m));
    if (r === undefined) return {};
    if (!r.ok) throw new Error(r.reason);
    return r.credentials;
  }
  set(key: string, r: ResolvedCredentials): void {
    this.#by.set(key, r);
  }
  fingerprint(key: string): string | undefined {
    const r = this.#by.get(key);
    return r === undefined ? undefined : r.ok ? r.fingerprint : `error:${r.reason}`;
  }
  retain(keys: ReadonlySet<string>): void {
    for (const k of this.#by.keys()) if (!keys.has(k)) this.#by.delete(k);
  }
}

/**
 * Makes a mapping's connector on a cluster gateway, with its Secrets from the
 * store. A Redis Streams mapping without a url reads the platform's Redis
 * (the gateway's --redis-url, with its password); behind Sentinel or a
 * Cluster the platform's Redis has no single URL, so such mappings name one.
 */
export function clusterConnectorFor(opts: { credentials: CredentialStore; platformRedis: { url?: string; password?: string }; clientId: string }): (m: EventSourceMapping, logger: Logger) => MappingConnector {
  return (m, logger) => {
    const c = opts.credentials.get(m);
    if (m.spec.redisStreams) {
      const own = m.spec.redisStreams.url !== undefined;
      if (!own && opts.platformRedis.url === undefined) throw new Error("redisStreams.url is required: the platform's Redis (Sentinel or Cluster) has no single URL to read streams from");
      const password = c.redisPassword ?? (own ? undefined : opts.platformRedis.password);
      return redisStreamsConnector(m, {
        ...(opts.platformRedis.url !== undefined ? { defaultUrl: opts.platformRedis.url } : {}),
        ...(password !== undefined ? { password } : {}),
        logger,
      });
    }
    return kafkaConnector(m, { clientId: opts.clientId, credentials: { ...(c.sasl ? { sasl: c.sasl } : {}), ...(c.tls ? { tls: c.tls } : {}) }, logger });
  };
}

export interface EventSourceWatchOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  sources: EventSources;
  credentials: CredentialStore;
  /** Only the leader writes status. */
  leader: LeaderElector;
  logger: Logger;
  /** How often the leader looks for status to write (default 1 s). */
  statusIntervalMs?: number;
  /** A mapping's status is written at most this often when only its lag changed (default 5 s). */
  lagWriteIntervalMs?: number;
  /** Status writes in one round at the most (default 20): a namespace of many mappings does not flood the API server. */
  maxWritesPerRound?: number;
  /** How often Secrets are read again, to follow rotations (default 60 s). */
  secretRefreshMs?: number;
  /**
   * Where the replicas share their own lastProcessingResult of each mapping
   * (each polls only its partitions), for the leader to merge: a hash per
   * mapping under `prefix`, one field per replica (`identity`).
   */
  shared?: { redis: RedisClient; prefix: string; identity: string };
}

/** A replica says its result again this often even when unchanged, and the leader forgets one not heard from in three times that (it left). */
const SHARE_EVERY_MS = 5_000;
const SHARE_STALE_MS = 3 * SHARE_EVERY_MS;

export interface EventSourceWatch {
  /** One round of status writes (tests). */
  writeStatus(): Promise<void>;
  stop(): Promise<void>;
}

type Parsed = { ok: true; mapping: EventSourceMapping } | { ok: false; problems: string };

function parse(obj: KubernetesObject, namespace: string): Parsed {
  // Status is the gateways' own; the runner needs the spec.
  const r = EventSourceMappingSchema.safeParse({ ...obj, status: undefined });
  if (!r.success) return { ok: false, problems: describeProblems(problemsOf(r.error)) };
  return { ok: true, mapping: { ...r.data, metadata: { ...r.data.metadata, namespace: r.data.metadata.namespace ?? namespace } } };
}

export async function watchEventSourceMappings(opts: EventSourceWatchOptions): Promise<EventSourceWatch> {
  const { logger, namespace } = opts;
  const rest = new KubeRest(opts.kubeConfig);
  const informer = new Informer<KubernetesObject & { status?: EventSourceMappingStatus }>(rest, RESOURCES.EventSourceMapping, {
    namespace,
    onError: (err) => logger.warn({ err }, 'watching EventSourceMappings failed; retrying'),
  });
  const invalid = new Map<string, string>();
  const generations = new Map<string, string>();
  let stopped = false;

  // Applying the desired set: one at a time, the latest wins (a burst of events makes one more round, not one each).
  let running: Promise<void> | undefined;
  let again = false;
  const sync = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await apply().catch((err: unknown) => logger.error({ err }, 'applying EventSourceMappings failed'));
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  };

  async function apply(): Promise<void> {
    const desired: EventSourceMapping[] = [];
    invalid.clear();
    for (const obj of informer.list(namespace)) {
      const name = obj.metadata?.name;
      if (name === undefined) continue;
      const p = parse(obj, namespace);
      if (p.ok) desired.push(p.mapping);
      else {
        invalid.set(`${namespace}/${name}`, p.problems);
        logger.warn({ mapping: name, problems: p.problems }, 'ignoring an invalid EventSourceMapping');
      }
    }
    const keys = new Set(desired.map(mappingKey));
    opts.credentials.retain(keys);
    // A mapping whose Secrets changed restarts: its connector was made with the old ones.
    const rotated = new Set<string>();
    for (const m of desired) {
      const key = mappingKey(m);
      const before = opts.credentials.fingerprint(key);
      const r = await resolveCredentials(rest, m);
      if (!r.ok) logger.warn({ mapping: key, reason: r.reason }, 'an EventSourceMapping\'s Secrets could not be read');
      opts.credentials.set(key, r);
      if (before !== undefined && before !== opts.credentials.fingerprint(key)) rotated.add(key);
    }
    if (stopped) return;
    // Not awaited: what runs changes at once, and the connectors' starts (a broker slow to answer) must not hold up the next change.
    const failed = (err: unknown): void => logger.error({ err }, 'applying EventSourceMappings failed');
    if (rotated.size > 0) {
      logger.info({ mappings: [...rotated] }, 'Secrets of event-source mappings changed: restarting their pollers');
      opts.sources.set(desired.filter((m) => !rotated.has(mappingKey(m)))).catch(failed);
    }
    opts.sources.set(desired).catch(failed);
  }

  const changed = (obj: KubernetesObject): void => {
    const key = `${obj.metadata?.namespace ?? namespace}/${obj.metadata?.name ?? ''}`;
    // Status writes (ours) change neither uid nor generation: nothing to apply.
    const gen = `${obj.metadata?.uid ?? ''}/${obj.metadata?.generation ?? ''}`;
    if (generations.get(key) === gen) return;
    generations.set(key, gen);
    sync();
  };
  informer.on({
    add: changed,
    update: changed,
    delete: (obj) => {
      generations.delete(`${obj.metadata?.namespace ?? namespace}/${obj.metadata?.name ?? ''}`);
      sync();
    },
  });

  // Status, by the leader.
  const lastWrite = new Map<string, { atMs: number; json: string }>();
  const statusIntervalMs = opts.statusIntervalMs ?? 1000;
  const lagWriteIntervalMs = opts.lagWriteIntervalMs ?? 5000;
  const maxWrites = opts.maxWritesPerRound ?? 20;
  let writing = false;
  const lastShared = new Map<string, SharedResult>();
  const sharedKey = (key: string): string => `${opts.shared?.prefix ?? ''}:esm:results:${key}`;

  /** This replica's own results, into Redis when changed or due again. */
  async function share(): Promise<void> {
    const shared = opts.shared;
    if (!shared) return;
    const nowMs = Date.now();
    const keys = new Set<string>();
    for (const { mapping, status } of opts.sources.list()) {
      const key = mappingKey(mapping);
      keys.add(key);
      const prev = lastShared.get(key);
      if (prev && prev.result === status.lastProcessingResult && nowMs - prev.atMs < SHARE_EVERY_MS) continue;
      const entry: SharedResult = { result: status.lastProcessingResult, atMs: nowMs };
      await shared.redis.hset(sharedKey(key), shared.identity, JSON.stringify(entry));
      await shared.redis.pexpire(sharedKey(key), SHARE_STALE_MS * 4);
      lastShared.set(key, entry);
    }
    for (const k of lastShared.keys()) if (!keys.has(k)) lastShared.delete(k);
  }

  /** The other replicas' results for a mapping. */
  async function othersOf(key: string): Promise<SharedResult[]> {
    const shared = opts.shared;
    if (!shared) return [];
    const all = await shared.redis.hgetall(sharedKey(key));
    const out: SharedResult[] = [];
    for (const [who, json] of Object.entries(all)) {
      if (who === shared.identity) continue;
      try {
        const r = JSON.parse(json) as Partial<SharedResult>;
        if (typeof r.result === 'string' && typeof r.atMs === 'number') out.push({ result: r.result, atMs: r.atMs });
      } catch {
        // Not ours to fix: it ages out.
      }
    }
    return out;
  }

  async function writeStatus(): Promise<void> {
    if (writing || stopped) return;
    writing = true;
    try {
      await share().catch((err: unknown) => logger.debug({ err }, 'sharing event-source results failed'));
      if (!opts.leader.isLeader()) return;
      let writes = 0;
      const seen = new Set<string>();
      for (const obj of informer.list(namespace)) {
        const name = obj.metadata?.name;
        if (name === undefined) continue;
        const key = `${namespace}/${name}`;
        seen.add(key);
        const problems = invalid.get(key);
        let observation: MappingObservation;
        if (problems !== undefined) observation = { kind: 'invalid', uuid: mappingUuid({ metadata: { name, namespace } }), problems };
        else {
          const view = opts.sources.status(key);
          if (view === undefined) continue; // Not handed to the runner yet.
          const others = await othersOf(key).catch(() => []);
          const lastProcessingResult = mergeResults(view.lastProcessingResult, others, Date.now(), SHARE_STALE_MS);
          observation = { kind: 'running', uuid: view.uuid, state: view.state, lastProcessingResult, lag: view.lag };
        }
        const nowMs = Date.now();
        const desired = mappingStatus({ observation, current: obj.status, generation: obj.metadata?.generation, now: new Date(nowMs) });
        const last = lastWrite.get(key);
        const decision = writeDecision(obj.status, desired, { lastWriteAtMs: last?.atMs, nowMs, minIntervalMs: lagWriteIntervalMs });
        if (decision !== 'now' || writes >= maxWrites) continue;
        // The informer may not have our last write yet: the same status again within the lag interval waits for it.
        const json = JSON.stringify({ ...desired, lastModified: undefined, conditions: undefined });
        if (last?.json === json && nowMs - last.atMs < lagWriteIntervalMs) continue;
        writes++;
        try {
          await rest.request('PATCH', resourcePath(RESOURCES.EventSourceMapping, namespace, name, 'status'), { body: { status: desired }, contentType: CONTENT_MERGE });
          lastWrite.set(key, { atMs: nowMs, json });
        } catch (err) {
          if (!isStatus(err, 404)) logger.warn({ err, mapping: key }, 'writing an EventSourceMapping\'s status failed');
        }
      }
      for (const k of lastWrite.keys()) if (!seen.has(k)) lastWrite.delete(k);
    } finally {
      writing = false;
    }
  }

  await informer.start();
  // Not awaited: a gateway serves calls whether or not a mapping's source answers yet.
  sync();
  let round: Promise<void> | undefined;
  const statusTimer = setInterval(() => {
    round ??= writeStatus().finally(() => {
      round = undefined;
    });
  }, statusIntervalMs);
  statusTimer.unref();
  const secretTimer = setInterval(() => sync(), opts.secretRefreshMs ?? 60_000);
  secretTimer.unref();

  return {
    writeStatus,
    async stop() {
      stopped = true;
      clearInterval(statusTimer);
      clearInterval(secretTimer);
      await round;
      await running;
      await informer.stop();
      rest.close();
    },
  };
}
