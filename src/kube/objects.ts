// The writes the controller and the gateway make, each one request.
import { GROUP, PLURAL, VERSION } from '../api/function.js';
import type { FunctionStatus } from '../api/function.js';
import type { FunctionVersionStatus } from '../api/function-version.js';
import { CONTENT_APPLY, CONTENT_MERGE, CONTENT_STRATEGIC, isStatus, type KubeRest } from './rest.js';
import { RESOURCES, resourcePath, type Resource } from './paths.js';

export interface WireObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export function resourceOf(obj: WireObject): Resource {
  const r = Object.values(RESOURCES).find((x) => x.kind === obj.kind && x.apiVersion === obj.apiVersion);
  if (r === undefined) throw new Error(`no REST mapping for ${String(obj.apiVersion)} ${String(obj.kind)}`);
  return r;
}

/** Server-side apply, forced: the caller owns these fields by design. */
export function applyObject<T extends WireObject>(rest: KubeRest, obj: T, fieldManager: string): Promise<T> {
  const name = obj.metadata?.name;
  if (name === undefined) throw new Error('cannot apply an object without a name');
  return rest.request<T>('PATCH', resourcePath(resourceOf(obj), obj.metadata?.namespace, name), {
    query: { fieldManager, force: true },
    body: obj,
    contentType: CONTENT_APPLY,
  });
}

export async function deleteObject(rest: KubeRest, r: Resource, namespace: string, name: string): Promise<void> {
  await rest.request('DELETE', resourcePath(r, namespace, name), { body: { propagationPolicy: 'Background' } });
}

const fnResource = { apiVersion: `${GROUP}/${VERSION}`, kind: 'Function', plural: PLURAL };

/** Replaces the whole status (a merge patch replaces lists, and the controller writes every field of it). */
export async function patchFunctionStatus(rest: KubeRest, namespace: string, name: string, status: FunctionStatus): Promise<void> {
  await rest.request('PATCH', resourcePath(fnResource, namespace, name, 'status'), { body: { status }, contentType: CONTENT_MERGE });
}

/** Replaces a FunctionVersion's status, as patchFunctionStatus does a Function's. */
export async function patchVersionStatus(rest: KubeRest, namespace: string, name: string, status: FunctionVersionStatus): Promise<void> {
  await rest.request('PATCH', resourcePath(RESOURCES.FunctionVersion, namespace, name, 'status'), { body: { status }, contentType: CONTENT_MERGE });
}

/** Sets the finalizer list, failing with 409 if the Function changed since `resourceVersion` (so no one's finalizer is lost). */
export async function setFunctionFinalizers(rest: KubeRest, namespace: string, name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void> {
  await rest.request('PATCH', resourcePath(fnResource, namespace, name), {
    body: { metadata: { finalizers, ...(resourceVersion !== undefined ? { resourceVersion } : {}) } },
    contentType: CONTENT_MERGE,
  });
}

/** Writes spec.replicas through the scale subresource, as an autoscaler would. */
export async function scaleFunction(rest: KubeRest, namespace: string, name: string, replicas: number): Promise<void> {
  await rest.request('PATCH', resourcePath(fnResource, namespace, name, 'scale'), { body: { spec: { replicas } }, contentType: CONTENT_MERGE });
}

/** The same for a published version: its FunctionVersion's scale subresource (`name` is the object's name, versionObjectName). */
export async function scaleFunctionVersion(rest: KubeRest, namespace: string, name: string, replicas: number): Promise<void> {
  await rest.request('PATCH', resourcePath(RESOURCES.FunctionVersion, namespace, name, 'scale'), { body: { spec: { replicas } }, contentType: CONTENT_MERGE });
}

/**
 * Sets (or, with null, removes) a pod's controller.kubernetes.io/pod-deletion-cost:
 * a ReplicaSet scaling down deletes its lowest-cost pods first. A JSON merge
 * patch of that one annotation; the gateway needs `patch` on pods for it.
 */
export const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

export async function setPodDeletionCost(rest: KubeRest, namespace: string, pod: string, cost: number | null): Promise<void> {
  await rest.request('PATCH', resourcePath(RESOURCES.Pod, namespace, pod), {
    body: { metadata: { annotations: { [DELETION_COST_ANNOTATION]: cost === null ? null : String(cost) } } },
    contentType: CONTENT_MERGE,
  });
}

/** Replaces a WarmPool's status, as patchFunctionStatus does a Function's. */
export async function patchWarmPoolStatus(rest: KubeRest, namespace: string, name: string, status: object): Promise<void> {
  await rest.request('PATCH', resourcePath(RESOURCES.WarmPool, namespace, name, 'status'), { body: { status }, contentType: CONTENT_MERGE });
}

/**
 * Deletes a pod with a grace period of the caller's (a claimed pod's agent
 * drains for as long as its function's calls may run; without one, the
 * pod's own), only if it is still the pod of that uid. Already gone, or replaced by another of its name: nothing to do.
 */
export async function deletePod(rest: KubeRest, namespace: string, name: string, opts: { gracePeriodSeconds?: number; uid?: string }): Promise<void> {
  try {
    await rest.request('DELETE', resourcePath(RESOURCES.Pod, namespace, name), {
      body: {
        ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
        ...(opts.uid !== undefined ? { preconditions: { uid: opts.uid } } : {}),
      },
    });
  } catch (err) {
    if (isStatus(err, 404) || isStatus(err, 409)) return;
    throw err;
  }
}

/** An ownerReference as the controller writes them on what a Function, FunctionVersion or WarmPool owns. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/**
 * Adds a controller ownerReference to a pod that has none, by a strategic
 * merge patch: ownerReferences merge by uid there, so this adds one entry
 * and leaves every other as the server has it. That is what makes it safe
 * beside the ReplicaSet controller, which releases a pod whose labels no
 * longer match (a claimed pool pod) with a strategic merge patch deleting
 * only its own entry by uid (controller_ref_manager.go, ReleasePod): the two
 * patches commute, whichever lands first. A JSON merge patch would replace
 * the whole list and could put back the entry the release just removed.
 * The pod's uid in the patch is a precondition, as in the release: a pod of
 * the same name made since is not adopted. The API server refuses (422) a
 * second controller reference, so a pod that still has one is never taken.
 */
export async function adoptPod(rest: KubeRest, namespace: string, name: string, podUid: string, owner: OwnerReference): Promise<void> {
  try {
    await rest.request('PATCH', resourcePath(RESOURCES.Pod, namespace, name), {
      body: { metadata: { uid: podUid, ownerReferences: [owner] } },
      contentType: CONTENT_STRATEGIC,
    });
  } catch (err) {
    if (isStatus(err, 404) || isStatus(err, 409)) return;
    throw err;
  }
}
