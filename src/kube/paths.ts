// REST paths of the kinds Hearth touches. A fixed table rather than discovery:
// the set is small and known, and discovery would cost a round trip per kind.
import { GROUP, PLURAL, VERSION } from '../api/function.js';
import { VERSION_KIND, VERSION_PLURAL } from '../api/function-version.js';
import { POOL_KIND, POOL_PLURAL } from '../api/warm-pool.js';
import { MAPPING_KIND, MAPPING_PLURAL } from '../api/event-source-mapping.js';

export interface Resource {
  apiVersion: string;
  kind: string;
  plural: string;
}

export const RESOURCES = {
  Function: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Function', plural: PLURAL },
  FunctionVersion: { apiVersion: `${GROUP}/${VERSION}`, kind: VERSION_KIND, plural: VERSION_PLURAL },
  WarmPool: { apiVersion: `${GROUP}/${VERSION}`, kind: POOL_KIND, plural: POOL_PLURAL },
  EventSourceMapping: { apiVersion: `${GROUP}/${VERSION}`, kind: MAPPING_KIND, plural: MAPPING_PLURAL },
  Deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  Service: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  Secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  ServiceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies' },
  Pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices' },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases' },
  Event: { apiVersion: 'v1', kind: 'Event', plural: 'events' },
} as const satisfies Record<string, Resource>;

export type Kind = keyof typeof RESOURCES;

/** /api/v1/namespaces/ns/pods/name, or the collection across all namespaces when namespace is undefined. */
export function resourcePath(r: Resource, namespace: string | undefined, name?: string, subresource?: string): string {
  const root = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  let p = namespace === undefined ? `${root}/${r.plural}` : `${root}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}
