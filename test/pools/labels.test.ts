// Pool pods' labels and the claim patch: what the pool Deployment, the
// unit's Service and the controller's accounting select, before and after a
// claim. The patch is applied here as the API server applies a JSON merge
// patch (RFC 7386) to a pool pod's metadata, so the tables read as "the pod
// after the claim".
import { describe, expect, it } from 'vitest';
import { LABEL_FUNCTION, functionLabels, selectorLabels } from '../../src/controller/resources/names.js';
import {
  ANNOTATION_CLAIMED_AT,
  ANNOTATION_CLAIMED_BY,
  ANNOTATION_SPEC_HASH,
  LABEL_CLAIMED,
  LABEL_CLAIMED_FROM,
  LABEL_POOL,
  LABEL_POOL_RUNTIME,
  claimPatch,
  poolPodLabels,
  poolSelector,
  unitPodLabels,
  type ClaimInput,
} from '../../src/pools/labels.js';
import { LABEL_MANAGED_BY, MANAGED_BY, versionLabels, versionSelector } from '../../src/versions/labels.js';

type Json = null | string | number | boolean | Json[] | { [k: string]: Json };

/** RFC 7386: null removes a member, objects merge recursively, anything else replaces. */
function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: { [k: string]: Json } = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

function matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const NOW = Date.parse('2026-12-06T18:30:00.123Z');
const claim = (over: Partial<ClaimInput> = {}): ClaimInput => ({ resourceVersion: '4711', pool: 'python', unit: 'hello', specHash: 'abcdef0123456789', claimedBy: 'gw-0', now: NOW, ...over });

/** An idle pod of pool `pool` as the pool's Deployment makes it (plus the pod-template-hash its ReplicaSet adds). */
function idlePod(pool: string, runtime: string): { resourceVersion: string; labels: Record<string, string>; annotations: Record<string, string> } {
  return { resourceVersion: '4711', labels: { ...poolPodLabels(pool, runtime), 'pod-template-hash': '5d8f9' }, annotations: { 'kubectl.kubernetes.io/default-container': 'runtime' } };
}

function claimed(c: ClaimInput, runtime = 'python') {
  const after = mergePatch(idlePod(c.pool, runtime) as unknown as Json, claimPatch(c).metadata as unknown as Json) as { resourceVersion: string; labels: Record<string, string>; annotations: Record<string, string> };
  return after;
}

describe('pool pod labels', () => {
  it('an idle pod is Hearth\'s (the gateway\'s pod informer lists managed-by=hearth), of its pool and runtime, and its pool\'s Deployment selects it', () => {
    const labels = poolPodLabels('python', 'python');
    expect(labels).toEqual({ [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_POOL]: 'python', [LABEL_POOL_RUNTIME]: 'python' });
    expect(matches(labels, poolSelector('python'))).toBe(true);
    expect(matches(poolPodLabels('py-big', 'python'), poolSelector('python'))).toBe(false);
  });

  it('an idle pod is no function\'s: no unit selector matches it', () => {
    const labels = poolPodLabels('python', 'python');
    expect(matches(labels, selectorLabels('python'))).toBe(false);
    expect(matches(labels, versionSelector('python', '1'))).toBe(false);
  });

  it.each([
    { unit: 'hello', want: functionLabels('hello') },
    { unit: 'hello:3', want: versionLabels('hello', '3') },
  ])('unitPodLabels($unit) are the labels of the controller\'s own pods of that unit', ({ unit, want }) => {
    expect(unitPodLabels(unit)).toEqual(want);
  });
});

describe('claimPatch', () => {
  it('is conditional on the resourceVersion the claimer saw, so of two gateways claiming one pod only one wins (409 for the other)', () => {
    expect(claimPatch(claim({ resourceVersion: '99' })).metadata.resourceVersion).toBe('99');
  });

  it('removes the pool label with null (merge-patch removal), so the pool\'s ReplicaSet releases the pod and starts a replacement', () => {
    const patch = claimPatch(claim());
    expect(patch.metadata.labels[LABEL_POOL]).toBeNull();
    const after = claimed(claim());
    expect(after.labels[LABEL_POOL]).toBeUndefined();
    expect(matches(after.labels, poolSelector('python'))).toBe(false);
  });

  it.each([
    { case: "$LATEST's unit", unit: 'hello', selects: selectorLabels('hello'), notSelects: [versionSelector('hello', '1'), selectorLabels('other')] },
    { case: 'a version\'s unit', unit: 'hello:2', selects: versionSelector('hello', '2'), notSelects: [selectorLabels('hello'), versionSelector('hello', '1')] },
  ])('makes the pod one of $case: its selector matches, no other unit\'s does', ({ unit, selects, notSelects }) => {
    const after = claimed(claim({ unit }));
    expect(matches(after.labels, selects)).toBe(true);
    for (const s of notSelects) expect(matches(after.labels, s), JSON.stringify(s)).toBe(false);
  });

  it('a version\'s claimed pod never carries hearth.dev/function, so $LATEST\'s Service never selects it', () => {
    expect(claimed(claim({ unit: 'hello:2' })).labels[LABEL_FUNCTION]).toBeUndefined();
  });

  it('marks the pod claimed, from which pool, keeping its runtime and who manages it; the ReplicaSet\'s own labels are left as they were', () => {
    const after = claimed(claim({ pool: 'nodejs', unit: 'api' }), 'nodejs');
    expect(after.labels).toEqual({
      ...functionLabels('api'),
      [LABEL_CLAIMED]: 'true',
      [LABEL_CLAIMED_FROM]: 'nodejs',
      [LABEL_POOL_RUNTIME]: 'nodejs',
      'pod-template-hash': '5d8f9',
    });
    expect(after.labels[LABEL_MANAGED_BY]).toBe(MANAGED_BY);
  });

  it('annotates the spec hash, the claim time (RFC 3339, milliseconds) and the claimer, keeping other annotations', () => {
    const after = claimed(claim({ specHash: '0123456789abcdef', claimedBy: 'hearth-gateway-7c9-abcde' }));
    expect(after.annotations).toEqual({
      'kubectl.kubernetes.io/default-container': 'runtime',
      [ANNOTATION_SPEC_HASH]: '0123456789abcdef',
      [ANNOTATION_CLAIMED_AT]: '2026-12-06T18:30:00.123Z',
      [ANNOTATION_CLAIMED_BY]: 'hearth-gateway-7c9-abcde',
    });
    expect(Date.parse(after.annotations[ANNOTATION_CLAIMED_AT] ?? '')).toBe(NOW);
  });

  it('is pure: the same claim gives the same patch', () => {
    expect(claimPatch(claim())).toEqual(claimPatch(claim()));
  });
});
