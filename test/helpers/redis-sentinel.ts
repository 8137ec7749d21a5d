// A Redis master with replicas and sentinels watching it, all on loopback,
// for failover tests: the sentinels can be told to fail over, the master can
// be killed or frozen, and the suite asks the sentinels who the master is.
// The sentinels decide quickly (down after 2.5 s), so a failover takes seconds.
import { Redis } from 'ioredis';
import type { RedisConnectionOptions } from '../../src/queue/redis.js';
import { startRedis, type RedisServer } from './redis.js';
import { waitFor } from './wait.js';

export interface SentinelGroup {
  name: string;
  /** The data nodes; [0] is the first master, the others its replicas. */
  nodes: RedisServer[];
  sentinels: RedisServer[];
  /** How Hearth connects to it: through the sentinels. */
  connection: RedisConnectionOptions;
  /** The master's port as the sentinels name it now. */
  masterPort(): Promise<number>;
  node(port: number): RedisServer;
  /** Waits until the sentinels name a master other than `port`, and returns its port. */
  newMasterThan(port: number, timeoutMs?: number): Promise<number>;
  /**
   * Waits until every sentinel names the same master, knows at least
   * `replicas` replicas of it, and every replica it does not think down is in
   * sync: a failover then promotes a replica that holds what the master held.
   * (Promoting one still resyncing loses what it lacks; that is Redis's limit.)
   */
  healthy(replicas: number, timeoutMs?: number): Promise<void>;
  /** SENTINEL FAILOVER: the sentinels promote a replica while the master is up. */
  failover(): Promise<void>;
  /** The process id of the node on `port` (INFO server), for SIGSTOP and SIGCONT. */
  pid(port: number): Promise<number>;
  /** Runs one command on the node on `port`. */
  command(port: number, ...args: Array<string | number>): Promise<unknown>;
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  replicas?: number;
  sentinels?: number;
  name?: string;
  /** Sentinel's down-after-milliseconds (default 2500: shorter, a loaded machine's slow answer passes for a dead master). */
  downAfterMs?: number;
}

async function once<T>(port: number, run: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await run(c);
  } finally {
    c.disconnect();
  }
}

export async function startSentinelGroup(opts: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const name = opts.name ?? 'hearth';
  // A replica that (re)syncs gets its copy at once rather than after Redis's default 5 s wait for others to join.
  const nodeArgs = ['--repl-diskless-sync-delay', '0'];
  const master = await startRedis({ args: nodeArgs });
  const nodes: RedisServer[] = [master];
  const sentinels: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    // The sentinels first, so they do not fail anything over while the nodes go.
    for (const s of sentinels) await s.stop();
    for (const n of nodes) await n.stop();
  };
  try {
    for (let i = 0; i < (opts.replicas ?? 2); i++) nodes.push(await startRedis({ args: [...nodeArgs, '--replicaof', '127.0.0.1', String(master.port)] }));
    // Sentinels learn the replicas from the master's INFO, so the replicas are attached before the sentinels start.
    await waitFor('the replicas in sync', async () => {
      const info = await once(master.port, (c) => c.info('replication'));
      return (info.match(/state=online/g)?.length ?? 0) === nodes.length - 1;
    }, 20_000, 50);
    for (let i = 0; i < (opts.sentinels ?? 3); i++) sentinels.push(await startRedis({ sentinel: { masterPort: master.port, name } }));
    for (const s of sentinels) {
      await once(s.port, (c) => c.call('SENTINEL', 'SET', name, 'down-after-milliseconds', String(opts.downAfterMs ?? 2500), 'failover-timeout', '5000', 'parallel-syncs', '5'));
    }
    await waitFor('the sentinels to know every replica and each other', async () => {
      for (const s of sentinels) {
        const ok = await once(s.port, async (c) => {
          const replicas = (await c.call('SENTINEL', 'REPLICAS', name)) as unknown[];
          const others = (await c.call('SENTINEL', 'SENTINELS', name)) as unknown[];
          return replicas.length === nodes.length - 1 && others.length === sentinels.length - 1;
        });
        if (!ok) return false;
      }
      return true;
    }, 30_000, 200);
  } catch (err) {
    await stop();
    throw err;
  }

  const masterPort = (): Promise<number> =>
    once(sentinels[0]?.port ?? 0, async (c) => Number(((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]));
  const askAny = async (): Promise<number | undefined> => {
    for (const s of sentinels) {
      try {
        return await once(s.port, async (c) => Number(((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]));
      } catch {
        // That sentinel is away: ask the next.
      }
    }
    return undefined;
  };
  return {
    name,
    nodes,
    sentinels,
    connection: { sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), sentinelName: name },
    masterPort,
    node: (port) => {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no node on port ${port}`);
      return n;
    },
    newMasterThan: (port, timeoutMs = 30_000) =>
      waitFor(`the sentinels to promote a new master (not ${port})`, async () => {
        const now = await askAny();
        return now !== undefined && now !== port ? now : undefined;
      }, timeoutMs, 50),
    healthy: async (replicas, timeoutMs = 60_000) => {
      await waitFor(`a master with ${replicas} replica(s) in sync, as the nodes and every sentinel see it`, async () => {
        const masters = new Set<string>();
        for (const s of sentinels) {
          const known = await once(s.port, async (c) => {
            masters.add(((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[]).join(':'));
            const list = (await c.call('SENTINEL', 'REPLICAS', name)) as string[][];
            return list.filter((fields) => fields[fields.indexOf('flags') + 1] === 'slave').length;
          }).catch(() => 0);
          if (known < replicas) return false;
        }
        const [master] = [...masters];
        if (masters.size !== 1 || master === undefined) return false;
        const port = Number(master.split(':')[1]);
        // Every node that answers replicates from that master and has finished its sync: none could be promoted lacking data.
        let inSync = 0;
        for (const n of nodes) {
          const role = (await once(n.port, (c) => c.call('ROLE')).catch(() => undefined)) as unknown[] | undefined;
          if (role === undefined) continue;
          if (n.port === port) {
            if (role[0] !== 'master') return false;
          } else if (role[0] === 'slave' && Number(role[2]) === port && role[3] === 'connected') inSync++;
          else return false;
        }
        return inSync >= replicas;
      }, timeoutMs, 200);
    },
    failover: async () => {
      await once(sentinels[0]?.port ?? 0, (c) => c.call('SENTINEL', 'FAILOVER', name));
    },
    pid: (port) => once(port, async (c) => Number(/process_id:(\d+)/.exec(await c.info('server'))?.[1])),
    command: (port, ...args) => once(port, (c) => c.call(String(args[0]), ...args.slice(1).map(String))),
    stop,
  };
}
