// What the platform serving a function reports of it, read the same way on
// both homes: served (some revision runs), current (the stored one runs),
// and a failure when the stored one cannot run, with a code from Lambda's
// StateReasonCode so src/control/ can show State Failed as Lambda does.
// Pure: the stores hand in what they read.
import type { Condition } from '../api/function.js';
import { describeProblems, type Problem } from '../api/validate.js';
import { REFUSALS } from '../packages/errors.js';
import type { Observation } from './function-store.js';

/** Lambda's StateReasonCode values Hearth reports. */
export type FailureCode = 'InvalidConfiguration' | 'InvalidImage' | 'ImageAccessDenied' | 'InvalidZipFileException' | 'InvalidRuntime';

/**
 * The controller's Ready=False reasons that mean the spec as written cannot
 * run and will not start running by waiting, and the code each shows as.
 * Left out on purpose, as not the spec's fault or passing: InstancesStarting,
 * ApplyFailed (an API call that failed; the controller retries it),
 * CrashLoopBackOff, OOMKilled, RunContainerError and CreateContainerError
 * (the code fails at run time, which Lambda reports per invocation, not as
 * the function's state) and Unschedulable (capacity may come).
 */
export const FAILURE_REASONS: Readonly<Record<string, FailureCode>> = {
  InvalidSpec: 'InvalidConfiguration',
  UnsupportedSpec: 'InvalidConfiguration',
  // A Secret or ConfigMap key that env refers to is missing.
  CreateContainerConfigError: 'InvalidConfiguration',
  InvalidImageName: 'InvalidImage',
  ErrImagePull: 'ImageAccessDenied',
  ImagePullBackOff: 'ImageAccessDenied',
};

/** A Function as the API server sends it: what an observation reads. */
export interface ObservedWire {
  metadata?: { generation?: number };
  status?: { observedGeneration?: number; conditions?: Partial<Condition>[] };
}

/**
 * The cluster's observation, from the controller's status: served once it
 * observed any generation; current when it observed this one and, where
 * its Updated condition is there, that condition says every instance runs
 * this generation's code (so LastUpdateStatus stays InProgress while a
 * rollout leaves old pods serving the previous code; a status from a
 * controller without Updated counts as current once observed, as before).
 * Failed when its Ready condition for this generation is False for a
 * reason in FAILURE_REASONS (the function cannot run), or when Updated for
 * this generation is (new instances cannot start while the old serve:
 * served, not current, failed).
 */
export function clusterObservation(wire: ObservedWire): Observation {
  const generation = wire.metadata?.generation;
  const observed = wire.status?.observedGeneration;
  const served = observed !== undefined;
  if (!served || observed !== generation) return { served, current: false };
  // A condition stamped with an older generation says nothing of this one.
  const forThis = (type: string) => {
    const c = wire.status?.conditions?.find((x) => x.type === type);
    return c !== undefined && (c.observedGeneration === undefined || c.observedGeneration === generation) ? c : undefined;
  };
  const ready = forThis('Ready');
  const readyFailure = ready?.status === 'False' ? failureOf(ready) : undefined;
  if (readyFailure !== undefined) return { served, current: true, failure: readyFailure };
  const updated = wire.status?.conditions?.find((c) => c.type === 'Updated');
  if (updated === undefined) return { served, current: true };
  const updatedNow = forThis('Updated');
  if (updatedNow?.status === 'True') return { served, current: true };
  const updateFailure = updatedNow !== undefined ? failureOf(updatedNow) : undefined;
  return updateFailure !== undefined ? { served, current: false, failure: updateFailure } : { served, current: false };
}

function failureOf(c: Partial<Condition>): { code: FailureCode; message: string } | undefined {
  const code = c.reason !== undefined ? FAILURE_REASONS[c.reason] : undefined;
  return code !== undefined ? { code, message: c.message ?? c.reason ?? 'the function cannot run' } : undefined;
}

/** What the local backend says of one serving unit. */
export interface PreparationState {
  /** Its code is being prepared (unpacked, built) now. */
  preparing: boolean;
  /** Some version of its code is prepared and runs (an older one while a newer one is prepared, or after that failed). */
  deployed: boolean;
  /** Why its last preparation failed, if it did. */
  error?: Error;
}

/**
 * The code a failure to prepare shows as: a package the checks refuse (not
 * a ZIP, unsafe entries, too large) is InvalidZipFileException as in
 * Lambda; one that cannot be fetched or found, like anything else the
 * spec asks that this platform cannot give (a missing bootstrap, an
 * image), is InvalidConfiguration.
 */
export function preparationFailureCode(err: Error): FailureCode {
  const reason = (err as { reason?: unknown }).reason;
  if (typeof reason === 'string' && reason !== 'unavailable' && (REFUSALS as readonly string[]).includes(reason)) return 'InvalidZipFileException';
  return 'InvalidConfiguration';
}

export interface FileObservationInput {
  /** The catalog has the function (some revision of it). */
  served: boolean;
  /** The catalog's function has the stored spec. */
  sameAsStored: boolean;
  /** Problems that keep the stored document from loading (invalid now, or refused by this platform). */
  problems: readonly Problem[];
  /** The backend's state of the function's $LATEST, when there is a backend to ask. */
  preparation?: PreparationState;
}

/**
 * The embedded platform's observation. Served: the catalog has the function
 * and the backend runs some version of its code (so a new function is
 * Pending while its code is prepared). Current: besides, the catalog has
 * the stored spec and the backend has prepared it. Failure: the stored
 * document does not load (its problems), or the backend could not prepare
 * it; what ran before, if anything, still serves (served, not current).
 */
export function fileObservation(input: FileObservationInput): Observation {
  const prep = input.preparation;
  const served = input.served && (prep === undefined || prep.deployed);
  if (input.problems.length > 0) return { served, current: false, failure: { code: 'InvalidConfiguration', message: describeProblems(input.problems) } };
  const settled = input.sameAsStored && prep?.preparing !== true;
  if (settled && prep?.error !== undefined) return { served, current: false, failure: { code: preparationFailureCode(prep.error), message: prep.error.message } };
  return { served, current: served && settled };
}
