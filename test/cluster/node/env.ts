// A container's environment and argv as the kubelet builds them: image ENV,
// the kubernetes Service variables, envFrom, then env (valueFrom included),
// with $(VAR) references expanded in env values, command and args.
import type { V1Container } from '@kubernetes/client-node';
import { fieldValue, type PodFacts } from './downward.js';
import type { ImageEntry } from './images.js';
import type { VolumeBuilder } from './volumes.js';
import { parseQuantity } from '../../../src/sandbox/memory-cgroup.js';

/** A reference the container cannot have: kubelet reports CreateContainerConfigError. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const MACHINE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Kubernetes' expansion: $(NAME) from vars, $$( escapes, unknown references stay literal. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (all === '$$') return '$';
    return name !== undefined && Object.hasOwn(vars, name) ? (vars[name] ?? '') : all;
  });
}

export interface ServiceEnv {
  kubernetesServiceHost: string;
  kubernetesServicePort: number;
}

export async function containerEnv(c: V1Container, image: ImageEntry, facts: PodFacts, volumes: VolumeBuilder, svc: ServiceEnv): Promise<Record<string, string>> {
  const env: Record<string, string> = { PATH: MACHINE_PATH, HOSTNAME: facts.pod.metadata?.name ?? '', ...image.env };
  // Always injected, even with enableServiceLinks: false, so in-cluster clients find the API.
  const { kubernetesServiceHost: host, kubernetesServicePort: port } = svc;
  Object.assign(env, {
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: `tcp://${host}:${port}`,
    KUBERNETES_PORT_443_TCP: `tcp://${host}:${port}`,
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: String(port),
    KUBERNETES_PORT_443_TCP_ADDR: host,
  });
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef !== undefined) {
      const data = await volumes.configMapData(from.configMapRef.name ?? '', from.configMapRef.optional ?? false).catch((e: unknown) => {
        throw new ConfigError(e instanceof Error ? e.message : String(e));
      });
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v.toString();
    }
    if (from.secretRef !== undefined) {
      const data = await volumes.secretData(from.secretRef.name ?? '', from.secretRef.optional ?? false).catch((e: unknown) => {
        throw new ConfigError(e instanceof Error ? e.message : String(e));
      });
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v.toString();
    }
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (vf === undefined) {
      env[e.name] = expand(e.value ?? '', env);
    } else if (vf.fieldRef !== undefined) {
      env[e.name] = fieldValue(facts, vf.fieldRef);
    } else if (vf.secretKeyRef !== undefined) {
      const ref = vf.secretKeyRef;
      const data = await volumes.secretData(ref.name ?? '', ref.optional ?? false).catch((err: unknown) => {
        throw new ConfigError(err instanceof Error ? err.message : String(err));
      });
      const v = data?.[ref.key];
      if (v === undefined && !(ref.optional ?? false)) throw new ConfigError(`couldn't find key ${ref.key} in Secret ${facts.pod.metadata?.namespace ?? ''}/${ref.name ?? ''}`);
      if (v !== undefined) env[e.name] = v.toString();
    } else if (vf.configMapKeyRef !== undefined) {
      const ref = vf.configMapKeyRef;
      const data = await volumes.configMapData(ref.name ?? '', ref.optional ?? false).catch((err: unknown) => {
        throw new ConfigError(err instanceof Error ? err.message : String(err));
      });
      const v = data?.[ref.key];
      if (v === undefined && !(ref.optional ?? false)) throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${facts.pod.metadata?.namespace ?? ''}/${ref.name ?? ''}`);
      if (v !== undefined) env[e.name] = v.toString();
    } else if (vf.resourceFieldRef !== undefined) {
      const r = vf.resourceFieldRef.resource;
      const [kind, res] = r.split('.') as ['limits' | 'requests', string];
      const q = c.resources?.[kind]?.[res];
      const n = parseQuantity(q as string | undefined);
      env[e.name] = n === undefined ? '0' : String(n);
    }
  }
  return env;
}

/**
 * HOME as runc sets it when neither the image nor the pod gave one: the
 * user's home in the container's /etc/passwd (here the machine's, which is
 * the containers' root), else "/". Without it a program asking for its home
 * directory (Node's os.homedir(), Python's expanduser) fails in a pod here
 * where it works on a real node. Pure.
 */
export function runcHome(uid: number, passwd: string): string {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length >= 7 && f[2] === String(uid) && (f[5] ?? '') !== '') return f[5] ?? '/';
  }
  return '/';
}

/** command overrides ENTRYPOINT; args overrides CMD; a command without args drops CMD. */
export function containerArgv(c: V1Container, image: ImageEntry, env: Record<string, string>): string[] {
  const entrypoint = c.command ?? image.entrypoint;
  const args = c.args ?? (c.command === undefined ? image.cmd : []);
  return [...entrypoint, ...args].map((w) => expand(w, env));
}
