// Which Lambda actions a caller may perform, written in the credentials file
// as IAM action names: `lambda:InvokeFunction`, `lambda:Get*`, `lambda:*`.
// Each route of the gateway declares the one action it performs (its
// fastify route config `lambdaAction`); the auth plugin refuses a caller
// whose actions do not match it with 403 AccessDeniedException. Pure.

/** The action a route performs, as IAM names it. */
export type LambdaAction = `lambda:${string}`;

/**
 * What a caller may do when its entry names no actions: invoke and follow
 * its invocations (records, dead-letter queue), as before the control-plane
 * API existed. Managing functions needs actions named explicitly.
 */
export const DEFAULT_ACTIONS: readonly string[] = ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'];

const ACTION_PATTERN = /^(\*|lambda:[A-Za-z*]{1,128})$/;

/** Whether a pattern is well formed: `*`, `lambda:*`, `lambda:Name` or `lambda:Prefix*`. */
export function isValidActionPattern(p: string): boolean {
  return ACTION_PATTERN.test(p);
}

/** IAM matches action names case-insensitively, with `*` as any run of characters. */
export function actionMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(action);
}

export function allowsAction(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => actionMatches(p, action));
}
