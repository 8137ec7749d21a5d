// A real redis-server for one test file (or a bench run): loopback only, on
// a free port, with its data dir in a temp dir. It can be stopped, killed
// and started again on the same port, which is what the restart tests need.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from './ports.js';
import { killOnExit } from './kill-on-exit.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServerOptions {
  /** Append-only file on, so a restart keeps every acknowledged write. */
  aof?: boolean;
  /** fsync policy with aof (default always: a SIGKILL then loses nothing acknowledged). */
  appendfsync?: 'always' | 'everysec' | 'no';
  password?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '100mb']. */
  args?: string[];
  /** Cluster mode: one node holding every slot, so clients speak the Cluster protocol and CROSSSLOT rules apply. */
  cluster?: boolean;
  /** Sentinel mode: a sentinel watching the master on this port under this name (default mymaster), with a quorum of one. */
  sentinel?: { masterPort: number; name?: string };
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Starts it again (same port, same data dir) after stop or kill. */
  start(): Promise<void>;
  /** Graceful restart (SIGTERM: Redis flushes its AOF), or a crash with `{ kill: true }`. */
  restart(opts?: { kill?: boolean }): Promise<void>;
  /** SIGKILL; the server stays down until start() or restart(). */
  kill(): Promise<void>;
  /** Stops for good and removes the data dir. */
  stop(): Promise<void>;
}


export { freePort } from './ports.js';

/** Sends one inline command and returns what came back within a short wait. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const t = setTimeout(() => {
      sock.destroy();
      resolve(buf);
    }, 300);
    sock.on('error', () => resolve(buf));
    sock.on('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) {
        clearTimeout(t);
        sock.destroy();
        resolve(buf);
      }
    });
  });
}

/** One PING over a raw socket: true on +PONG (not while it loads its AOF, which answers -LOADING). */
function ping(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write(password !== undefined ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('+PONG')) done(true);
      else if (buf.includes('-')) done(false);
    });
  });
}

function waitExit(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
    }, ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-redis-'));
  // A sentinel's monitored master can only be given in its config file, which it also rewrites.
  const sentinelConf = join(dir, 'sentinel.conf');
  if (opts.sentinel) writeFileSync(sentinelConf, `sentinel monitor ${opts.sentinel.name ?? 'mymaster'} 127.0.0.1 ${opts.sentinel.masterPort} 1\n`);
  const args = [
    ...(opts.sentinel ? [sentinelConf, '--sentinel'] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', opts.aof ? 'yes' : 'no',
    '--appendfsync', opts.appendfsync ?? 'always',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--logfile', join(dir, 'redis.log'),
    ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
    ...(opts.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1'] : []),
    ...(opts.args ?? []),
  ];
  let proc: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (proc) return;
    const p = spawn('redis-server', args, { stdio: 'ignore' });
    proc = p;
    killOnExit(p);
    p.once('exit', () => {
      if (proc === p) proc = undefined;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (await ping(port, opts.password)) return;
      if (!proc) throw new Error(`redis-server exited at start (see ${join(dir, 'redis.log')})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const p = proc;
    if (!p) return;
    p.kill(signal);
    await waitExit(p, 10_000);
    proc = undefined;
  };

  await start();
  if (opts.cluster) {
    await command(port, 'CLUSTER ADDSLOTSRANGE 0 16383');
    const deadline = Date.now() + 15_000;
    while (!(await command(port, 'CLUSTER INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('single-node cluster did not become ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    dir,
    start,
    restart: async (o = {}) => {
      await halt(o.kill ? 'SIGKILL' : 'SIGTERM');
      await start();
    },
    kill: () => halt('SIGKILL'),
    stop: async () => {
      await halt('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
