import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { slimObject, slimOwned, slimPod } from '../../src/controller/cached.js';
import { claimedPodOf } from '../../src/controller/resources/claimed.js';
import { observedStatus, podProblem } from '../../src/controller/resources/status.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];

const pod: V1Pod = {
  metadata: {
    name: 'f-1', namespace: 'n', uid: 'u1', resourceVersion: '7', labels: { 'hearth.dev/function': 'f', 'hearth.dev/claimed': 'true' },
    annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-5', 'hearth.dev/claimed-at': '2026-12-07T08:00:00Z', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r1', controller: true, blockOwnerDeletion: true }],
    managedFields,
  },
  spec: { containers: [{ name: 'agent', image: 'a', env: [{ name: 'X', value: 'y'.repeat(1000) }] }] },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(0) }, { type: 'PodScheduled', status: 'True' }],
    containerStatuses: [{ name: 'runtime', ready: false, restartCount: 3, image: 'img', imageID: 'id', state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
  },
};

describe('what the informer caches keep', () => {
  it('a pod: no spec, no managedFields or last-applied, and every answer the reconcilers read is the same', () => {
    const slim = slimPod(pod);
    expect(slim.spec).toBeUndefined();
    expect(slim.metadata?.managedFields).toBeUndefined();
    expect(slim.metadata?.annotations).not.toHaveProperty('kubectl.kubernetes.io/last-applied-configuration');
    expect(claimedPodOf(slim)).toEqual(claimedPodOf(pod));
    expect(podProblem([slim])).toEqual(podProblem([pod]));
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(pod).length / 2);
  });

  it('a Deployment: its spec whole, its status the counts', () => {
    const dep: V1Deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'f', namespace: 'n', generation: 2, managedFields },
      spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } },
      status: { observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] },
    };
    const slim = slimOwned(dep);
    expect(slim.spec).toEqual(dep.spec);
    expect(slim.status).toEqual({ observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    expect(slim.metadata?.managedFields).toBeUndefined();
    const ctx = { name: 'f', namespace: 'n', generation: 1, previous: undefined, gatewayService: 'g', gatewayNamespace: 'h', now: 'now' };
    expect(observedStatus(ctx, 1, slim, [slimPod(pod)])).toEqual(observedStatus(ctx, 1, dep, [pod]));
  });

  it('any other object: all but managedFields and the last-applied copy', () => {
    const fn = { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' }, managedFields }, spec: { a: 1 } };
    expect(slimObject(fn)).toEqual({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f', annotations: { keep: 'me' } }, spec: { a: 1 } });
  });
});
