// Role ARN ↔ ServiceAccount, and Lambda's runtime ids ↔ Hearth's.
import { describe, expect, it } from 'vitest';
import { RUNTIMES } from '../../src/api/function.js';
import { roleArn, serviceAccountOf } from '../../src/control/role.js';
import { hearthRuntime, lambdaRuntime } from '../../src/control/runtimes.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';

describe('Role', () => {
  it.each([
    { role: 'arn:aws:iam::123456789012:role/orders-reader', sa: 'orders-reader' },
    { role: 'arn:aws:iam::123456789012:role/service-role/orders-reader', sa: 'orders-reader' },
    // The function's own name is its generated ServiceAccount: none named, so the controller keeps making it.
    { role: 'arn:aws:iam::123456789012:role/hello', sa: undefined },
  ])('$role runs as $sa', ({ role, sa }) => {
    expect(serviceAccountOf(role, 'hello')).toBe(sa);
  });

  it.each(['orders-reader', 'arn:aws:iam::12:role/x', 'arn:aws:iam::123456789012:user/x', 'arn:aws:iam::123456789012:role/Upper_Case'])('%s is refused (400)', (role) => {
    expect(() => serviceAccountOf(role, 'hello')).toThrowError(LambdaError);
  });

  it('round trip: what is shown is read back as the same ServiceAccount', () => {
    for (const sa of [undefined, 'orders-reader']) expect(serviceAccountOf(roleArn('123456789012', 'hello', sa), 'hello')).toBe(sa);
    expect(roleArn('123456789012', 'hello', undefined)).toBe('arn:aws:iam::123456789012:role/hello');
  });
});

describe('runtimes', () => {
  it.each([
    ['nodejs20.x', 'nodejs20'],
    ['nodejs22.x', 'nodejs22'],
    ['python3.12', 'python3.12'],
    ['provided.al2023', 'provided'],
    ['provided.al2', 'provided'],
  ])('%s runs as %s', (id, runtime) => {
    expect(hearthRuntime(id)).toBe(runtime);
  });
  it.each(['go1.x', 'java21', 'nodejs18.x'])('%s is refused with 400 InvalidParameterValueException', (id) => {
    expect(() => hearthRuntime(id)).toThrowError(expect.objectContaining({ status: 400, type: 'InvalidParameterValueException' }));
  });
  it('every Hearth runtime has a Lambda id that reads back as a runtime Hearth runs', () => {
    for (const r of RUNTIMES) expect(RUNTIMES).toContain(hearthRuntime(lambdaRuntime(r)));
  });
});
