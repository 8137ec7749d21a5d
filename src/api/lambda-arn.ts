// The region and account Hearth's ARNs name when none is configured. Lambda's
// own ARN grammar (and botocore's model of it) wants a real region name, so
// AWS's clients and infrastructure tools that parse ARNs accept Hearth's; the
// account is the all-zero one emulators use.
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

/** A function's unqualified ARN: arn:aws:lambda:REGION:ACCOUNT:function:NAME. */
export function functionArn(name: string, region: string = DEFAULT_REGION, accountId: string = DEFAULT_ACCOUNT_ID): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
}
