// Labels and annotations of warm-pool pods: the contract between the
// controller (which makes idle pool pods and accounts for claimed ones),
// the gateway (which claims a pod by relabelling it) and the chart.
//
// An idle pool pod carries LABEL_POOL; its pool's Deployment selects on it.
// A claim is one merge patch, conditional on the pod's resourceVersion, that
// removes LABEL_POOL (so the pool's ReplicaSet lets the pod go and starts a
// replacement: the pool refills by itself) and gives the pod its serving
// unit's labels (so the unit's Service, NetworkPolicy and the controller's
// accounting see one of its instances). Nothing ever puts LABEL_POOL back:
// a claimed pod serves its one function until it is deleted.
import { functionLabels } from '../controller/resources/names.js';
import { LATEST } from '../api/function.js';
import { LABEL_MANAGED_BY, MANAGED_BY, versionLabels } from '../versions/labels.js';
import { splitUnitKey } from '../versions/units.js';

/** On idle pool pods: the WarmPool's name. The pool Deployment's selector. */
export const LABEL_POOL = 'hearth.dev/pool';
/** On pool pods, idle or claimed: the runtime family (python, nodejs). */
export const LABEL_POOL_RUNTIME = 'hearth.dev/pool-runtime';
/** On claimed pods: "true". The controller lists a unit's claimed pods by it. */
export const LABEL_CLAIMED = 'hearth.dev/claimed';
/** On claimed pods: the WarmPool they came from. */
export const LABEL_CLAIMED_FROM = 'hearth.dev/claimed-from';

/** On claimed pods: instanceSpecHash of what the pod was given; a pod whose hash is not the unit's current one is stale and is replaced. */
export const ANNOTATION_SPEC_HASH = 'hearth.dev/instance-spec-hash';
/** On claimed pods: when the claim was made (RFC 3339 with milliseconds). */
export const ANNOTATION_CLAIMED_AT = 'hearth.dev/claimed-at';
/** On claimed pods: which gateway claimed it (its pod name, or host name). */
export const ANNOTATION_CLAIMED_BY = 'hearth.dev/claimed-by';

/** The labels of an idle pod of the WarmPool `pool`. */
export function poolPodLabels(pool: string, runtime: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_POOL]: pool, [LABEL_POOL_RUNTIME]: runtime };
}

/** What the pool's Deployment selects: only idle pods of this pool. */
export function poolSelector(pool: string): Record<string, string> {
  return { [LABEL_POOL]: pool };
}

/**
 * The labels a pod of serving unit `key` (NAME or NAME:N) carries: the same
 * as the controller's own pods of that unit, so its Service selects it.
 */
export function unitPodLabels(key: string): Record<string, string> {
  const { name, version } = splitUnitKey(key);
  return version === LATEST ? functionLabels(name) : versionLabels(name, version);
}

export interface ClaimInput {
  /** The pool pod's resourceVersion as the claimer saw it: the patch fails with 409 if anyone changed the pod since. */
  resourceVersion: string;
  pool: string;
  /** The serving unit's key, NAME or NAME:N. */
  unit: string;
  specHash: string;
  claimedBy: string;
  now: number;
}

/** The JSON merge patch (application/merge-patch+json) that claims a pool pod. Pure. */
export function claimPatch(c: ClaimInput): { metadata: { resourceVersion: string; labels: Record<string, string | null>; annotations: Record<string, string> } } {
  return {
    metadata: {
      resourceVersion: c.resourceVersion,
      labels: { [LABEL_POOL]: null, [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: c.pool, ...unitPodLabels(c.unit) },
      annotations: {
        [ANNOTATION_SPEC_HASH]: c.specHash,
        [ANNOTATION_CLAIMED_AT]: new Date(c.now).toISOString(),
        [ANNOTATION_CLAIMED_BY]: c.claimedBy,
      },
    },
  };
}
