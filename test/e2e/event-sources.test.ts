// Event sources on the process-node cluster: a real Kafka broker (KRaft,
// from Apache Kafka's jars) listening on the node's bridge address, so the
// gateway pods reach it from their own network namespaces; `kubectl apply` of
// a Kafka EventSourceMapping and a Python function at zero instances; records
// produced drive the function's pods (scaled from zero), each record is
// processed, in order per partition, and the mapping's status goes back to a
// lag of 0. Then CloudEvents sent with the CloudEvents Python SDK to the
// gateway's Service invoke a function on the cluster. Then, on a slow
// function (a batch takes 0.4 s): a gateway pod's process killed while one of
// its batches is in flight loses no record (the batch runs again once the
// group has rebalanced), and a Kafka lag scales the function's pods past one
// instance and, once drained, back to zero; a gateway scaled down mid-batch
// drains it (the batch finishes and never runs again); and a rolling restart
// of the gateways under a flow of batches loses no record.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AssignerProtocol, Kafka, logLevel, Partitioners, type GroupDescription } from 'kafkajs';
import { stringify } from 'yaml';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import type { EventSourceMappingStatus } from '../../src/api/event-source-mapping.js';
import { gatewayIp } from '../cluster/node/network.js';
import { POD_CIDR } from '../cluster/process-cluster.js';
import { startKafka, type KafkaBroker } from '../servers/kafka.js';
import { DEFAULT_SESSION_TIMEOUT_MS } from '../../src/sources/kafka/connector.js';
import { GATEWAY, NS, api, apiKey, containerPid, ctx, ensureRelease, isReady, kubectl, pods, tool, until, type ContainerStatusView, type PodView } from './cluster.js';
import { applyPython } from './functions.js';

const FN = 'esm-sink';
const TOPIC = 'e2e-orders';
const PARTITIONS = 3;
const PER_PARTITION = 100;
const CE_PYTHON = resolve('.cache/cloudevents/bin/python');

/** Prints what it got, marked for the test: Kafka batches as [time, partition, [seq…]] per partition, other events whole. */
const HANDLER = `import base64, json, time

def lambda_handler(event, context):
    if event.get('eventSource') == 'SelfManagedKafka':
        for key, records in event['records'].items():
            seqs = [json.loads(base64.b64decode(r['value']))['seq'] for r in records]
            print('ESM-E2E BATCH ' + json.dumps([time.time(), records[0]['partition'], [int(r['offset']) for r in records], seqs]), flush=True)
        return {}
    print('ESM-E2E EVENT ' + json.dumps(event), flush=True)
    return {}
`;

/** A CloudEvents producer written with the official SDK: binary or structured mode, with the chart's API key; prints the HTTP status. */
const SDK_SENDER = `import sys, urllib.error, urllib.request
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

url, mode, ident, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
event = CloudEvent(attributes={"type": "com.example.e2e", "source": "/e2e/cluster", "id": ident, "datacontenttype": "application/json"}, data={"mode": mode})
m = to_binary_event(event) if mode == "binary" else to_structured_event(event)
headers = dict(m.headers)
headers["authorization"] = "Bearer " + key
req = urllib.request.Request(url, data=m.body, headers=headers, method="POST")
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
`;

/** Every ESM-E2E line any runtime container printed (function pods and claimed pool pods alike), in file order. */
function printed(kind: 'BATCH' | 'EVENT'): string[] {
  const dir = join(ctx().logsDir, 'pods');
  const out: string[] = [];
  for (const d of readdirSync(dir)) {
    const file = join(dir, d, 'runtime.log');
    if (!existsSync(file)) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(new RegExp(`ESM-E2E ${kind} ([^\\n]*)`, 'g'))) out.push(m[1] ?? '');
  }
  return out;
}

type Batch = [time: number, partition: number, offsets: number[], seqs: number[]];

async function statusOf(name: string): Promise<EventSourceMappingStatus | undefined> {
  return (await api().get<{ status?: EventSourceMappingStatus }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/eventsourcemappings/${name}`)).status;
}

/** The instances the autoscaler asks of the Function (spec.replicas, what its scale subresource serves; absent until it first scales). */
async function functionReplicas(name: string): Promise<number> {
  const fn = await api().get<{ spec: { replicas?: number } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${name}`);
  return fn.spec.replicas ?? 0;
}

const SLOW_FN = 'esm-slow';
const SLOW_MAPPING = 'slow';
const SLOW_TOPIC = 'e2e-slow';
const SLOW_GROUP = 'e2e-slow';
/** Records per partition of each run (3 partitions, batches of 10: 20 batches a partition). */
const SLOW_PER_PARTITION = 200;
/** How long the slow function takes over a batch, after printing it. */
const SLOW_BATCH_SECONDS = 0.4;

/**
 * Prints each batch as it starts, [time, partition, [offset…], ["run/seq"…]],
 * then sleeps (SLOW_BATCH_SECONDS, or the longest `sleep` its records ask):
 * a batch printed less than that ago is in flight.
 */
const SLOW_HANDLER = `import base64, json, time

def lambda_handler(event, context):
    for key, records in event['records'].items():
        ids = []
        pause = ${SLOW_BATCH_SECONDS}
        for r in records:
            v = json.loads(base64.b64decode(r['value']))
            ids.append(v['run'] + '/' + str(v['seq']))
            pause = max(pause, float(v.get('sleep', 0)))
        print('ESM-E2E SLOW ' + json.dumps([time.time(), records[0]['partition'], [int(r['offset']) for r in records], ids]), flush=True)
    time.sleep(pause)
    return {}
`;

interface SlowBatch {
  /** When the function started it (epoch seconds, the machine's clock: pods and this process share it). */
  at: number;
  partition: number;
  offsets: number[];
  /** "run/seq" of each record. */
  ids: string[];
}

/** What each runtime.log held at its last size: the kill test polls every 50 ms, and after a whole suite there are many pods' logs. */
const slowSeen = new Map<string, { size: number; batches: SlowBatch[] }>();

/** Every batch the slow function printed, from every runtime container's output (a file is read again only when it grew). */
function slowBatches(): SlowBatch[] {
  const dir = join(ctx().logsDir, 'pods');
  const out: SlowBatch[] = [];
  for (const d of readdirSync(dir)) {
    const file = join(dir, d, 'runtime.log');
    if (!existsSync(file)) continue;
    const size = statSync(file).size;
    let entry = slowSeen.get(file);
    if (entry?.size !== size) {
      const batches = [...readFileSync(file, 'utf8').matchAll(/ESM-E2E SLOW ([^\n]*)/g)].map((m) => {
        const [at, partition, offsets, ids] = JSON.parse(m[1] ?? '') as [number, number, number[], string[]];
        return { at, partition, offsets, ids };
      });
      entry = { size, batches };
      slowSeen.set(file, entry);
    }
    out.push(...entry.batches);
  }
  return out;
}

/**
 * A run's records of one partition in the order the function first saw them
 * (batches by start time), and how many it saw again. In order per partition
 * means the first sightings are 0, 1, 2, …: a batch run again after a crash
 * repeats what was seen, never skips ahead.
 */
function firstSight(batches: SlowBatch[], run: string, partition: number): { order: number[]; duplicates: number } {
  const seen = new Set<number>();
  const order: number[] = [];
  let duplicates = 0;
  for (const b of [...batches].filter((x) => x.partition === partition).sort((x, y) => x.at - y.at)) {
    for (const id of b.ids) {
      const [r, seq] = id.split('/');
      if (r !== run) continue;
      const n = Number(seq);
      if (seen.has(n)) duplicates++;
      else {
        seen.add(n);
        order.push(n);
      }
    }
  }
  return { order, duplicates };
}

/** Produces `perPartition` records {run, seq[, sleep]} to each of the topic's partitions. */
async function produceRun(kafka: Kafka, topic: string, run: string, perPartition: number, sleep?: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let p = 0; p < PARTITIONS; p++) {
      const messages = Array.from({ length: perPartition }, (_, seq) => ({ partition: p, value: JSON.stringify({ run, seq, ...(sleep === undefined ? {} : { sleep }) }) }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Member {
  memberId: string;
  /** The member's address as the broker sees it: the gateway pod's IP (pods reach the broker on the bridge, not through a Service). */
  host: string;
  partitions: number[];
}

/** The group's members and the partitions of `topic` each was assigned. */
function members(group: GroupDescription, topic: string): Member[] {
  return group.members.map((m) => {
    const a = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    return { memberId: m.memberId, host: m.clientHost.replace(/^\//, ''), partitions: [...(a?.assignment[topic] ?? [])].sort((x, y) => x - y) };
  });
}

async function describeGroup(kafka: Kafka, groupId: string): Promise<GroupDescription> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    if (g === undefined) throw new Error(`no group ${groupId}`);
    return g;
  } finally {
    await admin.disconnect();
  }
}

/** The function's pods (its Deployment's and claimed pool pods) that are not being deleted. */
async function liveFunctionPods(name: string): Promise<PodView[]> {
  return (await pods(NS, `hearth.dev/function=${name}`)).filter((p) => p.metadata.deletionTimestamp === undefined);
}

const gatewayContainer = (p: PodView): ContainerStatusView | undefined => p.status.containerStatuses?.find((c) => c.name === 'gateway') ?? p.status.containerStatuses?.[0];

const seqOf = (id: string | undefined): number => Number(id?.split('/')[1]);

/**
 * A batch of `run` the function started less than `freshSeconds` ago (0.2 s of its 0.4 s), so still in flight; past a
 * quarter of its partition, so earlier batches are committed, and not its last, so records are still to come.
 */
function batchInFlight(run: string, perPartition = SLOW_PER_PARTITION, freshSeconds = 0.2): SlowBatch | undefined {
  const now = Date.now() / 1000;
  return slowBatches()
    .filter((b) => b.ids[0]?.startsWith(`${run}/`) === true && now - b.at < freshSeconds && seqOf(b.ids[0]) >= perPartition / 4 && seqOf(b.ids.at(-1)) < perPartition - 1)
    .sort((x, y) => y.at - x.at)[0];
}

/** Both gateway replicas Ready and in the slow mapping's group, each with partitions of its own. */
async function gatewaysInGroup(kafka: Kafka): Promise<{ gateways: PodView[]; members: Member[]; podOf: (m: Member) => PodView | undefined }> {
  const gateways = await until('gateway pods Ready', async () => {
    const list = await pods(NS, 'app.kubernetes.io/component=gateway');
    return list.length === 2 && list.every(isReady) ? list : undefined;
  }, 120_000);
  const ms = await until('both gateways in the group, every partition assigned', async () => {
    const g = await describeGroup(kafka, SLOW_GROUP);
    const got = members(g, SLOW_TOPIC);
    return g.state === 'Stable' && got.length === 2 && got.every((m) => m.partitions.length > 0) && got.flatMap((m) => m.partitions).sort().join() === '0,1,2' ? got : undefined;
  }, 90_000, 500);
  const podOf = (m: Member): PodView | undefined => gateways.find((p) => p.status.podIP === m.host);
  expect(ms.map((m) => podOf(m)?.metadata.name).filter((n) => n !== undefined), 'each member is a gateway pod (by its address)').toHaveLength(2);
  return { gateways, members: ms, podOf };
}

/** Every record of `run` processed (by first sight, in order on each partition); the batches and the records run twice per partition. */
async function runProcessed(kafka: Kafka, run: string, perPartition = SLOW_PER_PARTITION): Promise<{ batches: SlowBatch[]; duplicates: number[] }> {
  const total = PARTITIONS * perPartition;
  const batches = await until(`every record of run ${run} processed`, async () => {
    const got = slowBatches();
    const seen = new Set(got.flatMap((b) => b.ids.filter((id) => id.startsWith(`${run}/`)).map((id) => `${b.partition}/${id}`)));
    return seen.size === total ? got : undefined;
  }, 150_000, 1_000).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; group: ${JSON.stringify(await describeGroup(kafka, SLOW_GROUP).then((g) => [g.state, members(g, SLOW_TOPIC)]).catch(String))}`);
  });
  const duplicates: number[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const { order, duplicates: d } = firstSight(batches, run, p);
    expect(order, `partition ${p}: records first seen in order`).toEqual(Array.from({ length: perPartition }, (_, i) => i));
    duplicates.push(d);
  }
  return { batches, duplicates };
}

describe.runIf(inject('e2e') !== undefined).sequential('Event sources on the process-node cluster', () => {
  let broker: KafkaBroker | undefined;
  const work = mkdtempSync(join(tmpdir(), 'hearth-e2e-esm-'));

  afterAll(async () => {
    await kubectl('delete', 'esm', 'orders', '-n', NS, '--ignore-not-found').catch(() => undefined);
    await kubectl('delete', 'esm', SLOW_MAPPING, '-n', NS, '--ignore-not-found').catch(() => undefined);
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('kubectl apply of a Kafka mapping drives a function\'s pods from zero: every record processed, in order per partition, lag back to 0', async () => {
    await ensureRelease();
    await until('gateway pods Ready', async () => {
      const list = await pods(NS, 'app.kubernetes.io/component=gateway');
      return list.length > 0 && list.every(isReady) ? true : undefined;
    }, 120_000);
    // The broker listens on the bridge's address: pods reach it through their veth, this process directly.
    const host = gatewayIp(POD_CIDR);
    broker = await startKafka({ partitions: PARTITIONS, host });
    const kafka = new Kafka({ clientId: 'hearth-e2e', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
    await admin.disconnect();

    await applyPython(FN, HANDLER, { timeoutSeconds: 30, scaling: { minInstances: 0, maxInstances: 3, scaleToZeroGracePeriodSeconds: 600 } });
    await until(`${FN} Ready`, async () => {
      const f = await api().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${FN}`);
      return f.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 120_000);
    expect(await functionReplicas(FN)).toBe(0);

    const mapping = {
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name: 'orders', namespace: NS },
      spec: { functionName: FN, kafka: { bootstrapServers: [broker.bootstrap], topics: [TOPIC] }, startingPosition: 'TRIM_HORIZON', batchSize: 25 },
    };
    await tool('kubectl', ['apply', '-f', '-'], stringify(mapping));
    await until('the mapping Enabled and polling', async () => {
      const s = await statusOf('orders');
      return s?.state === 'Enabled' && s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 120_000);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let p = 0; p < PARTITIONS; p++) {
      const messages = Array.from({ length: PER_PARTITION }, (_, seq) => ({ partition: p, value: JSON.stringify({ seq }) }));
      await producer.send({ topic: TOPIC, acks: -1, messages });
    }
    await producer.disconnect();

    // The pollers invoke the function: it scales from zero, and every record is processed.
    let peak = 0;
    const batches = await until('every record processed', async () => {
      peak = Math.max(peak, await functionReplicas(FN));
      const got = printed('BATCH').map((l) => JSON.parse(l) as Batch);
      const seen = new Set(got.flatMap(([, p, , seqs]) => seqs.map((s) => `${p}/${s}`)));
      return seen.size === PARTITIONS * PER_PARTITION ? got : undefined;
    }, 240_000, 1_000);
    expect(peak).toBeGreaterThanOrEqual(1);
    for (let p = 0; p < PARTITIONS; p++) {
      // In order per partition: batches one after another, offsets and sequence numbers rising (a batch run again after a rebalance repeats, never skips).
      const mine = batches.filter(([, bp]) => bp === p).sort((a, b) => a[0] - b[0]);
      let next = 0;
      for (const [, , offsets, seqs] of mine) {
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
        expect(seqs[0], `partition ${p}: a batch starting at ${String(seqs[0])} after ${next - 1}`).toBeLessThanOrEqual(next);
        next = Math.max(next, (seqs.at(-1) ?? -1) + 1);
      }
      expect(next).toBe(PER_PARTITION);
    }

    // The leader writes the status: the lag back to 0 on every partition, and kubectl shows it.
    // Each gateway replica polls some of the partitions; the leader's status merges what every replica last saw: OK.
    const s = await until('the lag back to 0, the result OK', async () => {
      const st = await statusOf('orders');
      return st?.totalLag === 0 && st.lag?.length === PARTITIONS && st.lastProcessingResult === 'OK' ? st : undefined;
    }, 60_000, 1_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; status: ${JSON.stringify(await statusOf('orders'))}`);
    });
    expect(s.lag?.map((l) => l.partition)).toEqual([0, 1, 2].map((p) => `${TOPIC}-${p}`));
    const row = (await kubectl('get', 'esm', 'orders', '-n', NS, '--no-headers')).trim();
    expect(row).toMatch(new RegExp(`^orders\\s+${FN}\\s+Enabled\\s+0\\s+OK\\s+`));
  }, 600_000);

  it('CloudEvents sent with the CloudEvents Python SDK to the gateway Service (binary and structured) invoke the function on the cluster', async () => {
    if (!existsSync(CE_PYTHON)) throw new Error(`the CloudEvents Python SDK is required (make test installs it at ${CE_PYTHON}: make .cache/cloudevents/.cloudevents-2.2.0)`);
    writeFileSync(join(work, 'send.py'), SDK_SENDER);
    const key = await apiKey();
    const send = (mode: 'binary' | 'structured', id: string): Promise<string> =>
      new Promise((done, fail) => {
        execFile(CE_PYTHON, [join(work, 'send.py'), `${GATEWAY}/events/${FN}`, mode, id, key], { timeout: 90_000 }, (err, stdout, stderr) => (err ? fail(new Error(`${stderr}${err.message}`)) : done(stdout.trim())));
      });
    expect(await send('binary', 'e2e-binary-1')).toBe('202');
    expect(await send('structured', 'e2e-structured-1')).toBe('202');
    const events = await until('both CloudEvents run', async () => {
      const got = printed('EVENT').map((l) => JSON.parse(l) as Record<string, unknown>);
      const ids = new Set(got.map((e) => e.id));
      return ids.has('e2e-binary-1') && ids.has('e2e-structured-1') ? got : undefined;
    }, 120_000, 1_000);
    for (const [id, mode] of [['e2e-binary-1', 'binary'], ['e2e-structured-1', 'structured']] as const) {
      expect(events.find((e) => e.id === id)).toMatchObject({ specversion: '1.0', type: 'com.example.e2e', source: '/e2e/cluster', id, data: { mode } });
    }
  }, 240_000);

  it('a gateway pod killed mid-batch loses nothing: every record processed, in order per partition (first sight), the batch in flight run again after the group rebalances', async () => {
    if (broker === undefined) throw new Error('the broker is started by the first test of this file');
    const kafka = new Kafka({ clientId: 'hearth-e2e-slow', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: SLOW_TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
    await admin.disconnect();

    // concurrency 5 (aimed at 3.5 calls an instance): the 3 batches in flight at once fit one instance, so only the lag takes it past one (next test).
    await applyPython(SLOW_FN, SLOW_HANDLER, { timeoutSeconds: 30, concurrency: 5, scaling: { minInstances: 0, maxInstances: 3, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 10 } });
    await until(`${SLOW_FN} Ready`, async () => {
      const f = await api().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${SLOW_FN}`);
      return f.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 120_000);
    const mapping = {
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name: SLOW_MAPPING, namespace: NS },
      spec: { functionName: SLOW_FN, kafka: { bootstrapServers: [broker.bootstrap], topics: [SLOW_TOPIC], consumerGroupId: SLOW_GROUP }, startingPosition: 'TRIM_HORIZON', batchSize: 10 },
    };
    await tool('kubectl', ['apply', '-f', '-'], stringify(mapping));

    // Both gateway replicas in the group, each with partitions of its own.
    const { members: before, podOf } = await gatewaysInGroup(kafka);

    await produceRun(kafka, SLOW_TOPIC, 'kill', SLOW_PER_PARTITION);

    // A batch in flight (batchInFlight): its gateway's process is killed (SIGKILL, no shutdown: the offset of that batch is never committed).
    const victim = await until('a batch in flight, its gateway killed', async () => {
      const fresh = batchInFlight('kill');
      if (fresh === undefined) return undefined;
      const member = before.find((m) => m.partitions.includes(fresh.partition));
      const pod = member === undefined ? undefined : podOf(member);
      const container = pod === undefined ? undefined : gatewayContainer(pod);
      const pid = containerPid(container);
      if (member === undefined || pod === undefined || pid === undefined) return undefined;
      process.kill(pid, 'SIGKILL');
      return { batch: fresh, member, pod, restarts: container?.restartCount ?? 0, killedAt: Date.now() / 1000 };
    }, 60_000, 50);
    console.log(`[esm-e2e] killed ${victim.pod.metadata.name} (member ${victim.member.memberId}, partitions ${victim.member.partitions.join(',')}) ${((victim.killedAt - victim.batch.at) * 1000).toFixed(0)} ms into a batch of partition ${victim.batch.partition} (${victim.batch.ids[0] ?? ''}…${victim.batch.ids.at(-1) ?? ''})`);

    // Nothing lost: every record of the run processed, in order, by whoever reads its partition now.
    const { batches, duplicates } = await runProcessed(kafka, 'kill');
    console.log(`[esm-e2e] records run twice (at least once, a gateway killed mid-batch), per partition: ${duplicates.join(', ')}`);
    // The batch in flight at the kill was never committed: it runs again after the rebalance.
    const again = batches.filter((b) => b.partition === victim.batch.partition && b.at > victim.killedAt && b.ids.includes(victim.batch.ids[0] ?? ''));
    expect(again.length, 'the batch in flight at the kill ran again').toBeGreaterThanOrEqual(1);
    expect(duplicates[victim.batch.partition]).toBeGreaterThanOrEqual(victim.batch.ids.length);
    // ... from the partition's last commit, not from its start: what was done before the batch is not run again.
    const resumedAt = seqOf(again.sort((x, y) => x.at - y.at)[0]?.ids[0]);
    const resumedAfter = (again[0]?.at ?? NaN) - victim.killedAt;
    console.log(`[esm-e2e] partition ${victim.batch.partition} resumed at ${resumedAt} (the killed batch began at ${seqOf(victim.batch.ids[0])}) ${resumedAfter.toFixed(1)} s after the kill (the group's session timeout: ${DEFAULT_SESSION_TIMEOUT_MS / 1000} s)`);
    expect(duplicates[victim.batch.partition]).toBeLessThan(seqOf(victim.batch.ids[0]));

    // The group rebalanced: the killed member is gone, every partition is read by a live gateway.
    const after = await until('the group stable without the killed member', async () => {
      const g = await describeGroup(kafka, SLOW_GROUP);
      const ms = members(g, SLOW_TOPIC);
      return g.state === 'Stable' && ms.every((m) => m.memberId !== victim.member.memberId) && ms.flatMap((m) => m.partitions).sort().join() === '0,1,2' ? ms : undefined;
    }, 60_000, 500);
    const live = await pods(NS, 'app.kubernetes.io/component=gateway');
    for (const m of after) expect(live.some((p) => p.status.podIP === m.host), `member ${m.memberId} at ${m.host} is a gateway pod`).toBe(true);
    const survivor = before.find((m) => m.memberId !== victim.member.memberId);
    console.log(`[esm-e2e] group after the kill: ${after.map((m) => `${m.memberId === survivor?.memberId ? 'survivor' : 'new member'} ${m.host} [${m.partitions.join(',')}]`).join('; ')}`);
    // The survivor stayed in the group throughout (same member id).
    expect(after.some((m) => m.memberId === survivor?.memberId)).toBe(true);

    // It was a crash, not a stop: the container restarted, and both gateways serve again.
    await until('the killed gateway restarted and both Ready', async () => {
      const list = await pods(NS, 'app.kubernetes.io/component=gateway');
      const p = list.find((x) => x.metadata.uid === victim.pod.metadata.uid);
      return p !== undefined && (gatewayContainer(p)?.restartCount ?? 0) > victim.restarts && list.length === 2 && list.every(isReady) ? true : undefined;
    }, 120_000, 1_000);
  }, 420_000);

  it('Kafka lag scales the function\'s pods past one and, once drained, back to zero; the mapping\'s lag back to 0', async () => {
    if (broker === undefined) throw new Error('the broker is started by the first test of this file');
    const kafka = new Kafka({ clientId: 'hearth-e2e-lag', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    // From rest: the last run drained, no instance left (scaleToZeroGracePeriodSeconds 10).
    await until(`${SLOW_FN} at zero`, async () => ((await liveFunctionPods(SLOW_FN)).length === 0 && (await functionReplicas(SLOW_FN)) === 0 ? true : undefined), 120_000, 1_000);

    await produceRun(kafka, SLOW_TOPIC, 'lag', SLOW_PER_PARTITION);
    const total = PARTITIONS * SLOW_PER_PARTITION;
    // 600 records behind count as 60 calls of demand; the 3 batches in flight alone would fit one instance.
    const timeline: string[] = [];
    let peakReady = 0;
    let peakReplicas = 0;
    let peakLag = 0;
    const t0 = Date.now();
    const observe = async (): Promise<void> => {
      const [live, replicas, st] = await Promise.all([liveFunctionPods(SLOW_FN), functionReplicas(SLOW_FN), statusOf(SLOW_MAPPING)]);
      const ready = live.filter(isReady).length;
      peakReady = Math.max(peakReady, ready);
      peakReplicas = Math.max(peakReplicas, replicas);
      peakLag = Math.max(peakLag, st?.totalLag ?? 0);
      const line = `${((Date.now() - t0) / 1000).toFixed(0)}s replicas=${replicas} pods=${live.length} ready=${ready} lag=${st?.totalLag ?? '?'}`;
      if (timeline.at(-1)?.replace(/^\S+ /, '') !== line.replace(/^\S+ /, '')) timeline.push(line);
    };
    const batches = await until('every record of the run processed', async () => {
      await observe();
      const got = slowBatches();
      const seen = new Set(got.flatMap((b) => b.ids.filter((id) => id.startsWith('lag/')).map((id) => `${b.partition}/${id}`)));
      return seen.size === total ? got : undefined;
    }, 120_000, 500);
    for (let p = 0; p < PARTITIONS; p++) expect(firstSight(batches, 'lag', p).order, `partition ${p}: in order`).toEqual(Array.from({ length: SLOW_PER_PARTITION }, (_, i) => i));

    const s = await until('the lag back to 0, the result OK', async () => {
      await observe();
      const st = await statusOf(SLOW_MAPPING);
      return st?.totalLag === 0 && st.lag?.length === PARTITIONS && st.lastProcessingResult === 'OK' ? st : undefined;
    }, 60_000, 500);
    expect(s.lag?.every((l) => l.lag === 0)).toBe(true);

    // Drained: the stable window (6 s) forgets the demand, the grace (10 s) passes, the instances go: back to minInstances 0.
    await until(`${SLOW_FN} back to zero`, async () => {
      await observe();
      return (await liveFunctionPods(SLOW_FN)).length === 0 && (await functionReplicas(SLOW_FN)) === 0 ? true : undefined;
    }, 120_000, 1_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; timeline:\n${timeline.join('\n')}`);
    });
    console.log(`[esm-e2e] ${SLOW_FN} under lag:\n${timeline.join('\n')}`);
    expect(peakLag, 'the mapping\'s status showed the lag rise').toBeGreaterThan(0);
    expect(peakReplicas, 'the autoscaler asked for more than one instance').toBeGreaterThan(1);
    expect(peakReady, 'more than one of the function\'s pods ready at once').toBeGreaterThan(1);
  }, 360_000);

  it('a gateway scaled down mid-batch drains: the batch in flight finishes and is committed, and never runs again; nothing lost, in order', async () => {
    if (broker === undefined) throw new Error('the broker is started by the first test of this file');
    const kafka = new Kafka({ clientId: 'hearth-e2e-drain', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    // Batches of 2.5 s, so the scale-down reaches the gateway (annotation, ReplicaSet, the node's watch, SIGTERM) while one runs.
    // A scale-down, not `kubectl delete pod`: a deleted pod's replacement joins the group within about a second here,
    // and that rebalance ends a drain early (README, Rollouts and stops), cutting the batch this test is about.
    const perPartition = 60;
    const batchSeconds = 2.5;
    const { members: before, podOf } = await gatewaysInGroup(kafka);
    // Two replicas again whatever happens below (the chart's default; later files expect it).
    onTestFinished(async () => {
      await kubectl('scale', 'deployment/hearth-gateway', '-n', NS, '--replicas=2');
    });
    await produceRun(kafka, SLOW_TOPIC, 'drain', perPartition, batchSeconds);

    // The victim is whichever gateway owns the first batch seen in flight (a fixed pick waited on its partitions only,
    // and once saw none fresh in 90 s on a loaded CI machine). The ReplicaSet removes the pod with the lowest deletion cost first.
    const victim = await until('a batch in flight, its gateway picked, the gateways scaled to one', async () => {
      const fresh = batchInFlight('drain', perPartition, 0.6);
      const member = fresh === undefined ? undefined : before.find((m) => m.partitions.includes(fresh.partition));
      const pod = member === undefined ? undefined : podOf(member);
      if (fresh === undefined || member === undefined || pod === undefined) return undefined;
      await kubectl('annotate', 'pod', pod.metadata.name, '-n', NS, 'controller.kubernetes.io/pod-deletion-cost=-1000', '--overwrite');
      await kubectl('scale', 'deployment/hearth-gateway', '-n', NS, '--replicas=1');
      return { batch: fresh, member, pod, deletedAt: Date.now() / 1000 };
    }, 90_000, 50).catch((err: unknown) => {
      const now = Date.now() / 1000;
      const seen = slowBatches().filter((b) => b.ids[0]?.startsWith('drain/') === true).map((b) => `p${b.partition} ${b.ids[0] ?? ''}…${b.ids.at(-1) ?? ''} ${(now - b.at).toFixed(1)} s ago`);
      throw new Error(`${String(err)}; members ${JSON.stringify(before)}; drain batches seen:\n${seen.join('\n')}`);
    });
    const member = victim.member;

    // The gateway began its shutdown (pollers told to drain) while that batch still ran.
    const log = join(ctx().logsDir, 'pods', `${NS}_${victim.pod.metadata.name}_${victim.pod.metadata.uid}`, 'gateway.log');
    const shutdownAt = await until('the deleted gateway logged its shutdown', async () => {
      if (!existsSync(log)) return undefined;
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        if (!line.includes('shutdown: /readyz answers 503')) continue;
        const t = (JSON.parse(line) as { time: number }).time / 1000;
        if (t >= victim.batch.at) return t;
      }
      return undefined;
    }, 30_000, 250);
    console.log(`[esm-e2e] scaled down ${victim.pod.metadata.name} (partitions ${victim.member.partitions.join(',')}); its shutdown began ${(shutdownAt - victim.batch.at).toFixed(2)} s into a ${batchSeconds} s batch of partition ${victim.batch.partition} (${victim.batch.ids[0] ?? ''}…${victim.batch.ids.at(-1) ?? ''})`);
    expect(shutdownAt, 'the shutdown began while the batch ran').toBeLessThan(victim.batch.at + batchSeconds);

    const { batches, duplicates } = await runProcessed(kafka, 'drain', perPartition);
    // The other gateway's batches in flight when the group rebalanced may run again (Kafka's eager rebalance): counted.
    console.log(`[esm-e2e] records run twice (a gateway scaled down mid-batch), per partition: ${duplicates.join(', ')}`);
    // Drained, not cut: the batch finished and was committed on the leaving gateway, and the partition's next owner went on after it.
    const runs = batches.filter((b) => b.partition === victim.batch.partition && b.ids.includes(victim.batch.ids[0] ?? ''));
    expect(runs.map((b) => b.ids[0]), 'the drained batch ran once').toHaveLength(1);

    // The group: the one gateway left reads every partition.
    const left = await until('the group stable with the one gateway left', async () => {
      const g = await describeGroup(kafka, SLOW_GROUP);
      const ms = members(g, SLOW_TOPIC);
      return g.state === 'Stable' && ms.length === 1 && ms[0]?.partitions.join() === '0,1,2' ? ms : undefined;
    }, 60_000, 500);
    expect(left[0]?.memberId).toBe(before.find((m) => m.memberId !== member.memberId)?.memberId);
    await kubectl('scale', 'deployment/hearth-gateway', '-n', NS, '--replicas=2');
    await until('two gateway pods Ready again', async () => {
      const list = (await pods(NS, 'app.kubernetes.io/component=gateway')).filter((p) => p.metadata.deletionTimestamp === undefined);
      return list.length === 2 && list.every(isReady) && list.every((p) => p.metadata.uid !== victim.pod.metadata.uid) ? true : undefined;
    }, 120_000, 1_000);
  }, 300_000);

  it('a rolling restart of the gateways under a steady flow of batches loses nothing: every record processed, in order per partition (first sight)', async () => {
    if (broker === undefined) throw new Error('the broker is started by the first test of this file');
    const kafka = new Kafka({ clientId: 'hearth-e2e-rollout', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const { members: before } = await gatewaysInGroup(kafka);
    await produceRun(kafka, SLOW_TOPIC, 'rollout', SLOW_PER_PARTITION);
    await until('the run under way', async () => (slowBatches().some((b) => b.ids[0]?.startsWith('rollout/') === true) ? true : undefined), 60_000, 250);
    const startedAt = Date.now();
    // The chart's strategy: one pod more at a time (maxSurge 1, maxUnavailable 0); each pod leaving drains, each joining rebalances.
    await kubectl('rollout', 'restart', 'deployment/hearth-gateway', '-n', NS);
    await kubectl('rollout', 'status', 'deployment/hearth-gateway', '-n', NS, '--timeout=180s');
    const { duplicates } = await runProcessed(kafka, 'rollout');
    console.log(`[esm-e2e] rolling restart in ${((Date.now() - startedAt) / 1000).toFixed(0)} s; records run twice, per partition: ${duplicates.join(', ')} (of ${SLOW_PER_PARTITION})`);
    const after = await until('the group stable with the two new gateways', async () => {
      const g = await describeGroup(kafka, SLOW_GROUP);
      const ms = members(g, SLOW_TOPIC);
      return g.state === 'Stable' && ms.length === 2 && ms.flatMap((m) => m.partitions).sort().join() === '0,1,2' ? ms : undefined;
    }, 90_000, 500);
    expect(after.filter((m) => before.some((b) => b.memberId === m.memberId)), 'no member from before the restart').toEqual([]);
  }, 300_000);
});
