// Pod volumes as directories on the node, later bind-mounted into each
// container's own mount namespace: configMap, secret, emptyDir, downwardAPI
// and projected (service-account token from the TokenRequest API, the
// cluster CA from kube-root-ca.crt, the namespace). Ownership follows
// fsGroup, as the kubelet's volume ownership step does.
import type { V1ConfigMap, V1KeyToPath, V1Pod, V1Secret, V1Volume } from '@kubernetes/client-node';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fieldValue, type PodFacts } from './downward.js';
import type { KubeRest } from './kube-rest.js';

/** A volume the pod cannot have yet (missing ConfigMap or Secret): kubelet keeps retrying. */
export class VolumeNotReady extends Error {
  override name = 'VolumeNotReady';
}

interface FileSpec {
  path: string;
  content: Buffer;
  mode: number;
}

interface TokenResponse {
  status: { token: string; expirationTimestamp: string };
}

function pick(data: Record<string, Buffer>, items: V1KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean): FileSpec[] {
  if (items === undefined) return Object.entries(data).map(([k, v]) => ({ path: k, content: v, mode: defaultMode }));
  const out: FileSpec[] = [];
  for (const item of items) {
    const v = data[item.key];
    if (v === undefined) {
      if (optional) continue;
      throw new VolumeNotReady(`${what} has no key ${item.key}`);
    }
    out.push({ path: item.path, content: v, mode: item.mode ?? defaultMode });
  }
  return out;
}

export class VolumeBuilder {
  constructor(
    private readonly kube: KubeRest,
    private readonly facts: PodFacts,
  ) {}

  private get ns(): string {
    return this.facts.pod.metadata?.namespace ?? 'default';
  }

  async configMapData(name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
    const cm = await this.kube.getOrUndefined<V1ConfigMap>(`/api/v1/namespaces/${this.ns}/configmaps/${name}`);
    if (cm === undefined) {
      if (optional) return undefined;
      throw new VolumeNotReady(`configmap "${name}" not found`);
    }
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v);
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
    return out;
  }

  async secretData(name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
    const s = await this.kube.getOrUndefined<V1Secret>(`/api/v1/namespaces/${this.ns}/secrets/${name}`);
    if (s === undefined) {
      if (optional) return undefined;
      throw new VolumeNotReady(`secret "${name}" not found`);
    }
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64');
    for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = Buffer.from(v);
    return out;
  }

  private async token(audience: string | undefined, expirationSeconds: number | undefined): Promise<Buffer> {
    const pod = this.facts.pod;
    const sa = pod.spec?.serviceAccountName ?? 'default';
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: audience === undefined ? [] : [audience],
        expirationSeconds: expirationSeconds ?? 3607,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
      },
    };
    const res = await this.kube.call<TokenResponse>('POST', `/api/v1/namespaces/${this.ns}/serviceaccounts/${sa}/token`, body);
    return Buffer.from(res.status.token);
  }

  private downward(items: { path: string; fieldRef?: { fieldPath: string }; mode?: number }[], defaultMode: number): FileSpec[] {
    return items.flatMap((i) => (i.fieldRef === undefined ? [] : [{ path: i.path, content: Buffer.from(fieldValue(this.facts, { fieldPath: i.fieldRef.fieldPath })), mode: i.mode ?? defaultMode }]));
  }

  /** The files of one volume; undefined for a volume that is a plain directory (emptyDir). */
  async files(v: V1Volume): Promise<FileSpec[] | undefined> {
    if (v.emptyDir !== undefined) return undefined;
    if (v.configMap !== undefined) {
      const mode = v.configMap.defaultMode ?? 0o644;
      const data = await this.configMapData(v.configMap.name ?? '', v.configMap.optional ?? false);
      return data === undefined ? [] : pick(data, v.configMap.items, mode, `configmap ${v.configMap.name ?? ''}`, v.configMap.optional ?? false);
    }
    if (v.secret !== undefined) {
      const mode = v.secret.defaultMode ?? 0o644;
      const data = await this.secretData(v.secret.secretName ?? '', v.secret.optional ?? false);
      return data === undefined ? [] : pick(data, v.secret.items, mode, `secret ${v.secret.secretName ?? ''}`, v.secret.optional ?? false);
    }
    if (v.downwardAPI !== undefined) return this.downward(v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? 0o644);
    if (v.projected !== undefined) {
      const mode = v.projected.defaultMode ?? 0o644;
      const out: FileSpec[] = [];
      for (const src of v.projected.sources ?? []) {
        if (src.serviceAccountToken !== undefined) {
          out.push({ path: src.serviceAccountToken.path, content: await this.token(src.serviceAccountToken.audience, src.serviceAccountToken.expirationSeconds), mode });
        } else if (src.configMap !== undefined) {
          const data = await this.configMapData(src.configMap.name ?? '', src.configMap.optional ?? false);
          if (data !== undefined) out.push(...pick(data, src.configMap.items, mode, `configmap ${src.configMap.name ?? ''}`, src.configMap.optional ?? false));
        } else if (src.secret !== undefined) {
          const data = await this.secretData(src.secret.name ?? '', src.secret.optional ?? false);
          if (data !== undefined) out.push(...pick(data, src.secret.items, mode, `secret ${src.secret.name ?? ''}`, src.secret.optional ?? false));
        } else if (src.downwardAPI !== undefined) {
          out.push(...this.downward(src.downwardAPI.items ?? [], mode));
        }
      }
      return out;
    }
    throw new Error(`volume ${v.name}: unsupported volume type on the process node`);
  }
}

/** Who should be able to read a volume's files: the fsGroup, else the pod's user. */
function owner(pod: V1Pod): { uid: number; gid: number } | undefined {
  const sc = pod.spec?.securityContext;
  if (sc?.fsGroup !== undefined) return { uid: 0, gid: sc.fsGroup };
  if (sc?.runAsUser !== undefined) return { uid: sc.runAsUser, gid: sc.runAsGroup ?? 0 };
  return undefined;
}

/** Writes a volume under dir; returns the directory to bind-mount. */
export async function materialize(builder: VolumeBuilder, pod: V1Pod, v: V1Volume, dir: string): Promise<string> {
  const own = owner(pod);
  await mkdir(dir, { recursive: true });
  const files = await builder.files(v);
  if (files === undefined) {
    // emptyDir: world-writable like the kubelet's, so any runAsUser can use it.
    await chmod(dir, 0o1777);
    return dir;
  }
  await chmod(dir, 0o755);
  for (const f of files) {
    const target = join(dir, f.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    // With an fsGroup the group gets read access, as kubelet's SetVolumeOwnership does.
    const mode = own !== undefined && own.uid === 0 ? f.mode | 0o040 : f.mode;
    await writeFile(target, f.content, { mode });
    await chmod(target, mode);
    if (own !== undefined) await chown(target, own.uid, own.gid);
  }
  return dir;
}
