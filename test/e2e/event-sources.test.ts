// Event sources on the process-node cluster: a real Kafka broker (KRaft,
// from Apache Kafka's jars) listening on the node's bridge address, so the
// gateway pods reach it from their own network namespaces; `kubectl apply` of
// a Kafka EventSourceMapping and a Python function at zero instances; records
// produced drive the function's pods (scaled from zero), each record is
// processed, in order per partition, and the mapping's status goes back to a
// lag of 0. Then CloudEvents sent with the CloudEvents Python SDK to the
// gateway's Service invoke a function on the cluster.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { stringify } from 'yaml';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EventSourceMappingStatus } from '../../src/api/event-source-mapping.js';
import { gatewayIp } from '../cluster/node/network.js';
import { POD_CIDR } from '../cluster/process-cluster.js';
import { startKafka, type KafkaBroker } from '../servers/kafka.js';
import { GATEWAY, NS, api, apiKey, ctx, ensureRelease, isReady, kubectl, pods, tool, until } from './cluster.js';
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

describe.runIf(inject('e2e') !== undefined).sequential('Event sources on the process-node cluster', () => {
  let broker: KafkaBroker | undefined;
  const work = mkdtempSync(join(tmpdir(), 'hearth-e2e-esm-'));

  afterAll(async () => {
    await kubectl('delete', 'esm', 'orders', '-n', NS, '--ignore-not-found').catch(() => undefined);
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
});
