// What the controller's informer caches keep of each object: only what a
// reconcile reads. Every watched object arrives whole (managedFields, pod
// specs, kubectl's last-applied copy of the object, Deployment conditions);
// kept whole, 500 Functions' pods and owned objects were most of the
// controller's heap. Each transform runs once per list item or watch event,
// before the object is cached or handed to a handler.
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';

/** kubectl apply's copy of the whole object: as large as the object, and never read here. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface Meta {
  managedFields?: unknown;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

/** Metadata without managedFields and the last-applied annotation. */
function slimMeta<M extends Meta>(md: M | undefined): M | undefined {
  if (md === undefined) return undefined;
  const { managedFields: _m, ...rest } = md;
  const annotations = md.annotations;
  if (annotations === undefined || !(LAST_APPLIED in annotations)) return rest as M;
  const { [LAST_APPLIED]: _l, ...kept } = annotations;
  return { ...rest, annotations: kept } as M;
}

/** Any object (a Function, a FunctionVersion, a WarmPool, a Service...): all of it but the server's bookkeeping. */
export function slimObject<T extends { metadata?: object }>(obj: T): T {
  return { ...obj, metadata: slimMeta(obj.metadata as Meta | undefined) } as T;
}

/**
 * An owned object: its spec stays whole (apply-plan compares what we would
 * apply with it, field by field, to catch hand edits), a Deployment's status
 * only the counts the Function's status is made of.
 */
export function slimOwned<T extends { kind?: string; metadata?: object; status?: unknown }>(obj: T): T {
  const slim = slimObject(obj);
  if (obj.kind !== 'Deployment') return slim;
  const s = (obj as V1Deployment).status;
  if (s === undefined) return slim;
  const status: V1Deployment['status'] = {
    ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
    ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
    ...(s.readyReplicas !== undefined ? { readyReplicas: s.readyReplicas } : {}),
    ...(s.updatedReplicas !== undefined ? { updatedReplicas: s.updatedReplicas } : {}),
    ...(s.availableReplicas !== undefined ? { availableReplicas: s.availableReplicas } : {}),
  };
  return { ...slim, status };
}

function slimContainerStatus(cs: V1ContainerStatus): V1ContainerStatus {
  const waiting = cs.state?.waiting;
  const terminated = cs.state?.terminated;
  const lastTerminated = cs.lastState?.terminated;
  return {
    name: cs.name,
    ready: cs.ready,
    restartCount: cs.restartCount,
    image: '',
    imageID: '',
    ...(waiting !== undefined || terminated !== undefined
      ? { state: { ...(waiting !== undefined ? { waiting: { reason: waiting.reason, message: waiting.message } } : {}), ...(terminated !== undefined ? { terminated: { exitCode: terminated.exitCode, reason: terminated.reason } } : {}) } }
      : {}),
    ...(lastTerminated !== undefined ? { lastState: { terminated: { exitCode: lastTerminated.exitCode, reason: lastTerminated.reason } } } : {}),
  };
}

/**
 * A pod as the reconcilers read it (status.ts, claimed.ts, pool-status.ts):
 * identity, labels, annotations, owners and deletion; its phase, conditions
 * and container states. The spec (every container, env var and volume) is
 * dropped: nothing here reads it.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const md = pod.metadata ?? {};
  const annotations = slimMeta(md as Meta)?.annotations;
  const s = pod.status;
  return {
    metadata: {
      name: md.name,
      namespace: md.namespace,
      uid: md.uid,
      resourceVersion: md.resourceVersion,
      ...(md.labels !== undefined ? { labels: md.labels } : {}),
      ...(annotations !== undefined ? { annotations } : {}),
      ...(md.ownerReferences !== undefined ? { ownerReferences: md.ownerReferences.map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, controller: r.controller })) } : {}),
      ...(md.deletionTimestamp !== undefined && md.deletionTimestamp !== null ? { deletionTimestamp: md.deletionTimestamp } : {}),
      ...(md.creationTimestamp !== undefined ? { creationTimestamp: md.creationTimestamp } : {}),
    },
    ...(s !== undefined
      ? {
          status: {
            ...(s.phase !== undefined ? { phase: s.phase } : {}),
            ...(s.conditions !== undefined ? { conditions: s.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })) } : {}),
            ...(s.initContainerStatuses !== undefined ? { initContainerStatuses: s.initContainerStatuses.map(slimContainerStatus) } : {}),
            ...(s.containerStatuses !== undefined ? { containerStatuses: s.containerStatuses.map(slimContainerStatus) } : {}),
          },
        }
      : {}),
  };
}
