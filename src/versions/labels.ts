// Labels of a published version's objects: the contract between the store
// (which labels each FunctionVersion and its ConfigMap copies), the
// controller (which labels a version's pods and Service the same way) and
// the gateway's Kubernetes backend (which reads them back from the
// EndpointSlices, onto which the EndpointSlice controller copies a
// Service's labels). $LATEST's objects keep `hearth.dev/function: NAME`;
// a version's never carry it, so $LATEST's Service never selects them.

/** The Function a version belongs to. */
export const LABEL_VERSION_OF = 'hearth.dev/version-of';
/** The version's number, "N". */
export const LABEL_VERSION = 'hearth.dev/version';

const LABEL_NAME = 'app.kubernetes.io/name';
const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Labels of every object of version N of function NAME (FunctionVersion, ConfigMap copies, pods, Service). */
export function versionLabels(name: string, version: string): Record<string, string> {
  return { [LABEL_NAME]: name, [LABEL_MANAGED_BY]: 'hearth', [LABEL_VERSION_OF]: name, [LABEL_VERSION]: version };
}

/** The selector of version N's pods: both labels, so no other version's pods match. */
export function versionSelector(name: string, version: string): Record<string, string> {
  return { [LABEL_VERSION_OF]: name, [LABEL_VERSION]: version };
}

/** The label selector that lists every version of NAME. */
export function versionsOfSelector(name: string): string {
  return `${LABEL_VERSION_OF}=${name}`;
}
