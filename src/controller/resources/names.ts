// Names, labels and annotations of the objects a Function owns. They are the
// contract between the controller, the gateway's Kubernetes backend (which
// finds a function's EndpointSlices by its Service name) and the chart.
//
// A function runs as serving units: its $LATEST, owned by the Function, and
// each published version, owned by its FunctionVersion. The same builders
// make both; what differs (names, labels, selector, owner, the version the
// runtime is told) is the unit's identity below.
import { API_VERSION, KIND, LATEST, type HearthFunction } from '../../api/function.js';
import { VERSION_KIND } from '../../api/function-version.js';
import { labelSelector, versionLabels, versionSelector, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY } from '../../versions/labels.js';
import { versionObjectName } from '../../versions/units.js';
import type { OwnerReference } from '../../kube/objects.js';

export const FIELD_MANAGER = 'hearth-controller';
export const FINALIZER = 'hearth.dev/cleanup';

export { LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY };
export const LABEL_FUNCTION = 'hearth.dev/function';
/** The chart labels the gateway's pods with this component; only they may reach function pods. */
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const GATEWAY_COMPONENT = 'gateway';

/** On the pod template: a change of code changes the template, so the Deployment rolls. */
export const ANNOTATION_CODE_HASH = 'hearth.dev/code-hash';
/** On every owned object: the hash of what the controller last applied, to skip applies that change nothing. */
export const ANNOTATION_APPLIED_HASH = 'hearth.dev/applied-hash';

export const AGENT_PORT = 9000;
export const RUNTIME_API_PORT = 9001;
export const AGENT_PORT_NAME = 'http';
export const TASK_ROOT = '/var/task';

export function codeConfigMapName(fnName: string): string {
  return `${fnName}-code`;
}

export function functionLabels(fnName: string): Record<string, string> {
  return { [LABEL_NAME]: fnName, [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_FUNCTION]: fnName };
}

export function selectorLabels(fnName: string): Record<string, string> {
  return { [LABEL_FUNCTION]: fnName };
}

/** The label selector string the scale subresource reports (status.selector). */
export function selectorString(fnName: string): string {
  return labelSelector(selectorLabels(fnName));
}

/** A Function as it comes from the API server: the schema's shape plus server metadata. */
export interface FunctionMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
}

export type { OwnerReference };

export function ownerReference(meta: FunctionMeta): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: meta.name, uid: meta.uid, controller: true, blockOwnerDeletion: true };
}

/** Which serving unit objects are built for, and everything about them that is not the spec. */
export interface UnitIdentity {
  functionName: string;
  /** LATEST, or a published version's number. */
  version: string;
  namespace: string;
  /** Name of the unit's Deployment, Service and NetworkPolicy (and, with -code, its code ConfigMap). */
  objectName: string;
  /** Labels of the unit's objects and pods. */
  labels: Record<string, string>;
  /** What the unit's Deployment, Service and NetworkPolicy select. */
  selector: Record<string, string>;
  owner: OwnerReference;
}

/** The function's $LATEST: objects named and labelled after the function, owned by it. */
export function latestUnit(meta: FunctionMeta): UnitIdentity {
  return {
    functionName: meta.name,
    version: LATEST,
    namespace: meta.namespace,
    objectName: meta.name,
    labels: functionLabels(meta.name),
    selector: selectorLabels(meta.name),
    owner: ownerReference(meta),
  };
}

/**
 * Published version N: objects named versionObjectName(NAME, N), owned by
 * the FunctionVersion, labelled as a version and never with
 * hearth.dev/function, so $LATEST's Service does not select its pods.
 */
export function versionUnit(functionName: string, version: string, namespace: string, owner: { name: string; uid: string }): UnitIdentity {
  return {
    functionName,
    version,
    namespace,
    objectName: versionObjectName(functionName, version),
    labels: versionLabels(functionName, version),
    selector: versionSelector(functionName, version),
    owner: { apiVersion: API_VERSION, kind: VERSION_KIND, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true },
  };
}

/** The selector string of a version's instances, for its scale subresource (status.selector). */
export function versionSelectorString(functionName: string, version: string): string {
  return labelSelector(versionSelector(functionName, version));
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences: OwnerReference[];
}

/** Metadata shared by every object the Function itself owns. */
export function ownedMeta(meta: FunctionMeta, name: string = meta.name): ObjectMeta {
  return unitMeta(latestUnit(meta), name);
}

/** Metadata of an object of a serving unit. */
export function unitMeta(unit: UnitIdentity, name: string = unit.objectName): ObjectMeta {
  return { name, namespace: unit.namespace, labels: { ...unit.labels }, ownerReferences: [{ ...unit.owner }] };
}

/**
 * What every builder needs: the validated spec the unit runs (schema
 * defaults filled in), the Function's server identity, and which unit it is
 * ($LATEST when unset).
 */
export interface BuildInput {
  fn: HearthFunction;
  meta: FunctionMeta;
  unit?: UnitIdentity;
}

export function unitOf(input: BuildInput): UnitIdentity {
  return input.unit ?? latestUnit(input.meta);
}

/** Instances the function should have now: what the scale subresource set, else the provisioned minimum. */
export function desiredInstances(fn: HearthFunction): number {
  return fn.spec.replicas ?? fn.spec.scaling.minInstances;
}
