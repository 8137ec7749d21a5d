import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { FunctionStatus, Schedule } from '../../src/api/function.js';
import { observedStatus, podProblem, refusedStatus, sameStatus, scheduleStatus, SCHEDULE_REFRESH_MIN_MS, stateOf, type StatusContext } from '../../src/controller/resources/status.js';

const ctx = (previous?: FunctionStatus): StatusContext => ({
  name: 'f', namespace: 'n', generation: 3, previous, gatewayService: 'hearth-gateway', gatewayNamespace: 'hearth', now: '2026-01-01T00:00:00Z',
});
const deployment = (ready: number, replicas = ready): V1Deployment => ({ status: { readyReplicas: ready, replicas } });
const waitingPod = (name: string, reason: string, container = 'runtime'): V1Pod => ({
  metadata: { name },
  status: { containerStatuses: [{ name: container, image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason, message: 'back-off' } } }] },
});

describe('observedStatus', () => {
  it.each([
    ['scaled to zero', 0, deployment(0), [], 'True', 'ScaledToZero'],
    ['all instances ready', 2, deployment(2), [], 'True', 'InstancesReady'],
    ['more ready than desired while scaling down', 1, deployment(2), [], 'True', 'InstancesReady'],
    ['still starting', 2, deployment(1, 2), [], 'False', 'InstancesStarting'],
    ['no Deployment yet', 1, undefined, [], 'False', 'InstancesStarting'],
    ['crash looping', 1, deployment(0, 1), [waitingPod('p', 'CrashLoopBackOff')], 'False', 'CrashLoopBackOff'],
    ['an image that cannot be pulled', 1, deployment(0, 1), [waitingPod('p', 'ImagePullBackOff')], 'False', 'ImagePullBackOff'],
    ['a missing Secret in env', 1, deployment(0, 1), [waitingPod('p', 'CreateContainerConfigError')], 'False', 'CreateContainerConfigError'],
  ] as const)('%s', (_what, desired, d, pods, status, reason) => {
    const s = observedStatus(ctx(), desired, d, pods);
    expect(s.conditions?.[0]).toMatchObject({ type: 'Ready', status, reason, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' });
    expect(s).toMatchObject({
      desiredInstances: desired, readyInstances: d?.status?.readyReplicas ?? 0, observedGeneration: 3, selector: 'hearth.dev/function=f',
      url: 'http://hearth-gateway.hearth.svc/2015-03-31/functions/f/invocations',
    });
  });

  it('keeps the transition time while the condition status holds', () => {
    const before = observedStatus({ ...ctx(), now: '2026-01-01T00:00:00Z' }, 2, deployment(1, 2), []);
    const same = observedStatus({ ...ctx(before), now: '2026-01-02T00:00:00Z' }, 2, deployment(0, 2), [waitingPod('p', 'CrashLoopBackOff')]);
    expect(same.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const flipped = observedStatus({ ...ctx(before), now: '2026-01-03T00:00:00Z' }, 2, deployment(2), []);
    expect(flipped.conditions?.[0]?.lastTransitionTime).toBe('2026-01-03T00:00:00Z');
  });

  it('names the pod and container in the message', () => {
    const s = observedStatus(ctx(), 1, deployment(0, 1), [waitingPod('f-abc', 'ImagePullBackOff', 'agent')]);
    expect(s.conditions?.[0]?.message).toContain('pod f-abc container agent: ImagePullBackOff');
  });
});

describe('podProblem', () => {
  it('ignores ordinary waiting reasons and pods being deleted', () => {
    expect(podProblem([waitingPod('p', 'ContainerCreating')])).toBeUndefined();
    expect(podProblem([{ ...waitingPod('p', 'CrashLoopBackOff'), metadata: { name: 'p', deletionTimestamp: new Date() } }])).toBeUndefined();
  });
  it('reports unschedulable pods and OOM kills', () => {
    expect(podProblem([{ metadata: { name: 'p' }, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes' }] } }])?.reason).toBe('Unschedulable');
    expect(podProblem([{ metadata: { name: 'p' }, status: { containerStatuses: [{ name: 'runtime', image: 'x', imageID: '', ready: false, restartCount: 1, state: { running: {} }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] } }])?.reason).toBe('OOMKilled');
  });
  it('is stable: the first pod by name', () => {
    expect(podProblem([waitingPod('b', 'ErrImagePull'), waitingPod('a', 'CrashLoopBackOff')])?.reason).toBe('CrashLoopBackOff');
  });
});

describe('refusedStatus, stateOf and sameStatus', () => {
  it('keeps the last instance counts and says why', () => {
    const prev = observedStatus(ctx(), 2, deployment(2), []);
    const s = refusedStatus(ctx(prev), 'InvalidSpec', 'spec.memoryMB: must be at least 128');
    expect(s).toMatchObject({ readyInstances: 2, desiredInstances: 2, conditions: [{ status: 'False', reason: 'InvalidSpec', message: 'spec.memoryMB: must be at least 128' }] });
    expect(stateOf(s)).toBe('invalid');
  });
  it.each([
    [observedStatus(ctx(), 0, deployment(0), []), 'scaled_to_zero'],
    [observedStatus(ctx(), 1, deployment(1), []), 'ready'],
    [observedStatus(ctx(), 1, deployment(0, 1), []), 'starting'],
    [observedStatus(ctx(), 1, deployment(0, 1), [waitingPod('p', 'CrashLoopBackOff')]), 'failing'],
    [{}, 'starting'],
  ] as const)('state %#', (status, state) => {
    expect(stateOf(status)).toBe(state);
  });
  it('compares statuses without transition times or key order', () => {
    const a = observedStatus(ctx(), 1, deployment(1), []);
    const b = observedStatus({ ...ctx(), now: '2030-01-01T00:00:00Z' }, 1, deployment(1), []);
    expect(sameStatus(a, b)).toBe(true);
    expect(sameStatus(JSON.parse(JSON.stringify({ url: a.url, ...a })) as FunctionStatus, a)).toBe(true);
    expect(sameStatus(a, observedStatus(ctx(), 2, deployment(1), []))).toBe(false);
    expect(sameStatus(undefined, a)).toBe(false);
  });
});

describe('scheduleStatus', () => {
  const now = Date.parse('2026-01-01T10:20:30Z');
  const sched = (name: string, cron: string, enabled = true): Schedule => ({ name, cron, enabled });
  it.each<[string, FunctionStatus | undefined, Schedule[] | undefined, FunctionStatus, number | undefined]>([
    ['no schedules, none shown before', undefined, undefined, {}, undefined],
    ['schedules removed: an empty list replaces the old one', { schedules: [{ name: 'a', nextRunTime: '2026-01-01T10:00:00Z' }] }, [], { schedules: [] }, undefined],
    ['an hourly schedule: refreshed when its tick passes', undefined, [sched('hourly', '0 * * * *')], { schedules: [{ name: 'hourly', nextRunTime: '2026-01-01T11:00:00Z' }] }, 39 * 60_000 + 30_000],
    ['every 2 s: refreshed no sooner than the floor', undefined, [sched('fast', '*/2 * * * * *')], { schedules: [{ name: 'fast', nextRunTime: '2026-01-01T10:20:32Z' }] }, SCHEDULE_REFRESH_MIN_MS],
    ['in a time zone', undefined, [sched('berlin', '0 12 * * *')].map((s) => ({ ...s, timezone: 'Europe/Berlin' })), { schedules: [{ name: 'berlin', nextRunTime: '2026-01-01T11:00:00Z' }] }, 40 * 60_000 - 30_000],
    ['paused: listed without a time, nothing to refresh', undefined, [sched('paused', '* * * * *', false)], { schedules: [{ name: 'paused' }] }, undefined],
  ])('%s', (_what, previous, schedules, fields, refreshInMs) => {
    const r = scheduleStatus(previous, schedules, now);
    expect(r.fields).toEqual(fields);
    expect(r.refreshInMs).toBe(refreshInMs);
  });
});
