// The Python function the churn suite and the churn benchmark call: its
// answer names its code version and its env, so a caller can tell the old
// code's body from the new one's. Written by hand (not stringified) so a
// suite can cut the file where it means to, as a half-written save would.

export const CHURN_FN = 'churn';
export const CHURN_INVOKE = `/2015-03-31/functions/${CHURN_FN}/invocations`;

/**
 * One instance takes 8 steady clients (concurrency 10, aimed at fully), so
 * extra slow calls are what scale it out, and back in after a 6 s window.
 */
export function churnYaml(version: string, greeting: string): string {
  return `apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: ${CHURN_FN}
spec:
  runtime: python3.12
  handler: app.handler
  timeoutSeconds: 30
  concurrency: 10
  env:
    - name: GREETING
      value: ${greeting}
  scaling:
    maxInstances: 4
    targetConcurrency: 10
    targetUtilizationPercent: 100
    stableWindowSeconds: 6
  code:
    inline:
      app.py: |
        import os, time
        def handler(event, context):
            time.sleep(float(event.get('sleep', 0)))
            return {'version': '${version}', 'greeting': os.environ.get('GREETING')}
`;
}

/** The version and greeting of an answer, or why it is not one of this function's. */
export function churnAnswer(body: string): { version: string; greeting: string } | { error: string } {
  try {
    const v = JSON.parse(body) as { version?: unknown; greeting?: unknown; errorType?: unknown };
    if (typeof v.errorType === 'string') return { error: `function error ${v.errorType}` };
    if (typeof v.version !== 'string' || typeof v.greeting !== 'string') return { error: 'not the churn function\'s answer' };
    return { version: v.version, greeting: v.greeting };
  } catch {
    return { error: 'not JSON' };
  }
}
