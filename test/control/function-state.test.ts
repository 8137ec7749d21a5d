// Lambda's State and LastUpdateStatus from what the platform observed: the
// table boto3's waiters depend on (function_active_v2 reads State,
// function_updated_v2 reads LastUpdateStatus).
import { describe, expect, it } from 'vitest';
import { functionState, reasonCode } from '../../src/control/function-state.js';

describe('functionState', () => {
  it.each([
    { what: 'just created, not served yet', o: { served: false, current: false }, state: 'Pending', update: 'InProgress', code: 'Creating' },
    { what: 'served as stored', o: { served: true, current: true }, state: 'Active', update: 'Successful', code: undefined },
    { what: 'an update on its way', o: { served: true, current: false }, state: 'Active', update: 'InProgress', code: undefined },
    { what: 'never ran: its package is bad', o: { served: false, current: false, failure: { code: 'InvalidZipFileException', message: 'not a zip' } }, state: 'Failed', update: 'Failed', code: 'InvalidZipFileException' },
    { what: 'served but cannot run what is stored', o: { served: true, current: true, failure: { code: 'InvalidConfiguration', message: 'bad handler' } }, state: 'Failed', update: 'Failed', code: 'InvalidConfiguration' },
    { what: 'an update that failed: the previous one still serves', o: { served: true, current: false, failure: { code: 'InvalidRuntime', message: 'x' } }, state: 'Active', update: 'Failed', code: undefined },
  ])('$what: $state / $update', ({ o, state, update, code }) => {
    const s = functionState(o);
    expect([s.State, s.LastUpdateStatus, s.StateReasonCode]).toEqual([state, update, code]);
  });

  it('a failure carries its message as the reasons; an update failure says why in LastUpdateStatusReason(Code)', () => {
    expect(functionState({ served: true, current: false, failure: { code: 'InvalidRuntime', message: 'no such runtime' } })).toEqual({
      State: 'Active',
      LastUpdateStatus: 'Failed',
      LastUpdateStatusReason: 'no such runtime',
      LastUpdateStatusReasonCode: 'InvalidRuntime',
    });
  });

  it.each([
    ['InvalidZipFileException', 'InvalidZipFileException'],
    ['FunctionError.InvalidEntryPoint', 'FunctionError.InvalidEntryPoint'],
    ['PackageDigestMismatch', 'InternalError'],
    ['', 'InternalError'],
  ])('reason code %s is shown as %s (only codes in Lambda\'s enum)', (code, shown) => {
    expect(reasonCode(code)).toBe(shown);
  });
});
