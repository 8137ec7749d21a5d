// The function's execution role when the spec names none: an identity of its
// own with no token mounted, so a function is granted nothing by default.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { ownedMeta, type BuildInput, type FunctionMeta } from './names.js';

/** Undefined when the spec names a ServiceAccount (the user's, never owned). */
export function buildServiceAccount({ fn, meta }: BuildInput): V1ServiceAccount | undefined {
  if (fn.spec.serviceAccountName !== undefined) return undefined;
  return generatedServiceAccount(meta);
}

/**
 * The Function's own ServiceAccount, named after it. Its published versions
 * that named none run as it too, so it is kept while one of them exists
 * even after $LATEST names another.
 */
export function generatedServiceAccount(meta: FunctionMeta): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: ownedMeta(meta), automountServiceAccountToken: false };
}

/** The unit runs as the ServiceAccount its spec names, else as the Function's own (meta is always the Function's). */
export function serviceAccountNameOf({ fn, meta }: BuildInput): string {
  return fn.spec.serviceAccountName ?? meta.name;
}
