// The writes the controller and the gateway make, each one request.
import { GROUP, PLURAL, VERSION } from '../api/function.js';
import type { FunctionStatus } from '../api/function.js';
import type { FunctionVersionStatus } from '../api/function-version.js';
import { CONTENT_APPLY, CONTENT_MERGE, type KubeRest } from './rest.js';
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
