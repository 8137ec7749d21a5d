// Lambda's State and LastUpdateStatus from what the platform observed of a
// function (FunctionStore's Observation), so boto3's waiters
// (function_active_v2, function_updated_v2) work unchanged. Pure.
//
//   not served, no failure      Pending   / InProgress  (being created)
//   not served, failure         Failed    / Failed      (it never ran)
//   served, current             Active    / Successful  (or Failed/Failed when it cannot run)
//   served, not current         Active    / InProgress  (an update on its way)
//   served, not current, failed Active    / Failed      (the update failed; the previous one still serves)
import type { Observation } from '../store/function-store.js';

/** StateReasonCode values of Lambda's model that Hearth's failures may carry; anything else is shown as InternalError. */
const REASON_CODES = new Set([
  'InvalidConfiguration',
  'InternalError',
  'InvalidRuntime',
  'InvalidZipFileException',
  'InvalidImage',
  'ImageAccessDenied',
  'ImageDeleted',
  'FunctionError',
  'InsufficientRolePermissions',
  'FunctionError.InitTimeout',
  'FunctionError.RuntimeInitError',
  'FunctionError.InvalidEntryPoint',
  'FunctionError.InvalidWorkingDirectory',
  'FunctionError.PermissionDenied',
]);

export interface FunctionState {
  State: 'Pending' | 'Active' | 'Failed';
  StateReason?: string;
  StateReasonCode?: string;
  LastUpdateStatus: 'InProgress' | 'Successful' | 'Failed';
  LastUpdateStatusReason?: string;
  LastUpdateStatusReasonCode?: string;
}

export function reasonCode(code: string): string {
  return REASON_CODES.has(code) ? code : 'InternalError';
}

export function functionState(o: Observation): FunctionState {
  const f = o.failure;
  if (f !== undefined) {
    const code = reasonCode(f.code);
    const failedUpdate = { LastUpdateStatus: 'Failed' as const, LastUpdateStatusReason: f.message, LastUpdateStatusReasonCode: code };
    if (o.served && !o.current) return { State: 'Active', ...failedUpdate };
    return { State: 'Failed', StateReason: f.message, StateReasonCode: code, ...failedUpdate };
  }
  if (!o.served) return { State: 'Pending', StateReason: 'The function is being created.', StateReasonCode: 'Creating', LastUpdateStatus: 'InProgress', LastUpdateStatusReason: 'The function is being created.' };
  if (!o.current) return { State: 'Active', LastUpdateStatus: 'InProgress', LastUpdateStatusReason: 'The function is being updated.' };
  return { State: 'Active', LastUpdateStatus: 'Successful' };
}
