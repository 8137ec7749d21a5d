// The Deployment that runs a function's instances. Each pod holds the agent
// and then the function's runtime container. The agent is the first app
// container, with a postStart hook that returns once it listens: the kubelet
// starts a pod's app containers one after another in one sync, each only
// after the one before has run its postStart hook, so the runtime starts the
// moment the agent can take its Runtime API calls (a native sidecar's
// startup probe would hold it to the kubelet's next probe tick, up to a
// second later). When the pod is deleted, both containers' preStop hooks ask
// the agent to drain (GET /drain) and return once it is empty, so neither
// gets SIGTERM while a call is left in it. The pod meets the restricted Pod
// Security Standard.
import { layerEnv, packagePodParts, type PackagePodParts } from '../../packages/pod-spec.js';
import type { V1Container, V1Deployment, V1EnvVar, V1Lifecycle, V1PodSecurityContext, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { effectiveHandler, type EnvVar, type HearthFunction } from '../../api/function.js';
import { DRAIN_QUIET_MAX_MS } from '../../agent/quiet-period.js';
import { logFlags, logSettings, runtimeLogEnv } from '../../agent/log-format.js';
import { codeHash } from './configmap.js';
import { runtimeImage, type Images } from './images.js';
import {
  AGENT_PORT,
  AGENT_PORT_NAME,
  ANNOTATION_CODE_HASH,
  RUNTIME_API_PORT,
  TASK_ROOT,
  codeConfigMapName,
  desiredInstances,
  unitMeta,
  unitOf,
  type BuildInput,
  type UnitIdentity,
} from './names.js';
import { serviceAccountNameOf } from './serviceaccount.js';
import { DRAIN_PATH } from '../../agent/invoke-headers.js';

export interface DeploymentOptions {
  images: Images;
  /** The agent's environment: the controller's tracing variables (src/tracing/config.ts tracingEnv), so agents export where it does. */
  agentEnv?: V1EnvVar[];
}

/** Non-root numeric IDs: runAsNonRoot cannot be checked against an image's named user. */
export const RUN_AS = 65_532;
/** Lambda's default /tmp size, for a spec that predates ephemeralStorageMB. */
const TMP_SIZE_MB = 512;
/**
 * Beyond the drain itself: the quiet the agent waits for once empty (at most
 * DRAIN_QUIET_MAX_MS), the hook's round trip, the runtime's and the agent's
 * own exits after it.
 */
const DRAIN_SLACK_SECONDS = Math.ceil(DRAIN_QUIET_MAX_MS / 1000) + 5;

/**
 * The grace a pod gets to leave: its agent's drain lets queued calls wait
 * one function timeout for the runtime (then hands the rest back to the
 * gateway as not delivered), and the last call handed over runs at most
 * one more.
 */
export function terminationGraceSeconds(timeoutSeconds: number): number {
  return 2 * timeoutSeconds + DRAIN_SLACK_SECONDS;
}

export const RUNTIME_CONTAINER = 'runtime';
export const AGENT_CONTAINER = 'agent';

export const restrictedContainer: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The pod-level half of the restricted Pod Security Standard, for function and warm-pool pods alike. */
export const restrictedPod: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS,
  runAsGroup: RUN_AS,
  fsGroup: RUN_AS,
  seccompProfile: { type: 'RuntimeDefault' },
};

/**
 * The runtime container's preStop hook (the agent's too): ask the agent to
 * drain and return once it is empty. The agent's port by number: the kubelet
 * resolves a hook's named port among this container's own ports only, and
 * the agent's are its own. The pod shares one network namespace, so the
 * number reaches it.
 */
export const drainLifecycle: V1Lifecycle = { preStop: { httpGet: { path: DRAIN_PATH, port: AGENT_PORT } } };

export function functionEnv(env: readonly EnvVar[] | undefined): V1EnvVar[] {
  return (env ?? []).map((e): V1EnvVar => {
    const secret = e.valueFrom?.secretKeyRef;
    const configMap = e.valueFrom?.configMapKeyRef;
    if (secret !== undefined) return { name: e.name, valueFrom: { secretKeyRef: { ...secret } } };
    if (configMap !== undefined) return { name: e.name, valueFrom: { configMapKeyRef: { ...configMap } } };
    return { name: e.name, value: e.value ?? '' };
  });
}

function lambdaEnv(fn: HearthFunction, unit: Pick<UnitIdentity, 'functionName' | 'version'>): V1EnvVar[] {
  const { spec } = fn;
  return [
    { name: 'AWS_LAMBDA_RUNTIME_API', value: `127.0.0.1:${RUNTIME_API_PORT}` },
    { name: '_HANDLER', value: effectiveHandler(spec) },
    { name: 'LAMBDA_TASK_ROOT', value: TASK_ROOT },
    { name: 'AWS_LAMBDA_FUNCTION_NAME', value: unit.functionName },
    { name: 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', value: String(spec.memoryMB) },
    { name: 'AWS_LAMBDA_FUNCTION_VERSION', value: unit.version },
    { name: 'AWS_LAMBDA_MAX_CONCURRENCY', value: String(spec.concurrency) },
    // spec.logging in JSON: AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL, as Lambda sets them (none in Text).
    ...Object.entries(runtimeLogEnv(logSettings(spec.logging))).map(([name, value]) => ({ name, value })),
    // Only when the function names one: pods of functions without it keep the env they had.
    ...(spec.logging?.logGroup !== undefined ? [{ name: 'AWS_LAMBDA_LOG_GROUP_NAME', value: spec.logging.logGroup }] : []),
  ];
}

/** The volume holding the code at the task root; none for an image, whose code is in the image. */
function codeVolume(fn: HearthFunction, unit: UnitIdentity): V1Volume | undefined {
  const { code } = fn.spec;
  if (code.inline !== undefined) return { name: 'code', configMap: { name: codeConfigMapName(unit.objectName), defaultMode: 0o444 } };
  if (code.configMap !== undefined) return { name: 'code', configMap: { name: code.configMap.name, defaultMode: 0o444 } };
  return undefined;
}

/** The agent's logging flags: in JSON the settings and the version (for platform.start); a Text function's args stay as they were. */
function agentLogFlags(fn: HearthFunction, unit: UnitIdentity): string[] {
  const flags = logFlags(logSettings(fn.spec.logging));
  return flags.length > 0 ? [...flags, '--function-version', unit.version] : [];
}

function functionAgent(fn: HearthFunction, unit: UnitIdentity, images: Images, env?: V1EnvVar[]): V1Container {
  return agentContainer(
    images,
    [
      'agent',
      '--listen', `0.0.0.0:${AGENT_PORT}`,
      '--runtime-api', `127.0.0.1:${RUNTIME_API_PORT}`,
      '--function-name', unit.functionName,
      '--memory', String(fn.spec.memoryMB),
      '--timeout', String(fn.spec.timeoutSeconds),
      '--concurrency', String(fn.spec.concurrency),
      ...agentLogFlags(fn, unit),
    ],
    [{ name: 'agent-tmp', mountPath: '/tmp' }],
    env,
  );
}

/** How long the agent's postStart hook waits for it to listen before the kubelet kills and restarts it. */
export const AGENT_LISTEN_WAIT_SECONDS = 30;

/**
 * The agent's postStart hook: waits in the agent container (bash, as the
 * image has) until the agent accepts connections on its port, which it opens
 * after the Runtime API's. The kubelet starts the runtime container only once
 * this returns; a hook that fails (the agent never listened) has the kubelet
 * kill the agent container and start it again, as a failed startup probe did.
 */
export function agentListeningScript(port = AGENT_PORT, waitSeconds = AGENT_LISTEN_WAIT_SECONDS): string {
  const tries = Math.ceil((waitSeconds * 1000) / 20);
  return `for ((i = 0; i < ${tries}; i++)); do (: >/dev/tcp/127.0.0.1/${port}) 2>/dev/null && exit 0; sleep 0.02; done; exit 1`;
}

/** The agent container, first in the pod; a function pod's and a warm-pool pod's (resources/pool.ts) differ only in args and mounts. */
export function agentContainer(images: Images, args: string[], volumeMounts: V1VolumeMount[], env?: V1EnvVar[]): V1Container {
  const probe = (path: string) => ({ httpGet: { path, port: AGENT_PORT_NAME }, periodSeconds: 5, timeoutSeconds: 2 });
  return {
    name: AGENT_CONTAINER,
    image: images.agent,
    args,
    // Only when there is some: a pod template without tracing stays as it was, and rolls no pods.
    ...(env !== undefined && env.length > 0 ? { env } : {}),
    ports: [{ name: AGENT_PORT_NAME, containerPort: AGENT_PORT, protocol: 'TCP' }],
    // postStart holds the runtime's start until the agent listens; preStop keeps the agent until it is empty.
    lifecycle: { postStart: { exec: { command: ['bash', '-c', agentListeningScript()] } }, ...drainLifecycle },
    livenessProbe: probe('/healthz'),
    // Ready only once the runtime has finished init and asked for an event.
    readinessProbe: { ...probe('/readyz'), periodSeconds: 1 },
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    securityContext: restrictedContainer,
    volumeMounts,
  };
}

/**
 * The runtime's environment: the function's variables, its layers' paths,
 * then Lambda's own (last, so they win over the function's, which may not
 * name them anyway). A claimed warm-pool pod's runtime is given the same
 * (src/pools/specialization.ts), so it sees what a Deployment's would.
 */
export function runtimeEnv(fn: HearthFunction, unit: Pick<UnitIdentity, 'functionName' | 'version'>): V1EnvVar[] {
  return [...functionEnv(fn.spec.env), ...layerEnv(fn), ...lambdaEnv(fn, unit)];
}

function runtimeContainer(fn: HearthFunction, unit: UnitIdentity, image: string, packages: PackagePodParts | undefined): V1Container {
  const volume = codeVolume(fn, unit);
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }, ...(packages?.runtimeMounts ?? [])];
  if (volume !== undefined) mounts.unshift({ name: volume.name, mountPath: TASK_ROOT, readOnly: true });
  const memory = `${fn.spec.memoryMB}Mi`;
  return {
    name: RUNTIME_CONTAINER,
    image,
    env: runtimeEnv(fn, unit),
    ...(volume !== undefined ? { workingDir: TASK_ROOT } : {}),
    resources: { requests: { memory }, limits: { memory } },
    securityContext: restrictedContainer,
    volumeMounts: mounts,
    lifecycle: drainLifecycle,
  };
}

/** Throws only for specs the caller has already refused (see unsupportedReason). */
export function buildDeployment(input: BuildInput, opts: DeploymentOptions): V1Deployment {
  const { fn } = input;
  const unit = unitOf(input);
  const image = runtimeImage(fn.spec, opts.images);
  if (image === undefined) throw new Error(`function ${unit.functionName}: no image can run runtime ${fn.spec.runtime} with this code source`);
  const volume = codeVolume(fn, unit);
  const volumes: V1Volume[] = [
    // The kubelet evicts a pod whose emptyDir outgrows its sizeLimit: /tmp is ephemeralStorageMB, as on Lambda.
    { name: 'tmp', emptyDir: { sizeLimit: `${fn.spec.ephemeralStorageMB ?? TMP_SIZE_MB}Mi` } },
    { name: 'agent-tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  if (volume !== undefined) volumes.unshift(volume);
  // ZIP packages and layers are unpacked by init containers into emptyDirs at /var/task and /opt.
  const packages = packagePodParts(fn, { image: opts.images.agent, securityContext: restrictedContainer });
  if (packages !== undefined) volumes.push(...packages.volumes);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: unitMeta(unit),
    spec: {
      replicas: desiredInstances(fn),
      selector: { matchLabels: { ...unit.selector } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: {
        metadata: { labels: { ...unit.labels }, annotations: { [ANNOTATION_CODE_HASH]: codeHash(fn.spec.code) } },
        spec: {
          serviceAccountName: serviceAccountNameOf(input),
          // The agent kills a runtime that overruns its deadline, so it must see its processes.
          shareProcessNamespace: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: terminationGraceSeconds(fn.spec.timeoutSeconds),
          securityContext: restrictedPod,
          ...(packages === undefined ? {} : { initContainers: packages.initContainers }),
          // The agent first: the kubelet starts the runtime only after the agent's postStart hook returned.
          containers: [functionAgent(fn, unit, opts.images, opts.agentEnv), runtimeContainer(fn, unit, image, packages)],
          volumes,
        },
      },
    },
  };
}
