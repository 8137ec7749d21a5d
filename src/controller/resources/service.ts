// The Service in front of a function's agents. The gateway never sends
// traffic through its ClusterIP: it reads the EndpointSlices the Service
// makes and picks an instance itself.
import type { V1Service } from '@kubernetes/client-node';
import { AGENT_PORT, AGENT_PORT_NAME, unitMeta, unitOf, type BuildInput } from './names.js';

export function buildService(input: BuildInput): V1Service {
  const unit = unitOf(input);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: unitMeta(unit),
    spec: {
      type: 'ClusterIP',
      selector: { ...unit.selector },
      ports: [{ name: AGENT_PORT_NAME, port: AGENT_PORT, targetPort: AGENT_PORT_NAME, protocol: 'TCP' }],
    },
  };
}
