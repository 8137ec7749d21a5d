// Lambda's execution role ↔ the ServiceAccount a function runs as. A Role
// ARN arn:aws:iam::ACCOUNT:role/NAME names the ServiceAccount NAME (a path,
// role/service-role/NAME, is dropped: ServiceAccounts have none). A function
// that names none runs as the ServiceAccount the controller makes for it,
// named after the function (src/controller/resources/serviceaccount.ts), and
// its Role is shown as that name; a Role naming the function's own name maps
// back to "none named", so the controller keeps making it. Pure.
import { badParameter } from '../gateway/lambda-errors.js';

const ROLE_ARN = /^arn:(aws[a-zA-Z-]*)?:iam::(\d{12}):role\/(?:[a-zA-Z_0-9+=,.@\-_/]*\/)?([a-zA-Z_0-9+=,.@\-_]+)$/;
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The Role ARN Lambda shows for a function running as `serviceAccountName` (its own when undefined). */
export function roleArn(accountId: string, functionName: string, serviceAccountName: string | undefined): string {
  return `arn:aws:iam::${accountId}:role/${serviceAccountName ?? functionName}`;
}

/**
 * The spec's serviceAccountName for a Role: undefined for the function's own
 * (generated) ServiceAccount. InvalidParameterValueException for what is not
 * a role ARN or names a role that cannot be a ServiceAccount name.
 */
export function serviceAccountOf(role: string, functionName: string): string | undefined {
  const m = ROLE_ARN.exec(role);
  if (!m) throw badParameter(`1 validation error detected: Value '${role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`);
  const name = m[3] as string;
  if (!DNS_LABEL.test(name) || name.length > 253) {
    throw badParameter(`Role ${role}: the role's name is the ServiceAccount the function runs as, so it must be a lowercase DNS label (a-z, 0-9, -; starting with a letter)`);
  }
  return name === functionName ? undefined : name;
}
