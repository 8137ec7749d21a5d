// The Service in front of a function's agents. The gateway never sends
// traffic through it: it reads the EndpointSlices the Service makes and
// picks an instance itself. So the Service is headless (clusterIP: None):
// a virtual IP would be allocated (an IPAddress object per Service), and
// programmed into kube-proxy on every node, for no one. Creating a Service
// with a ClusterIP was the slowest write of a new Function (278 ms on
// average against 75 for its Deployment, in the 500-Function bench).
import type { V1Service } from '@kubernetes/client-node';
import { AGENT_PORT, AGENT_PORT_NAME, unitMeta, unitOf, type BuildInput } from './names.js';

/**
 * `existing`: the Service as the cluster has it. A Service made before they
 * were headless keeps its ClusterIP (the field is immutable: applying None
 * would be refused, and replacing the Service would empty the function's
 * EndpointSlices for a moment); leaving clusterIP out of the apply keeps it.
 */
export function buildService(input: BuildInput, existing?: { spec?: { clusterIP?: string } }): V1Service {
  const unit = unitOf(input);
  const allocated = existing?.spec?.clusterIP !== undefined && existing.spec.clusterIP !== 'None';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: unitMeta(unit),
    spec: {
      type: 'ClusterIP',
      ...(allocated ? {} : { clusterIP: 'None' }),
      selector: { ...unit.selector },
      ports: [{ name: AGENT_PORT_NAME, port: AGENT_PORT, targetPort: AGENT_PORT_NAME, protocol: 'TCP' }],
    },
  };
}
