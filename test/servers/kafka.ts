// A real Apache Kafka broker for tests and benchmarks: a single KRaft node
// (broker and controller in one JVM) on loopback ports, its data in a temp
// dir, started from the jars fetch-kafka.sh caches under ~/.cache/hearth
// (make test-unit starts that fetch beside the unit suites). No container.
//
// A broker never outlives the process that started it: stop() sends SIGTERM
// (SIGKILL after a grace period) and removes its dir, an exit hook kills any
// left running, and the JVM runs under `setpriv --pdeathsig KILL`, so even a
// test worker killed by a signal takes its broker with it.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../helpers/ports.js';
import { killOnExit } from '../helpers/kill-on-exit.js';

const script = fileURLToPath(new URL('./fetch-kafka.sh', import.meta.url));

/** The jars' directory, or why there is none (only outside CI: under CI=true a failed fetch fails). */
export function fetchKafka(): Promise<{ libs: string } | { skip: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ libs: stdout.trim().split('\n').pop() ?? '' });
        return;
      }
      if (err.code === 3 && process.env.CI !== 'true') {
        resolve({ skip: stderr.trim() });
        return;
      }
      reject(new Error(`fetch-kafka.sh failed (${String(err.code)}): ${stderr}`));
    });
  });
}

export interface KafkaBroker {
  /** HOST:PORT of the PLAINTEXT listener. */
  bootstrap: string;
  /** With `sasl`: HOST:PORT of a second listener that asks for SASL PLAIN or SCRAM-SHA-256/512 (SASL_PLAINTEXT). */
  saslBootstrap?: string;
  /** With `tls`: HOST:PORT of a TLS listener, and the PEM of the throwaway CA that signed its certificate. */
  tlsBootstrap?: string;
  caPem?: string;
  port: number;
  /** The JVM's classpath (every jar the fetch brought, the perf tools included). */
  classpath: string;
  /** The broker's log (log4j2), kept after stop for debugging; removed by stop() when the run went well unless HEARTH_KAFKA_KEEP_LOG=1. */
  logFile: string;
  /** Runs a Kafka tool class (e.g. org.apache.kafka.tools.ConsumerPerformance) on the same jars against this broker's world. */
  runTool(mainClass: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** SIGTERM (SIGKILL after 10 s), then removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  /** The address clients connect to (default 127.0.0.1; e.g. a bridge's address that pods of a test cluster reach). The controller stays on loopback. */
  host?: string;
  /** A second listener (saslBootstrap) taking these users' names and passwords over SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
  sasl?: { users: Record<string, string> };
  /** A TLS listener (tlsBootstrap) with a certificate for the host signed by a throwaway CA (caPem). */
  tls?: boolean;
  /** Partitions of topics the broker creates on first use (num.partitions; default 1). */
  partitions?: number;
  /** How long to wait for the broker to take a produce (default 90 s: a JVM starting on a loaded two-core machine). */
  readyTimeoutMs?: number;
}

const JVM_FLAGS = ['-Xms256m', '-Xmx512m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Djava.awt.headless=true'];


function javaCommand(classpath: string, logConfig: string | undefined, mainClass: string, args: readonly string[]): { cmd: string; argv: string[] } {
  const java = ['java', ...JVM_FLAGS, ...(logConfig ? [`-Dlog4j2.configurationFile=${logConfig}`] : []), '-cp', classpath, mainClass, ...args];
  // The JVM dies with the process that started it, whatever kills that process.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  return setpriv ? { cmd: setpriv, argv: ['--pdeathsig', 'KILL', '--', ...java] } : { cmd: 'java', argv: java.slice(1) };
}

function run(cmd: string, argv: readonly string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.find((a) => a.includes('.') && !a.startsWith('-')) ?? cmd} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** A throwaway CA and a server certificate for `host` signed by it; the listener's PEM keystore is key then certificate. */
async function makeTlsFiles(dir: string, host: string): Promise<{ keystore: string; caPem: string }> {
  const p = (f: string): string => join(dir, f);
  await run('openssl', ['genrsa', '-out', p('ca.key'), '2048'], 30_000);
  await run('openssl', ['req', '-x509', '-new', '-key', p('ca.key'), '-sha256', '-days', '2', '-subj', '/CN=hearth-test-kafka-ca', '-out', p('ca.crt')], 30_000);
  await run('openssl', ['genrsa', '-out', p('server.key'), '2048'], 30_000);
  await run('openssl', ['req', '-new', '-key', p('server.key'), '-subj', `/CN=${host}`, '-out', p('server.csr')], 30_000);
  const san = /^[0-9.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  writeFileSync(p('server.ext'), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', p('server.ext'), '-out', p('server.crt')], 30_000);
  writeFileSync(p('server.pem'), readFileSync(p('server.key'), 'utf8') + readFileSync(p('server.crt'), 'utf8'));
  return { keystore: p('server.pem'), caPem: readFileSync(p('ca.crt'), 'utf8') };
}

function tail(file: string, chars = 4000): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/** Waits until the broker answers metadata, takes a produce (the partition's leader elected) and serves consumer groups: then clients see a working broker. */
async function waitReady(bootstrap: string, exited: () => string | undefined, deadline: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'hearth-test-ready', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 });
  let last = '';
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone !== undefined) throw new Error(`the Kafka broker exited at start (${gone})`);
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'hearth-ready', numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic: 'hearth-ready', acks: -1, messages: [{ value: 'ready' }] });
      // And the group coordinator has loaded (__consumer_offsets, made on first use): a fresh broker answers COORDINATOR_LOAD_IN_PROGRESS until then.
      await admin.fetchOffsets({ groupId: 'hearth-ready', topics: ['hearth-ready'] });
      return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Kafka broker at ${bootstrap} did not take a produce in time (last: ${last})`);
}

/** Starts a single-node KRaft broker; throws when the jars are missing (call fetchKafka first to skip or fetch). */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const fetched = await fetchKafka();
  if ('skip' in fetched) throw new Error(`no Kafka jars: ${fetched.skip}`);
  const classpath = join(fetched.libs, '*');
  const [port, controllerPort] = [await freePort(), await freePort()];
  const saslPort = opts.sasl ? await freePort() : undefined;
  const tlsPort = opts.tls ? await freePort() : undefined;
  const users = Object.entries(opts.sasl?.users ?? {});
  const q = (v: string): string => JSON.stringify(v);
  const saslProps =
    saslPort === undefined
      ? []
      : [
          'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
          `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${users.map(([u, pw]) => `user_${u}=${q(pw)}`).join(' ')};`,
          'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
          'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
        ];
  const host = opts.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'hearth-kafka-'));
  const logFile = join(tmpdir(), `hearth-kafka-${port}.log`);
  const props = join(dir, 'server.properties');
  let tlsFiles: { keystore: string; caPem: string } | undefined;
  try {
    if (tlsPort !== undefined) tlsFiles = await makeTlsFiles(dir, host);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const extraListeners = [...(saslPort !== undefined ? [`SASL_PLAINTEXT://${host}:${saslPort}`] : []), ...(tlsPort !== undefined ? [`SSL://${host}:${tlsPort}`] : [])].map((l) => `,${l}`).join('');
  const tlsProps = tlsFiles ? ['listener.name.ssl.ssl.keystore.type=PEM', `listener.name.ssl.ssl.keystore.location=${tlsFiles.keystore}`] : [];
  const logConfig = join(dir, 'log4j2.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://${host}:${port},CONTROLLER://127.0.0.1:${controllerPort}${extraListeners}`,
      `advertised.listeners=PLAINTEXT://${host}:${port}${extraListeners}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
      ...saslProps,
      ...tlsProps,
      `log.dirs=${join(dir, 'data')}`,
      `num.partitions=${opts.partitions ?? 1}`,
      // One node: every internal topic has one replica; a small offsets topic makes the first group coordinator quick to elect.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      // A group's first member gets its partitions at once instead of after 3 s.
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=true',
      '',
    ].join('\n'),
  );
  writeFileSync(
    logConfig,
    [
      'status = error',
      'appender.file.type = File',
      'appender.file.name = FILE',
      `appender.file.fileName = ${logFile}`,
      'appender.file.layout.type = PatternLayout',
      'appender.file.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.file.ref = FILE',
      // The per-request and log-cleaner chatter says nothing a failing test needs.
      'logger.request.name = kafka.request.logger',
      'logger.request.level = WARN',
      'logger.cleaner.name = kafka.log.LogCleaner',
      'logger.cleaner.level = WARN',
      '',
    ].join('\n'),
  );
  try {
    const id = (await run('java', [...JVM_FLAGS, '-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid'], 60_000)).stdout.trim();
    // SCRAM credentials live in the cluster's metadata: the format writes them first.
    const scram = users.flatMap(([u, pw]) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mech) => ['--add-scram', `${mech}=[name=${u},password=${pw}]`]));
    const fmt = javaCommand(classpath, logConfig, 'kafka.tools.StorageTool', ['format', '-t', id, '-c', props, ...scram]);
    await run(fmt.cmd, fmt.argv, 60_000);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const { cmd, argv } = javaCommand(classpath, logConfig, 'kafka.Kafka', [props]);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(proc);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = `code ${String(code)}, signal ${String(signal)}`;
      resolve();
    });
  });
  proc.once('error', (err) => (exit = err.message));

  let stopped = false;
  const stop = async (opts: { keepLog?: boolean } = {}): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (exit === undefined) {
      proc.kill('SIGTERM');
      const grace = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(grace);
    }
    rmSync(dir, { recursive: true, force: true });
    if (!opts.keepLog && process.env.HEARTH_KAFKA_KEEP_LOG !== '1') rmSync(logFile, { force: true });
  };

  const bootstrap = `${host}:${port}`;
  try {
    await waitReady(bootstrap, () => exit, Date.now() + (opts.readyTimeoutMs ?? 90_000));
  } catch (err) {
    await stop({ keepLog: true });
    throw new Error(`${(err as Error).message}; log ${logFile}:\n${tail(logFile)}\n${stderr}`);
  }

  return {
    bootstrap,
    ...(saslPort !== undefined ? { saslBootstrap: `${host}:${saslPort}` } : {}),
    ...(tlsPort !== undefined && tlsFiles ? { tlsBootstrap: `${host}:${tlsPort}`, caPem: tlsFiles.caPem } : {}),
    port,
    classpath,
    logFile,
    runTool: (mainClass, args, o = {}) => {
      const c = javaCommand(classpath, undefined, mainClass, args);
      return run(c.cmd, c.argv, o.timeoutMs ?? 300_000);
    },
    stop: () => stop(),
  };
}
