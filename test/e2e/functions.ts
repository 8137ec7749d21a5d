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

/** Applies a Python Function whose handler is `source` (lambda_function.lambda_handler), with the spec fields given. */
export async function applyPython(name: string, source: string, spec: Record<string, unknown>): Promise<void> {
  const doc = {
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name, namespace: NS },
    spec: { runtime: 'python3.12', handler: 'lambda_function.lambda_handler', code: { inline: { 'lambda_function.py': source } }, ...spec },
  };
  await tool('kubectl', ['apply', '-f', '-'], stringify(doc));
}

export function applyPythonFunction(name: string, scaling: Scaling, timeoutSeconds = 30): Promise<void> {
  return applyPython(name, HANDLER, { timeoutSeconds, scaling });
}

const TICK_HANDLER = `import json

def lambda_handler(event, context):
    print('TICK ' + json.dumps({'time': event.get('time'), 'type': event.get('detail-type')}), flush=True)
    return {}
`;

/** A function that prints each scheduled event's tick time to its runtime container's output. */
export function applyScheduledFunction(name: string, cron: string): Promise<void> {
  return applyPython(name, TICK_HANDLER, { scaling: { minInstances: 1, maxInstances: 1 }, schedules: [{ name: 'tick', cron }] });
}
