// Names, labels and annotations of the objects a Function owns. They are the
// contract between the controller, the gateway's Kubernetes backend (which
// finds a function's EndpointSlices by its Service name) and the chart.
import { API_VERSION, KIND, type HearthFunction } from '../../api/function.js';

export const FIELD_MANAGER = 'hearth-controller';
export const FINALIZER = 'hearth.dev/cleanup';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_FUNCTION = 'hearth.dev/function';
export const MANAGED_BY = 'hearth';
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
  return `${LABEL_FUNCTION}=${fnName}`;
}

/** A Function as it comes from the API server: the schema's shape plus server metadata. */
export interface FunctionMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export function ownerReference(meta: FunctionMeta): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: meta.name, uid: meta.uid, controller: true, blockOwnerDeletion: true };
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences: OwnerReference[];
}

/** Metadata shared by every owned object. */
export function ownedMeta(meta: FunctionMeta, name: string = meta.name): ObjectMeta {
  return { name, namespace: meta.namespace, labels: functionLabels(meta.name), ownerReferences: [ownerReference(meta)] };
}

/** What every builder needs: the validated Function (schema defaults filled in) and its server identity. */
export interface BuildInput {
  fn: HearthFunction;
  meta: FunctionMeta;
}

/** Instances the function should have now: what the scale subresource set, else the provisioned minimum. */
export function desiredInstances(fn: HearthFunction): number {
  return fn.spec.replicas ?? fn.spec.scaling.minInstances;
}
