// The gateway's shared scaling decision in every Redis mode the chart offers:
// a single Redis, one behind Sentinel, and a Cluster. Each replica is built
// as `hearth gateway` builds it (electLeader, then SharedDemand on the same
// client), against real redis-servers; lease rounds are driven by hand.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import { AlwaysLeader, RedisLeaseElector, type LeaderElector } from '../../src/autoscaler/leader.js';
import { SharedDemand } from '../../src/autoscaler/shared-demand.js';
import { leaderElectFrom, parseGatewayArgs } from '../../src/cli/gateway.js';
import { electLeader } from '../../src/platform/cluster.js';
import { namespaceKeyPrefix } from '../../src/queue/keys.js';
import { createRedisClient, type RedisClient, type RedisConnectionOptions } from '../../src/queue/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const logger = pino({ level: 'silent' });
const servers: RedisServer[] = [];
const modes: Record<string, RedisConnectionOptions> = {};

beforeAll(async () => {
  const single = await startRedis();
  const master = await startRedis();
  const sentinel = await startRedis({ sentinel: { masterPort: master.port, name: 'hearth' } });
  const cluster = await startRedis({ cluster: true });
  servers.push(single, master, sentinel, cluster);
  modes.single = { url: single.url };
  modes.sentinel = { sentinels: [{ host: '127.0.0.1', port: sentinel.port }], sentinelName: 'hearth' };
  modes.cluster = { cluster: [{ host: '127.0.0.1', port: cluster.port }] };
});

afterAll(async () => {
  // The sentinel first, so it does not watch its master go.
  for (const s of servers.reverse()) await s.stop();
});

/** One gateway replica's scaling parts, as startClusterGateway composes them. */
interface Replica {
  leader: LeaderElector;
  client: RedisClient;
  identity: string;
}

async function replica(redis: RedisConnectionOptions, namespace: string): Promise<Replica> {
  const { leader, client, identity } = await electLeader({ leaderElect: true, redis, namespace, logger });
  if (!client || !identity) throw new Error('leader election on, yet no Redis client');
  return { leader, client, identity };
}

function lease(r: Replica): RedisLeaseElector {
  if (!(r.leader instanceof RedisLeaseElector)) throw new Error('expected the Redis lease');
  return r.leader;
}

const catalog = new MemoryCatalog();
catalog.set(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'fn' }, spec: { runtime: 'go', code: { image: 'x' } } }));

describe.each(['single', 'sentinel', 'cluster'])('shared scaling with a %s Redis', (mode) => {
  const opened: Replica[] = [];
  const open = async (namespace: string): Promise<Replica> => {
    const r = await replica(modes[mode] ?? {}, namespace);
    opened.push(r);
    return r;
  };
  afterAll(async () => {
    for (const r of opened) {
      await r.leader.stop();
      await r.client.quit();
    }
  });

  it('lets exactly one of two gateways lead, and hands over when it stops', async () => {
    const ns = `ns-${randomBytes(3).toString('hex')}`;
    const a = await open(ns);
    const b = await open(ns);
    await a.leader.start();
    await b.leader.start();
    expect([a.leader.isLeader(), b.leader.isLeader()]).toEqual([true, false]);
    // Renewals keep it where it is.
    expect(await lease(a).round()).toBe(true);
    expect(await lease(b).round()).toBe(false);
    const check = createRedisClient(modes[mode] ?? {});
    try {
      // The client refuses commands until connected (no offline queue).
      if (check.status !== 'ready') await new Promise((resolve) => check.once('ready', resolve));
      expect(await check.get(`${namespaceKeyPrefix(ns)}:autoscaler-leader`)).toBe(a.identity);
    } finally {
      await check.quit();
    }
    await a.leader.stop();
    expect(await lease(b).round()).toBe(true);
    expect(a.leader.isLeader()).toBe(false);
  });

  it("gives every gateway the sum of both gateways' demand", async () => {
    const ns = `ns-${randomBytes(3).toString('hex')}`;
    const a = await open(ns);
    const b = await open(ns);
    const demand = (r: Replica, local: number): SharedDemand =>
      new SharedDemand({ redis: r.client, prefix: namespaceKeyPrefix(ns), identity: r.identity, catalog, local: () => local });
    const da = demand(a, 3);
    const db = demand(b, 4);
    await da.exchange();
    await db.exchange();
    await da.exchange();
    expect(da.total('fn')).toBe(7);
    expect(db.total('fn')).toBe(7);
  });
});

describe('who decides for a gateway started with these flags', () => {
  it.each([
    ['no flag', [], RedisLeaseElector],
    ['--leader-elect', ['--leader-elect'], RedisLeaseElector],
    ['--no-leader-elect', ['--no-leader-elect'], AlwaysLeader],
    ['--leader-elect --no-leader-elect', ['--leader-elect', '--no-leader-elect'], AlwaysLeader],
  ])('%s', async (_what, argv, kind) => {
    const { leader, client } = await electLeader({ leaderElect: leaderElectFrom(parseGatewayArgs(argv)), redis: modes.cluster ?? {}, namespace: 'x', logger });
    try {
      expect(leader).toBeInstanceOf(kind);
      // Deciding alone opens no Redis connection for it.
      expect(client === undefined).toBe(kind === AlwaysLeader);
    } finally {
      await client?.quit();
    }
  });
});
