// The function's execution role when the spec names none: an identity of its
// own with no token mounted, so a function is granted nothing by default.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { ownedMeta, type BuildInput } from './names.js';

/** Undefined when the spec names a ServiceAccount (the user's, never owned). */
export function buildServiceAccount({ fn, meta }: BuildInput): V1ServiceAccount | undefined {
  if (fn.spec.serviceAccountName !== undefined) return undefined;
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: ownedMeta(meta), automountServiceAccountToken: false };
}

export function serviceAccountNameOf({ fn, meta }: BuildInput): string {
  return fn.spec.serviceAccountName ?? meta.name;
}
