// Labels of a published version's objects: the contract between the store
// (which labels each FunctionVersion and its ConfigMap copies), the
// controller (which labels a version's pods and Service the same way) and
// the gateway's Kubernetes backend (which reads them back from the
// EndpointSlices, onto which the EndpointSlice controller copies a
// Service's labels). $LATEST's objects keep `hearth.dev/function: NAME`;
// a version's never carry it, so $LATEST's Service never selects them.

import { unitKey } from './units.js';

/** The Function a version belongs to. */
export const LABEL_VERSION_OF = 'hearth.dev/version-of';
/** The version's number, "N". */
export const LABEL_VERSION = 'hearth.dev/version';

/** On every object Hearth makes: the function it belongs to, and who manages it. */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'hearth';

/** Labels of every object of version N of function NAME (FunctionVersion, ConfigMap copies, pods, Service). */
export function versionLabels(name: string, version: string): Record<string, string> {
  return { [LABEL_NAME]: name, [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_VERSION_OF]: name, [LABEL_VERSION]: version };
}

/** The selector of version N's pods: both labels, so no other version's pods match. */
export function versionSelector(name: string, version: string): Record<string, string> {
  return { [LABEL_VERSION_OF]: name, [LABEL_VERSION]: version };
}

/** A selector as the API's labelSelector and a scale subresource's status.selector write it: k=v,k=v. */
export function labelSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The label selector that lists every version of NAME. */
export function versionsOfSelector(name: string): string {
  return labelSelector({ [LABEL_VERSION_OF]: name });
}

/**
 * The serving unit of an object from its labels: NAME:N when it carries
 * both version labels, else the value of `latestLabel` (a slice's Service
 * name, a pod's hearth.dev/function), which names $LATEST's unit.
 */
export function unitKeyOfLabels(labels: Record<string, string> | undefined, latestLabel: string): string | undefined {
  const name = labels?.[LABEL_VERSION_OF];
  const version = labels?.[LABEL_VERSION];
  if (name !== undefined && name !== '' && version !== undefined && version !== '') return unitKey(name, version);
  const latest = labels?.[latestLabel];
  return latest === '' ? undefined : latest;
}
