import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { FunctionStatus, Schedule } from '../../src/api/function.js';
import { observedStatus, podProblem, refusedStatus, UPDATED, sameStatus, scheduleStatus, SCHEDULE_REFRESH_MIN_MS, stateOf, type StatusContext } from '../../src/controller/resources/status.js';

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

  // A Deployment mid-rollout: generation is the template's, observedGeneration what its controller has seen.
  const rolling = (o: { generation?: number; observed?: number; replicas: number; updated?: number; ready?: number }): V1Deployment => ({
    metadata: { generation: o.generation ?? 2 },
    status: { observedGeneration: o.observed ?? 2, replicas: o.replicas, readyReplicas: o.ready ?? o.replicas, ...(o.updated !== undefined ? { updatedReplicas: o.updated } : {}) },
  });
  it.each([
    ['rollout complete', 3, rolling({ replicas: 3, updated: 3 }), [], 'True', 'RolledOut', 'all 3 instances run the current code'],
    ['the Deployment controller has not seen the new template yet', 3, rolling({ generation: 3, observed: 2, replicas: 3, updated: 3 }), [], 'False', 'RollingOut', 'the Deployment has not seen the current code yet'],
    ['old and new pods both run (surge)', 3, rolling({ replicas: 4, updated: 2 }), [], 'False', 'RollingOut', '2 of 4 instances run the current code'],
    ['no pod of the new template yet', 3, rolling({ replicas: 3, updated: 0 }), [], 'False', 'RollingOut', '0 of 3 instances run the current code'],
    ['updatedReplicas not reported: none updated', 1, rolling({ replicas: 1 }), [], 'False', 'RollingOut', '0 of 1 instances run the current code'],
    ['scaled to zero, no pods left', 0, rolling({ replicas: 0 }), [], 'True', 'ScaledToZero', 'no instances run; the next one starts with the current code'],
    ['scaled to zero while the last old pod goes', 0, rolling({ replicas: 1, updated: 0, ready: 1 }), [], 'False', 'RollingOut', '0 of 1 instances run the current code'],
    ['new pods cannot pull their image while old ones serve', 1, rolling({ replicas: 2, updated: 1, ready: 1 }), [waitingPod('f-new', 'ImagePullBackOff')], 'False', 'ImagePullBackOff', '1 of 2 instances run the current code; pod f-new container runtime: ImagePullBackOff: back-off'],
    ['no Deployment yet', 1, undefined, [], 'False', 'RollingOut', 'waiting for the Deployment'],
  ] as const)('Updated: %s', (_what, desired, d, pods, status, reason, message) => {
    const s = observedStatus(ctx(), desired, d, pods);
    expect(s.conditions?.find((c) => c.type === UPDATED)).toEqual({ type: 'Updated', status, reason, message, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' });
  });

  it('keeps Ready as it was during a rollout: old instances still serve', () => {
    const s = observedStatus(ctx(), 3, rolling({ replicas: 4, updated: 1, ready: 3 }), []);
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([['Ready', 'True', 'InstancesReady'], ['Updated', 'False', 'RollingOut']]);
  });

  it('keeps the transition time of Updated while its status holds', () => {
    const before = observedStatus(ctx(), 2, rolling({ replicas: 3, updated: 1 }), []);
    const same = observedStatus({ ...ctx(before), now: '2026-01-02T00:00:00Z' }, 2, rolling({ replicas: 3, updated: 2 }), []);
    expect(same.conditions?.find((c) => c.type === UPDATED)?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const done = observedStatus({ ...ctx(same), now: '2026-01-03T00:00:00Z' }, 2, rolling({ replicas: 2, updated: 2 }), []);
    expect(done.conditions?.find((c) => c.type === UPDATED)).toMatchObject({ status: 'True', lastTransitionTime: '2026-01-03T00:00:00Z' });
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
    expect(s.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });
  it('an apply that failed leaves the update in progress: the previous code still runs', () => {
    const s = refusedStatus(ctx(), 'ApplyFailed', 'the API server is gone');
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([['Ready', 'False', 'ApplyFailed'], ['Updated', 'False', 'ApplyFailed']]);
    expect(stateOf(s)).toBe('failing');
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
    // The rollout finishing alone is a change to write (Ready unchanged).
    const rollingOut = observedStatus(ctx(), 1, { metadata: { generation: 2 }, status: { observedGeneration: 2, readyReplicas: 1, replicas: 2, updatedReplicas: 1 } }, []);
    const rolledOut = observedStatus(ctx(), 1, { metadata: { generation: 2 }, status: { observedGeneration: 2, readyReplicas: 1, replicas: 1, updatedReplicas: 1 } }, []);
    expect(sameStatus(rollingOut, rolledOut)).toBe(false);
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
