// Only the gateway may reach a function's pods, and only on the agent's port:
// a function is invoked through Hearth, never called directly by a neighbour.
import { AGENT_PORT, GATEWAY_COMPONENT, LABEL_COMPONENT, unitMeta, unitOf, type BuildInput, type ObjectMeta } from './names.js';

/**
 * The wire form, typed here because the client's model renames `from` to
 * `_from` and every object this controller handles is in wire form.
 */
export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: {
      from: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } }[];
      ports: { protocol: string; port: number }[];
    }[];
  };
}

export function buildNetworkPolicy(input: BuildInput, gatewayNamespace: string): NetworkPolicy {
  const unit = unitOf(input);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: unitMeta(unit),
    spec: {
      podSelector: { matchLabels: { ...unit.selector } },
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
