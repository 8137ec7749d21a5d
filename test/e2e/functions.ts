// Functions the e2e suite deploys beside examples/: handlers that report the
// pod they ran in (the pod's hostname) and can be told to sleep.
import { stringify } from 'yaml';
import { NS, tool } from './cluster.js';

const HANDLER = `import socket, time

def lambda_handler(event, context):
    time.sleep(float(event.get('sleep', 0)))
    return {'host': socket.gethostname(), 'n': event.get('n')}
`;

export interface Scaling {
  minInstances: number;
  maxInstances: number;
  stableWindowSeconds?: number;
  scaleToZeroGracePeriodSeconds?: number;
}

export async function applyPythonFunction(name: string, scaling: Scaling, timeoutSeconds = 30): Promise<void> {
  const doc = {
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name, namespace: NS },
    spec: {
      runtime: 'python3.12',
      handler: 'lambda_function.lambda_handler',
      timeoutSeconds,
      scaling,
      code: { inline: { 'lambda_function.py': HANDLER } },
    },
  };
  await tool('kubectl', ['apply', '-f', '-'], stringify(doc));
}
