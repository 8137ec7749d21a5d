// The requests of a warm-pool claim, each one call: the claim itself (a
// merge patch conditional on the pod's resourceVersion, so of two gateways
// claiming one pod exactly one wins and the other gets 409), the
// specialisation sent to the claimed pod's agent, and the mark a failed
// specialisation leaves on the pod so the controller deletes it.
import { request, type Dispatcher } from 'undici';
import { RESOURCES, resourcePath } from '../../kube/paths.js';
import { CONTENT_MERGE, isStatus, type KubeRest } from '../../kube/rest.js';
import { ANNOTATION_SPEC_HASH, claimPatch, type ClaimInput } from '../../pools/labels.js';
import { SPECIALIZE_PATH, type Specialization } from '../../pools/specialization.js';
import type { ConfigMapData } from './specialization-payload.js';
import { agentBaseUrl } from './pods.js';

/** The value of ANNOTATION_SPEC_HASH on a pod whose specialisation failed: the controller deletes it at once. */
export const SPEC_HASH_FAILED = 'failed';

/** How long a specialisation may take: the agent answers once code is in place (it may fetch a package URL first), not after the runtime's init. */
export const SPECIALIZE_TIMEOUT_MS = 60_000;

/** Claims pod `pod`: `claimed`, or `conflict` when the pod changed since `c.resourceVersion` (someone else claimed it, or it is leaving) or is gone. Other failures throw. */
export async function claimPod(rest: KubeRest, namespace: string, pod: string, c: ClaimInput): Promise<'claimed' | 'conflict'> {
  try {
    await rest.request('PATCH', resourcePath(RESOURCES.Pod, namespace, pod), { body: claimPatch(c), contentType: CONTENT_MERGE, timeoutMs: 10_000 });
    return 'claimed';
  } catch (err) {
    if (isStatus(err, 409) || isStatus(err, 404)) return 'conflict';
    throw err;
  }
}

/** Marks a claimed pod whose specialisation failed, so the controller deletes it and the unit's Deployment covers its place. */
export async function markSpecializationFailed(rest: KubeRest, namespace: string, pod: string): Promise<void> {
  await rest.request('PATCH', resourcePath(RESOURCES.Pod, namespace, pod), {
    body: { metadata: { annotations: { [ANNOTATION_SPEC_HASH]: SPEC_HASH_FAILED } } },
    contentType: CONTENT_MERGE,
  });
}

/** A ConfigMap's contents, or undefined when it does not exist. */
export async function readConfigMap(rest: KubeRest, namespace: string, name: string): Promise<ConfigMapData | undefined> {
  try {
    return await rest.request<ConfigMapData>('GET', resourcePath(RESOURCES.ConfigMap, namespace, name));
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

export class SpecializeError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'SpecializeError';
  }
}

/** POSTs the specialisation to the agent at `address`; resolves on its 200, throws SpecializeError otherwise. */
export async function sendSpecialization(dispatcher: Dispatcher, address: string, port: number, body: Specialization, timeoutMs = SPECIALIZE_TIMEOUT_MS, signal?: AbortSignal): Promise<void> {
  const url = `${agentBaseUrl(address, port)}${SPECIALIZE_PATH}`;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (err) {
    throw new SpecializeError(`specialising the pod at ${address}: ${(err as Error).message}`);
  }
  const text = await res.body.text().catch(() => '');
  if (res.statusCode !== 200) throw new SpecializeError(`the agent at ${address} answered ${res.statusCode}: ${text.slice(0, 300)}`, res.statusCode);
}
