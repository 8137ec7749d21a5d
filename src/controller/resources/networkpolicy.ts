// Only the gateway may reach a function's pods, and only on the agent's port:
// a function is invoked through Hearth, never called directly by a neighbour.
//
// One policy per namespace says so for every pod Hearth runs there (function
// pods of $LATEST and of versions, idle and claimed warm-pool pods: all carry
// managed-by=hearth). It is applied before a namespace's first Deployment, so
// no function pod ever runs unselected; one policy per function did the same
// with an object and an API write per function and version (the 500-Function
// bench: about 1.5 s of a 10 s burst on a shared API server).
import { AGENT_PORT, GATEWAY_COMPONENT, LABEL_COMPONENT, LABEL_MANAGED_BY, MANAGED_BY, type ObjectMeta } from './names.js';

/** The namespace's policy: its name, and its component label beside managed-by. */
export const FUNCTIONS_POLICY = 'hearth-functions';
export const FUNCTIONS_COMPONENT = 'functions';

/**
 * The wire form, typed here because the client's model renames `from` to
 * `_from` and every object this controller handles is in wire form.
 */
export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: Omit<ObjectMeta, 'ownerReferences'> & Partial<Pick<ObjectMeta, 'ownerReferences'>>;
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: {
      from: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } }[];
      ports: { protocol: string; port: number }[];
    }[];
  };
}

/**
 * The policy of every Hearth pod in a namespace. Owned by nothing: it
 * outlives the namespace's last function harmlessly (it selects only Hearth's
 * pods) and goes with the namespace.
 */
export function buildFunctionsNetworkPolicy(namespace: string, gatewayNamespace: string): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: FUNCTIONS_POLICY, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_COMPONENT]: FUNCTIONS_COMPONENT } },
    spec: {
      podSelector: { matchLabels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
      policyTypes: ['Ingress'],
      ingress: [gatewayIngress(gatewayNamespace)],
    },
  };
}

/** The one ingress rule of a function's or a warm pool's pods: gateway pods, on the agent's port. */
export function gatewayIngress(gatewayNamespace: string): NetworkPolicy['spec']['ingress'][number] {
  return {
    from: [
      {
        // Both selectors in one peer: gateway pods in the gateway's namespace, not any namespace's.
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': gatewayNamespace } },
        podSelector: { matchLabels: { [LABEL_COMPONENT]: GATEWAY_COMPONENT } },
      },
    ],
    ports: [{ protocol: 'TCP', port: AGENT_PORT }],
  };
}
