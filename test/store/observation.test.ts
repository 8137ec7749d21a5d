// What the stores report the platform observed of a function: from the
// controller's status in a cluster, from the catalog, the files loader and
// the local backend in the embedded platform. Pure, table-driven.
import { describe, expect, it } from 'vitest';
import { PackageError } from '../../src/packages/errors.js';
import type { Observation } from '../../src/store/function-store.js';
import { functionState } from '../../src/control/function-state.js';
import { clusterObservation, fileObservation, preparationFailureCode, type ObservedWire } from '../../src/store/observation.js';

const ready = (status: 'True' | 'False', reason: string, observedGeneration?: number) => ({ type: 'Ready', status, reason, message: `${reason}: details`, ...(observedGeneration !== undefined ? { observedGeneration } : {}) });
const updated = (status: 'True' | 'False', reason: string, observedGeneration?: number) => ({ ...ready(status, reason, observedGeneration), type: 'Updated' });

describe('clusterObservation', () => {
  const cases: Array<{ what: string; wire: ObservedWire; expected: Observation }> = [
    { what: 'just created: the controller has not seen it', wire: { metadata: { generation: 1 } }, expected: { served: false, current: false } },
    { what: 'an older generation observed', wire: { metadata: { generation: 3 }, status: { observedGeneration: 2 } }, expected: { served: true, current: false } },
    { what: 'this generation observed, ready', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2)] } }, expected: { served: true, current: true } },
    { what: 'scaled to zero is running', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'ScaledToZero', 2)] } }, expected: { served: true, current: true } },
    { what: 'starting is not a failure', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('False', 'InstancesStarting', 2)] } }, expected: { served: true, current: true } },
    { what: 'an invalid spec', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('False', 'InvalidSpec', 2)] } }, expected: { served: true, current: true, failure: { code: 'InvalidConfiguration', message: 'InvalidSpec: details' } } },
    { what: 'an unsupported spec', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'UnsupportedSpec', 1)] } }, expected: { served: true, current: true, failure: { code: 'InvalidConfiguration', message: 'UnsupportedSpec: details' } } },
    { what: 'a missing Secret key', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'CreateContainerConfigError', 1)] } }, expected: { served: true, current: true, failure: { code: 'InvalidConfiguration', message: 'CreateContainerConfigError: details' } } },
    { what: 'an image that cannot be pulled', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'ImagePullBackOff', 1)] } }, expected: { served: true, current: true, failure: { code: 'ImageAccessDenied', message: 'ImagePullBackOff: details' } } },
    { what: 'an image that fails to pull', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'ErrImagePull', 1)] } }, expected: { served: true, current: true, failure: { code: 'ImageAccessDenied', message: 'ErrImagePull: details' } } },
    { what: 'an image name that is not one', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'InvalidImageName', 1)] } }, expected: { served: true, current: true, failure: { code: 'InvalidImage', message: 'InvalidImageName: details' } } },
    { what: 'crashing code fails per invocation, not as state', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'CrashLoopBackOff', 1)] } }, expected: { served: true, current: true } },
    { what: 'an apply the controller retries', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'ApplyFailed', 1)] } }, expected: { served: true, current: true } },
    { what: 'no room now, maybe later', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'Unschedulable', 1)] } }, expected: { served: true, current: true } },
    { what: 'a failure of an older generation says nothing of this one', wire: { metadata: { generation: 3 }, status: { observedGeneration: 3, conditions: [ready('False', 'InvalidSpec', 2)] } }, expected: { served: true, current: true } },
    { what: 'a failure while the new generation is not observed yet', wire: { metadata: { generation: 3 }, status: { observedGeneration: 2, conditions: [ready('False', 'InvalidSpec', 2)] } }, expected: { served: true, current: false } },
    { what: 'a condition without observedGeneration counts for the status it is in', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'InvalidSpec')] } }, expected: { served: true, current: true, failure: { code: 'InvalidConfiguration', message: 'InvalidSpec: details' } } },
    // The Updated condition: current only once no instance runs an older spec's code.
    { what: 'observed, rollout in progress: old instances still serve', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2), updated('False', 'RollingOut', 2)] } }, expected: { served: true, current: false } },
    { what: 'observed, rollout complete', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2), updated('True', 'RolledOut', 2)] } }, expected: { served: true, current: true } },
    { what: 'scaled to zero, no pods left', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'ScaledToZero', 2), updated('True', 'ScaledToZero', 2)] } }, expected: { served: true, current: true } },
    { what: 'Updated of an older generation does not count for this one', wire: { metadata: { generation: 3 }, status: { observedGeneration: 3, conditions: [ready('True', 'InstancesReady', 3), updated('True', 'RolledOut', 2)] } }, expected: { served: true, current: false } },
    { what: 'the apply failed and is retried: the old code serves', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('False', 'ApplyFailed', 2), updated('False', 'ApplyFailed', 2)] } }, expected: { served: true, current: false } },
    { what: 'new instances cannot pull their image while old ones serve: the update failed', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2), updated('False', 'ImagePullBackOff', 2)] } }, expected: { served: true, current: false, failure: { code: 'ImageAccessDenied', message: 'ImagePullBackOff: details' } } },
    { what: 'no instance can pull the image: the function cannot run (Ready says so first)', wire: { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [ready('False', 'ImagePullBackOff', 1), updated('False', 'ImagePullBackOff', 1)] } }, expected: { served: true, current: true, failure: { code: 'ImageAccessDenied', message: 'ImagePullBackOff: details' } } },
    { what: 'new instances crash while old ones serve: still in progress', wire: { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2), updated('False', 'CrashLoopBackOff', 2)] } }, expected: { served: true, current: false } },
  ];
  for (const c of cases) it(c.what, () => expect(clusterObservation(c.wire)).toEqual(c.expected));

  // What boto3's function_updated_v2 waiter reads: Successful only once the rollout is complete.
  it.each([
    ['rollout in progress', updated('False', 'RollingOut', 2), 'InProgress'],
    ['rollout complete', updated('True', 'RolledOut', 2), 'Successful'],
    ['a controller without the Updated condition', undefined, 'Successful'],
    ['new instances cannot pull their image', updated('False', 'ErrImagePull', 2), 'Failed'],
  ] as const)('LastUpdateStatus: %s', (_what, condition, status) => {
    const wire: ObservedWire = { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [ready('True', 'InstancesReady', 2), ...(condition !== undefined ? [condition] : [])] } };
    const state = functionState(clusterObservation(wire));
    expect(state).toMatchObject({ State: 'Active', LastUpdateStatus: status });
  });
});

describe('preparationFailureCode', () => {
  const refused = (reason: ConstructorParameters<typeof PackageError>[0]) => Object.assign(new Error('function f: code.package: refused'), { reason });
  const cases: Array<{ what: string; err: Error; code: string }> = [
    { what: 'not a zip', err: refused('not-a-zip'), code: 'InvalidZipFileException' },
    { what: 'an entry escaping the root', err: refused('path-traversal'), code: 'InvalidZipFileException' },
    { what: 'too large unzipped', err: refused('unzipped-too-large'), code: 'InvalidZipFileException' },
    { what: 'a package error itself', err: new PackageError('digest-mismatch', 'x'), code: 'InvalidZipFileException' },
    { what: 'a package that cannot be found', err: refused('unavailable'), code: 'InvalidConfiguration' },
    { what: 'no bootstrap', err: new Error('function f: runtime provided needs an executable named bootstrap'), code: 'InvalidConfiguration' },
  ];
  for (const c of cases) it(c.what, () => expect(preparationFailureCode(c.err)).toBe(c.code));
});

describe('fileObservation', () => {
  const boom = Object.assign(new Error('function f: code.package: package refused (not-a-zip): not a zip'), { reason: 'not-a-zip' });
  const zipFailure = { code: 'InvalidZipFileException', message: boom.message };
  const cases: Array<{ what: string; input: Parameters<typeof fileObservation>[0]; expected: Observation }> = [
    { what: 'not loaded yet', input: { served: false, sameAsStored: false, problems: [] }, expected: { served: false, current: false } },
    { what: 'the catalog has the stored spec (no backend to ask)', input: { served: true, sameAsStored: true, problems: [] }, expected: { served: true, current: true } },
    { what: 'the catalog has an older spec', input: { served: true, sameAsStored: false, problems: [] }, expected: { served: true, current: false } },
    { what: 'new, its code being prepared: not served yet (Pending)', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: true, deployed: false } }, expected: { served: false, current: false } },
    { what: 'updated, the new code being prepared: the old serves', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: true, deployed: true } }, expected: { served: true, current: false } },
    { what: 'prepared', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: false, deployed: true } }, expected: { served: true, current: true } },
    { what: 'new, and its code cannot be prepared: never served', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: false, deployed: false, error: boom } }, expected: { served: false, current: false, failure: zipFailure } },
    { what: 'updated, and the new code cannot be prepared: the old still serves', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: false, deployed: true, error: boom } }, expected: { served: true, current: false, failure: zipFailure } },
    { what: 'an old failure while a new spec is prepared', input: { served: true, sameAsStored: true, problems: [], preparation: { preparing: true, deployed: true, error: boom } }, expected: { served: true, current: false } },
    { what: 'an old failure while the catalog has not the stored spec yet', input: { served: true, sameAsStored: false, problems: [], preparation: { preparing: false, deployed: true, error: boom } }, expected: { served: true, current: false } },
    { what: 'its document does not load: what it last defined still serves', input: { served: true, sameAsStored: false, problems: [{ path: 'spec.memoryMB', message: 'must be at least 128' }] }, expected: { served: true, current: false, failure: { code: 'InvalidConfiguration', message: 'spec.memoryMB: must be at least 128' } } },
    { what: 'refused by this platform: never served', input: { served: false, sameAsStored: false, problems: [{ path: 'spec.async', message: 'needs Redis' }] }, expected: { served: false, current: false, failure: { code: 'InvalidConfiguration', message: 'spec.async: needs Redis' } } },
  ];
  for (const c of cases) it(c.what, () => expect(fileObservation(c.input)).toEqual(c.expected));
});
