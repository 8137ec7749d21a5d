// A Python function for event-source tests that records the sequence numbers
// of the records each invocation got, one JSON line per partition and batch,
// into a file the test reads: for Lambda's self-managed Kafka event (the seq
// of the value's JSON; a value that is not a JSON object with a seq counts as
// its offset) and for Hearth's Redis Streams event (the entry's `seq` field).
// Handlers: record (optionally sleeping DELAY seconds), poison (raises on a
// record marked poison), partial (reports a record marked fail once, with the
// source's itemIdentifier: the entry id, or Lambda's Kafka {partition,
// offset}), dlq (records whole events: onFailure function destinations).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { py } from './platform.js';

export const RECORDING_SOURCE = `
import base64, json, os, time

OUT = os.environ['OUT']

def _records(event):
    # (partition, [(seq, marks, itemIdentifier)]) per partition of a Kafka or Redis Streams event.
    out = []
    for key, recs in event['records'].items():
        items = []
        for r in recs:
            if event['eventSource'] == 'SelfManagedKafka':
                try:
                    v = json.loads(base64.b64decode(r.get('value') or ''))
                except ValueError:
                    v = None
                marks = v if isinstance(v, dict) else {}
                items.append((int(marks.get('seq', r['offset'])), marks, {'partition': key, 'offset': r['offset']}))
            else:
                assert event['eventSource'] == 'hearth:redis-streams'
                items.append((int(r['fields']['seq']), r['fields'], r['id']))
        out.append((key, items))
    return out

def _write(name, lines):
    with open(os.path.join(OUT, name), 'a') as f:
        f.write(''.join(l + '\\n' for l in lines))

def _log(parts):
    _write(os.environ['FILE'], [json.dumps({'partition': k, 'seqs': [s for s, _, _ in items]}) for k, items in parts])

def record(event, context):
    _log(_records(event))
    delay = float(os.environ.get('DELAY', '0'))
    if delay:
        time.sleep(delay)
    return None

def poison(event, context):
    parts = _records(event)
    _log(parts)
    for k, items in parts:
        for seq, marks, _ in items:
            if str(marks.get('poison')) == '1':
                raise ValueError('poison record ' + k + ' ' + str(seq))
    return None

def partial(event, context):
    parts = _records(event)
    _log(parts)
    failures = []
    for k, items in parts:
        for seq, marks, ident in items:
            marker = os.path.join(OUT, 'failed-' + k + '-' + str(seq))
            if str(marks.get('fail')) == '1' and not os.path.exists(marker):
                open(marker, 'w').close()
                failures.append({'itemIdentifier': ident})
    return {'batchItemFailures': failures}

def dlq(event, context):
    _write(os.environ.get('FILE', 'dlq.jsonl'), [json.dumps(event)])
    return None
`;

/** A Function spec running one of the recording handlers, writing under `out`. */
export function recordingFunction(out: string, handler: 'record' | 'poison' | 'partial' | 'dlq', env: Record<string, string> = {}, extra: Partial<FunctionSpecInput> = {}): FunctionSpecInput {
  return {
    ...py(RECORDING_SOURCE, `app.${handler}`),
    env: Object.entries({ OUT: out, ...env }).map(([name, value]) => ({ name, value })),
    // Room for a loaded machine: a batch that timed out after writing its lines would run again (at-least-once) and spoil the exact counts.
    timeoutSeconds: 60,
    ...extra,
  };
}

/**
 * The functions both Must-show suites map their sources to (Redis Streams and
 * Kafka): bulk recording, a poison record, partial batch failures, a
 * destination, one slow enough to need scaling, one slow enough to be caught
 * mid-batch by a takeover.
 */
export function recordingFunctions(out: string): Record<'recorder' | 'poison' | 'partial' | 'dlq' | 'scaler' | 'taker', FunctionSpecInput> {
  return {
    recorder: recordingFunction(out, 'record', { FILE: 'bulk.jsonl' }),
    poison: recordingFunction(out, 'poison', { FILE: 'poison.jsonl' }),
    partial: recordingFunction(out, 'partial', { FILE: 'partial.jsonl' }),
    dlq: recordingFunction(out, 'dlq'),
    scaler: recordingFunction(out, 'record', { FILE: 'scale.jsonl', DELAY: '0.03' }, { scaling: { minInstances: 0, maxInstances: 4, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: 1 } }),
    taker: recordingFunction(out, 'record', { FILE: 'takeover.jsonl', DELAY: '0.2' }),
  };
}

/** The batches a recording function wrote into `out/file`, per partition (Kafka TOPIC-N, or the stream), in the order run. */
export function recordedBatches(out: string, file: string): Map<string, number[][]> {
  const byPartition = new Map<string, number[][]>();
  if (!existsSync(join(out, file))) return byPartition;
  for (const line of readFileSync(join(out, file), 'utf8').split('\n')) {
    if (!line) continue;
    const { partition, seqs } = JSON.parse(line) as { partition: string; seqs: number[] };
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), seqs]);
  }
  return byPartition;
}

export const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** Each seq in the order it was first processed. */
export const firstSeen = (bs: number[][] | undefined): number[] => [...new Set((bs ?? []).flat())];
