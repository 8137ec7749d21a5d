// The objects of a warm pool: a Deployment of generic pods of one runtime
// family that hold no function yet, the ServiceAccount they run as and the
// NetworkPolicy that lets only the gateway reach them. A pool pod is a
// function pod before its function is known: the agent first (in pool
// mode, waiting for a gateway's specialisation), the runtime's
// interpreter started and blocked reading its one line of configuration
// from a FIFO, empty task root and /opt the agent fills on the claim. The
// same restricted security context as a function pod, no token, no
// function environment. Pure builders; the pool reconciler applies them.
import type { V1Container, V1Deployment, V1EnvVar, V1ServiceAccount, V1Volume } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/function.js';
import { POOL_KIND, type PoolRuntime, type WarmPoolSpec } from '../../api/warm-pool.js';
import { LABEL_POOL_RUNTIME, poolPodLabels, poolSelector } from '../../pools/labels.js';
import { agentContainer, drainLifecycle, restrictedContainer, restrictedPod, RUNTIME_CONTAINER, terminationGraceSeconds } from './deployment.js';
import type { Images } from './images.js';
import { AGENT_PORT, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, RUNTIME_API_PORT, TASK_ROOT, type ObjectMeta, type OwnerReference } from './names.js';
import { gatewayIngress, type NetworkPolicy } from './networkpolicy.js';
import { POOL_FIFO, POOL_OPT_DIR, POOL_SPECIALIZE_DIR, poolRuntimeEnv, poolRuntimeScript } from '../../agent/pool-paths.js';

/**
 * The runtime container's entrypoint, before the image's own command ("$@"):
 * the agent's (src/agent/pool-paths.ts), where the agent and the runtime
 * meet. Opening the FIFO read-write never blocks, so the interpreter starts,
 * imports its runtime client and then blocks reading its one line; a
 * runtime container restarted after the claim reads the saved line instead.
 */
export const POOL_RUNTIME_SCRIPT = poolRuntimeScript(POOL_SPECIALIZE_DIR);
export { POOL_FIFO, POOL_OPT_DIR, POOL_SPECIALIZE_DIR };

/** A claimed pod may hold a call of up to Lambda's longest timeout; an idle one exits at once on SIGTERM. */
export const POOL_MAX_TIMEOUT_SECONDS = 900;

/** The interpreter each family's image runs (its CMD), started ahead of any function. */
export const POOL_IMAGE_COMMAND: Record<PoolRuntime, readonly string[]> = {
  python: ['python3', '/var/runtime/bootstrap.py'],
  nodejs: ['node', '/var/runtime/bootstrap.mjs'],
};

/** A WarmPool as the reconciler knows it: its server identity and its validated spec (defaults filled in). */
export interface PoolInput {
  name: string;
  namespace: string;
  uid: string;
  spec: WarmPoolSpec;
}

/** Name of the pool's Deployment, ServiceAccount and NetworkPolicy. */
export function poolObjectName(pool: string): string {
  return `pool-${pool}`;
}

export function poolOwnerReference(p: Pick<PoolInput, 'name' | 'uid'>): OwnerReference {
  return { apiVersion: API_VERSION, kind: POOL_KIND, name: p.name, uid: p.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * Labels of the pool's own objects. Not LABEL_POOL: that one marks idle
 * pods (the gateway lists claimable pods by it), and these are not pods.
 */
export function poolObjectLabels(p: Pick<PoolInput, 'name' | 'spec'>): Record<string, string> {
  return { [LABEL_NAME]: poolObjectName(p.name), [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_POOL_RUNTIME]: p.spec.runtime };
}

function poolMeta(p: PoolInput): ObjectMeta {
  return { name: poolObjectName(p.name), namespace: p.namespace, labels: poolObjectLabels(p), ownerReferences: [poolOwnerReference(p)] };
}

/** The pool pods' identity: no token, and no permission granted to it anywhere. */
export function buildPoolServiceAccount(p: PoolInput): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: poolMeta(p), automountServiceAccountToken: false };
}

/**
 * Only gateway pods, on the agent's port, as for a function's pods: the
 * gateway delivers a claimed pod's code over this port. It selects the
 * pool's idle pods; a claimed pod carries its unit's labels, and its
 * function's NetworkPolicy selects it from then on.
 */
export function buildPoolNetworkPolicy(p: PoolInput, gatewayNamespace: string): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: poolMeta(p),
    spec: { podSelector: { matchLabels: poolSelector(p.name) }, policyTypes: ['Ingress'], ingress: [gatewayIngress(gatewayNamespace)] },
  };
}

const MI = (n: number): string => `${n}Mi`;

function poolVolumes(spec: WarmPoolSpec): V1Volume[] {
  return [
    // The agent writes the claimed function's code and layers here; the runtime mounts both read-only.
    { name: 'task', emptyDir: { sizeLimit: MI(250) } },
    { name: 'opt', emptyDir: { sizeLimit: MI(250) } },
    { name: 'tmp', emptyDir: { sizeLimit: MI(spec.ephemeralStorageMB) } },
    { name: 'agent-tmp', emptyDir: { sizeLimit: MI(64) } },
    // The FIFO and the saved line: in memory, so the line (the function's environment) never reaches a disk.
    { name: 'specialize', emptyDir: { medium: 'Memory', sizeLimit: MI(1) } },
  ];
}

/**
 * A pool pod's agent unpacks the claimed function's package and layers
 * itself (a Deployment's pod has init containers for that): a ZIP of
 * Lambda's 50 MB limit, read and unpacked, takes a few times its size, so
 * its limit is above a function pod's agent's 128Mi; it requests no more.
 */
const POOL_AGENT_MEMORY_LIMIT = MI(512);

function poolAgent(images: Images, env?: V1EnvVar[]): V1Container {
  const agent = agentContainer(
    images,
    [
      'agent', '--pool',
      '--listen', `0.0.0.0:${AGENT_PORT}`,
      '--runtime-api', `127.0.0.1:${RUNTIME_API_PORT}`,
      '--task-root', TASK_ROOT,
      '--opt-dir', POOL_OPT_DIR,
      '--specialize-fifo', POOL_FIFO,
    ],
    [
      { name: 'task', mountPath: TASK_ROOT },
      { name: 'opt', mountPath: POOL_OPT_DIR },
      { name: 'specialize', mountPath: POOL_SPECIALIZE_DIR },
      { name: 'agent-tmp', mountPath: '/tmp' },
    ],
    env,
  );
  return { ...agent, resources: { ...agent.resources, limits: { ...agent.resources?.limits, memory: POOL_AGENT_MEMORY_LIMIT } } };
}

function poolRuntime(spec: WarmPoolSpec, images: Images): V1Container {
  const memory = MI(spec.memoryMB);
  return {
    name: RUNTIME_CONTAINER,
    image: images[spec.runtime],
    command: ['/bin/sh', '-c', POOL_RUNTIME_SCRIPT, 'pool-runtime', ...POOL_IMAGE_COMMAND[spec.runtime]],
    // Nothing of any function: the claim's line brings its environment (runtimes/README.md, warm-pool specialisation).
    env: Object.entries(poolRuntimeEnv(`127.0.0.1:${RUNTIME_API_PORT}`, { taskRoot: TASK_ROOT, optDir: POOL_OPT_DIR })).map(([name, value]) => ({ name, value })),
    workingDir: TASK_ROOT,
    resources: { requests: { memory }, limits: { memory } },
    securityContext: restrictedContainer,
    volumeMounts: [
      { name: 'task', mountPath: TASK_ROOT, readOnly: true },
      { name: 'opt', mountPath: POOL_OPT_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'specialize', mountPath: POOL_SPECIALIZE_DIR },
    ],
    lifecycle: drainLifecycle,
  };
}

/** The pool's pods, `replicas` of them idle (desiredPoolSize); a claimed pod leaves the Deployment by losing LABEL_POOL. */
export function buildPoolDeployment(p: PoolInput, opts: { images: Images; replicas: number; agentEnv?: V1EnvVar[] }): V1Deployment {
  const name = poolObjectName(p.name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: poolMeta(p),
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: poolSelector(p.name) },
      // A new template (new images) never leaves the pool empty while it rolls.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: {
        metadata: { labels: poolPodLabels(p.name, p.spec.runtime) },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: false,
          // The agent kills a runtime that overruns its deadline, so it must see its processes.
          shareProcessNamespace: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: terminationGraceSeconds(POOL_MAX_TIMEOUT_SECONDS),
          securityContext: restrictedPod,
          // The agent first, as in a function's pod (resources/deployment.ts).
          containers: [poolAgent(opts.images, opts.agentEnv), poolRuntime(p.spec, opts.images)],
          volumes: poolVolumes(p.spec),
        },
      },
    },
  };
}
