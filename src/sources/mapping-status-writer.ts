// What an EventSourceMapping's status says, from what the gateway's runner
// sees of it (Lambda's state, lastProcessingResult, lag per partition), and
// when the leader gateway writes it. Pure: the informer, the leader check and
// the PATCH of the status subresource are the composition root's
// (src/platform/event-source-watch.ts).
//
// Writes are bounded: a change a user waits for (state, the last result, the
// Ready condition, a new generation observed) goes out at the next round;
// lag alone, which moves with every batch, at most once per minimum interval
// per mapping.
import type { Condition } from '../api/function.js';
import type { EventSourceMappingStatus, MappingState } from '../api/event-source-mapping.js';
import type { PartitionLag } from './connector.js';

/** What the gateway knows of one mapping object. */
export type MappingObservation =
  /** The runner has it: its view (EventSources.status). */
  | { kind: 'running'; uuid: string; state: MappingState; lastProcessingResult: string; lag: PartitionLag }
  /** The schema refused its spec (a rule the CRD cannot state), so it does not run. */
  | { kind: 'invalid'; uuid: string; problems: string };

export const READY = 'Ready';

/** The Ready condition's status, reason and message for an observation. */
export function readiness(o: MappingObservation): Pick<Condition, 'status' | 'reason' | 'message'> {
  if (o.kind === 'invalid') return { status: 'False', reason: 'InvalidSpec', message: o.problems };
  if (o.lastProcessingResult.startsWith('PROBLEM')) return { status: 'False', reason: 'Problem', message: o.lastProcessingResult };
  if (o.state === 'Disabled') return { status: 'False', reason: 'Disabled', message: 'spec.enabled is false: the pollers are stopped and keep their position' };
  if (o.state !== 'Enabled') return { status: 'Unknown', reason: o.state, message: `the mapping is ${o.state}` };
  return { status: 'True', reason: 'Polling', message: o.lastProcessingResult };
}

/**
 * The status to write for a mapping at `generation`, given what it has now.
 * lastModified is when the gateways first saw this generation (kept while it
 * stays the same); a condition's lastTransitionTime is kept while its status
 * stays the same, as Kubernetes conditions do.
 */
export function mappingStatus(input: { observation: MappingObservation; current: EventSourceMappingStatus | undefined; generation: number | undefined; now: Date }): EventSourceMappingStatus {
  const { observation: o, current, generation, now } = input;
  const at = now.toISOString();
  const sameGeneration = current?.observedGeneration !== undefined && current.observedGeneration === generation;
  const ready = readiness(o);
  const before = current?.conditions?.find((c) => c.type === READY);
  const condition: Condition = {
    type: READY,
    ...ready,
    lastTransitionTime: before?.status === ready.status && before.lastTransitionTime !== undefined ? before.lastTransitionTime : at,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const lag = o.kind === 'running' ? [...o.lag].sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true })) : [];
  return {
    conditions: [condition],
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    uuid: o.uuid,
    state: o.kind === 'running' ? o.state : 'Disabled',
    lastProcessingResult: o.kind === 'running' ? o.lastProcessingResult : `PROBLEM: invalid spec: ${o.problems}`,
    lastModified: sameGeneration && current?.lastModified !== undefined ? current.lastModified : at,
    lag,
    totalLag: lag.reduce((s, p) => s + p.lag, 0),
  };
}

export type WriteDecision = 'none' | 'now' | 'later';

/** Whether `desired` is written over `current` now, later (lag only, within the minimum interval of the last write), or not at all (no change). */
export function writeDecision(current: EventSourceMappingStatus | undefined, desired: EventSourceMappingStatus, opts: { lastWriteAtMs: number | undefined; nowMs: number; minIntervalMs: number }): WriteDecision {
  if (current !== undefined && canonical(current) === canonical(desired)) return 'none';
  const withoutLag = (s: EventSourceMappingStatus | undefined): string => canonical({ ...s, lag: undefined, totalLag: undefined });
  if (current === undefined || withoutLag(current) !== withoutLag(desired)) return 'now';
  if (opts.lastWriteAtMs === undefined || opts.nowMs - opts.lastWriteAtMs >= opts.minIntervalMs) return 'now';
  return 'later';
}

/** JSON with keys sorted and undefined dropped, so the API server's field order (and empty lists it omits) compare equal. */
function canonical(v: unknown): string {
  return JSON.stringify(normalise(v));
}

function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      // The API server keeps an empty list as written; treat [] and absent alike so a first write of lag: [] is not repeated.
      if (Array.isArray(x) && x.length === 0) continue;
      out[k] = normalise(x);
    }
    return out;
  }
  return v;
}

/** One gateway's own lastProcessingResult for a mapping, as it shares it with the leader, and when it said so. */
export interface SharedResult {
  result: string;
  atMs: number;
}

/**
 * The mapping's lastProcessingResult across its gateways: each polls only the
 * partitions it was given, so the leader alone would report only its own. A
 * problem any live gateway reports wins (the latest); else OK if any gateway
 * processed records; else nothing processed. Reports older than `staleMs`
 * are of gateways that left. `own` is the leader's current result.
 */
export function mergeResults(own: string, others: readonly SharedResult[], nowMs: number, staleMs: number): string {
  const fresh = others.filter((r) => nowMs - r.atMs <= staleMs).sort((a, b) => b.atMs - a.atMs);
  const all = [own, ...fresh.map((r) => r.result)];
  const problem = all.find((r) => r.startsWith('PROBLEM'));
  if (problem !== undefined) return problem;
  if (all.includes('OK')) return 'OK';
  return own;
}
