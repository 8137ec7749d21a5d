// A Function's status, computed from what the cluster shows: its Deployment
// and pods. Pure, so every condition the controller can report is tested
// without a cluster.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { Condition, FunctionStatus, Schedule } from '../../api/function.js';
import { nextRuns } from '../../schedules/next-tick.js';
import { stableStringify } from './hash.js';
import { selectorString } from './names.js';

export const READY = 'Ready';
/**
 * Whether every instance runs the current spec: True once the Deployment's
 * rollout of the current pod template is complete (no pod of an older one
 * left), so the store can report LastUpdateStatus Successful only when an
 * invocation can no longer reach the previous code. Ready alone cannot say
 * it: old instances stay ready while new ones start.
 */
export const UPDATED = 'Updated';

export type UpdatedReason = 'RolledOut' | 'ScaledToZero' | 'RollingOut' | 'ApplyFailed' | PodProblemReason;

export type ReadyReason =
  | 'InstancesReady'
  | 'ScaledToZero'
  | 'InstancesStarting'
  | 'InvalidSpec'
  | 'UnsupportedSpec'
  | 'ApplyFailed'
  | PodProblemReason;

/** Container and pod states worth telling the user about: each means "this will not fix itself soon". */
export const POD_PROBLEMS = [
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'OOMKilled',
  'Unschedulable',
] as const;
export type PodProblemReason = (typeof POD_PROBLEMS)[number];

export interface PodProblem {
  reason: PodProblemReason;
  message: string;
}

function isProblem(reason: string | undefined): reason is PodProblemReason {
  return reason !== undefined && (POD_PROBLEMS as readonly string[]).includes(reason);
}

/** The first problem among the pods, in name order so the answer is stable between reconciles. */
export function podProblem(pods: readonly V1Pod[]): PodProblem | undefined {
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of sorted) {
    if (pod.metadata?.deletionTimestamp !== undefined) continue;
    const podName = pod.metadata?.name ?? '?';
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const cs of statuses) {
      const waiting = cs.state?.waiting;
      if (isProblem(waiting?.reason)) {
        const last = cs.lastState?.terminated?.reason;
        const detail = waiting.message ?? (last !== undefined ? `last exit: ${last}` : '');
        return { reason: waiting.reason, message: `pod ${podName} container ${cs.name}: ${waiting.reason}${detail ? `: ${detail}` : ''}` };
      }
      const terminated = cs.state?.terminated?.reason ?? cs.lastState?.terminated?.reason;
      if (terminated === 'OOMKilled') return { reason: 'OOMKilled', message: `pod ${podName} container ${cs.name} ran out of memory (memoryMB)` };
    }
    const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    if (unschedulable !== undefined) return { reason: 'Unschedulable', message: `pod ${podName}: ${unschedulable.message ?? 'cannot be scheduled'}` };
  }
  return undefined;
}

export interface StatusContext {
  name: string;
  namespace: string;
  generation: number | undefined;
  /** The status now on the Function, to keep transition times of unchanged conditions. */
  previous: FunctionStatus | undefined;
  gatewayService: string;
  gatewayNamespace: string;
  /** RFC 3339 time to stamp on a condition that changes. */
  now: string;
}

export function invocationUrl(name: string, gatewayService: string, gatewayNamespace: string): string {
  return `http://${gatewayService}.${gatewayNamespace}.svc/2015-03-31/functions/${name}/invocations`;
}

function readyCondition(ctx: StatusContext, status: Condition['status'], reason: ReadyReason, message: string): Condition {
  return stampedCondition(ctx, READY, status, reason, message);
}

function stampedCondition(ctx: StatusContext, type: string, status: Condition['status'], reason: string, message: string): Condition {
  const prev = ctx.previous?.conditions?.find((c) => c.type === type);
  const lastTransitionTime = prev !== undefined && prev.status === status && prev.lastTransitionTime !== undefined ? prev.lastTransitionTime : ctx.now;
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime,
    ...(ctx.generation !== undefined ? { observedGeneration: ctx.generation } : {}),
  };
}

function base(ctx: StatusContext): FunctionStatus {
  return {
    ...(ctx.generation !== undefined ? { observedGeneration: ctx.generation } : {}),
    selector: selectorString(ctx.name),
    url: invocationUrl(ctx.name, ctx.gatewayService, ctx.gatewayNamespace),
  };
}

function updatedOf(ctx: StatusContext, status: Condition['status'], reason: UpdatedReason, message: string): Condition {
  return stampedCondition(ctx, UPDATED, status, reason, message);
}

/**
 * Ready=False for a spec the controller refuses; instance counts are kept as
 * they were (nothing was changed). An apply that failed is retried, and the
 * previous code still runs meanwhile: Updated=False says so. A refused spec
 * carries no Updated condition, as its Ready reason already tells the
 * update failed.
 */
export function refusedStatus(ctx: StatusContext, reason: 'InvalidSpec' | 'UnsupportedSpec' | 'ApplyFailed', message: string): FunctionStatus {
  const prev = ctx.previous;
  const updated = reason === 'ApplyFailed' ? [updatedOf(ctx, 'False', reason, message)] : [];
  return {
    ...base(ctx),
    readyInstances: prev?.readyInstances ?? 0,
    desiredInstances: prev?.desiredInstances ?? 0,
    replicas: prev?.replicas ?? 0,
    conditions: [readyCondition(ctx, 'False', reason, message), ...updated],
  };
}

/**
 * Updated: whether the Deployment runs only pods of its current template,
 * as `kubectl rollout status` judges it: the Deployment controller has seen
 * the template (observedGeneration) and every pod it counts is of it
 * (updatedReplicas = replicas). Pods being deleted are not counted, and
 * leave the Service's endpoints first. While pods of the new template fail
 * for a reason of their own (an image that cannot be pulled), that is the
 * reason, so the store can report the update as failed.
 */
export function updatedCondition(ctx: StatusContext, deployment: V1Deployment | undefined, problem: PodProblem | undefined, claimed?: ClaimedCounts): Condition {
  if (deployment === undefined) return updatedOf(ctx, 'False', 'RollingOut', 'waiting for the Deployment');
  const replicas = deployment.status?.replicas ?? 0;
  const updated = deployment.status?.updatedReplicas ?? 0;
  const seen = (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  // Claimed warm-pool pods serve beside the Deployment's: those given an older spec still take calls until
  // the Deployment's new pods replace them; the others run the current code.
  const stale = claimed?.stale ?? 0;
  const fresh = (claimed?.replicas ?? 0) - stale;
  const claimedNote = stale > 0 ? `${stale} claimed warm-pool instance${stale === 1 ? '' : 's'} still run${stale === 1 ? 's' : ''} the previous code` : '';
  if (seen && updated >= replicas && stale > 0) return updatedOf(ctx, 'False', 'RollingOut', claimedNote);
  if (seen && updated >= replicas) {
    return replicas + fresh === 0
      ? updatedOf(ctx, 'True', 'ScaledToZero', 'no instances run; the next one starts with the current code')
      : updatedOf(ctx, 'True', 'RolledOut', `all ${replicas + fresh} instances run the current code`);
  }
  const counts = (seen ? `${Math.min(updated, replicas)} of ${replicas} instances run the current code` : 'the Deployment has not seen the current code yet') + (claimedNote ? `; ${claimedNote}` : '');
  if (problem !== undefined) return updatedOf(ctx, 'False', problem.reason, `${counts}; ${problem.message}`);
  return updatedOf(ctx, 'False', 'RollingOut', counts);
}

/** A unit's claimed warm-pool pods, which serve it beside its Deployment's (resources/claimed.ts): live ones, Ready ones, and those given an older spec. */
export interface ClaimedCounts {
  replicas: number;
  ready: number;
  stale: number;
}

export function observedStatus(ctx: StatusContext, desired: number, deployment: V1Deployment | undefined, pods: readonly V1Pod[], claimed?: ClaimedCounts): FunctionStatus {
  const ready = (deployment?.status?.readyReplicas ?? 0) + (claimed?.ready ?? 0);
  const replicas = (deployment?.status?.replicas ?? 0) + (claimed?.replicas ?? 0);
  const problem = podProblem(pods);
  const counts = `${ready}/${desired} instances ready`;
  let condition: Condition;
  if (desired === 0) {
    condition = readyCondition(ctx, 'True', 'ScaledToZero', 'scaled to zero; the gateway starts an instance on the first invocation');
  } else if (ready >= desired) {
    condition = readyCondition(ctx, 'True', 'InstancesReady', problem ? `${counts}; new instances failing: ${problem.message}` : counts);
  } else if (problem !== undefined) {
    condition = readyCondition(ctx, 'False', problem.reason, `${counts}; ${problem.message}`);
  } else {
    condition = readyCondition(ctx, 'False', 'InstancesStarting', deployment === undefined ? `${counts}; waiting for the Deployment` : counts);
  }
  return { ...base(ctx), readyInstances: ready, desiredInstances: desired, replicas, conditions: [condition, updatedCondition(ctx, deployment, problem, claimed)] };
}

export type FunctionState = 'ready' | 'scaled_to_zero' | 'starting' | 'failing' | 'invalid' | 'deleting';
export const FUNCTION_STATES: readonly FunctionState[] = ['ready', 'scaled_to_zero', 'starting', 'failing', 'invalid', 'deleting'];

/** The state a status stands for, for the functions-by-state gauge. */
export function stateOf(status: FunctionStatus): FunctionState {
  const ready = status.conditions?.find((c) => c.type === READY);
  if (ready === undefined) return 'starting';
  if (ready.reason === 'ScaledToZero') return 'scaled_to_zero';
  if (ready.status === 'True') return 'ready';
  if (ready.reason === 'InvalidSpec' || ready.reason === 'UnsupportedSpec') return 'invalid';
  if (ready.reason === 'InstancesStarting') return 'starting';
  return 'failing';
}

/** Equal apart from transition times, which the API server echoes back in its own format. */
export function sameStatus(a: FunctionStatus | undefined, b: FunctionStatus): boolean {
  if (a === undefined) return false;
  const strip = (s: FunctionStatus) => ({ ...s, conditions: (s.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c) });
  return stableStringify(strip(a)) === stableStringify(strip(b));
}

/**
 * Rewriting a next run time after every tick of a schedule firing each second
 * would be an API write a second per Function; sooner than this the status
 * is not refreshed, so a frequent schedule's time may lag behind by up to it.
 */
export const SCHEDULE_REFRESH_MIN_MS = 30_000;

/**
 * The schedules' next run times (the ticks the gateways will fire, from the
 * same arithmetic) and how long they stay true. A Function whose schedules
 * went away, or that is refused (nothing fires), shows an empty list: a merge
 * patch leaves an absent field as it was.
 */
export function scheduleStatus(previous: FunctionStatus | undefined, schedules: readonly Schedule[] | undefined, now: number): { fields: Pick<FunctionStatus, 'schedules'>; refreshInMs?: number } {
  if (schedules === undefined || schedules.length === 0) return { fields: previous?.schedules !== undefined ? { schedules: [] } : {} };
  const { runs, earliest } = nextRuns(schedules, now);
  return { fields: { schedules: runs }, ...(earliest !== undefined ? { refreshInMs: Math.max(earliest - now, SCHEDULE_REFRESH_MIN_MS) } : {}) };
}
