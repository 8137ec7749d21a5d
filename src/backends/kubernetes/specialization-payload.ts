// What a claimed pool pod is given: the function's code and configuration,
// as the wire form the agent checks (src/pools/specialization.ts). The pod
// sees what a pod of the unit's Deployment would: the same runtime env
// (runtimeEnv), the same files at the task root (inline code, or a code
// ConfigMap's keys, as its ConfigMap volume would show them) and the same
// packages unpacked into /var/task and /opt (as its `hearth unpack` init
// containers would). A pool pod may not read ConfigMaps itself, so their
// contents travel in the body; a URL is fetched by the agent. Pure: the
// backend reads the ConfigMaps configMapsOf names first.
import type { HearthFunction, PackageSource } from '../../api/function.js';
import { runtimeEnv } from '../../controller/resources/deployment.js';
import { logSettings } from '../../agent/log-format.js';
import type { Archive, Specialization } from '../../pools/specialization.js';
import { splitUnitKey } from '../../versions/units.js';

/** The parts of a v1 ConfigMap read here, in wire form (binaryData values are base64). */
export interface ConfigMapData {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** A function whose pod could not start either (a ConfigMap or key missing): the caller falls back to the Deployment, which reports it. */
export class SpecializationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecializationInputError';
  }
}

/** The ConfigMaps the specialisation of this spec reads: its code's, its package's and its layers'. */
export function configMapsOf(fn: HearthFunction): string[] {
  const { code, layers } = fn.spec;
  const names = [code.configMap?.name, code.package?.configMap?.name, ...(layers ?? []).map((l) => l.configMap?.name)];
  return [...new Set(names.filter((n): n is string => n !== undefined))];
}

const base64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/**
 * The specialisation of unit `unit` (NAME or NAME:N) running `fn`. `configMaps`
 * holds the ConfigMaps configMapsOf names, undefined for one that does not exist.
 */
export function buildSpecialization(fn: HearthFunction, unit: string, configMaps: ReadonlyMap<string, ConfigMapData | undefined>): Specialization {
  const { spec } = fn;
  const { name, version } = splitUnitKey(unit);
  const env: Record<string, string> = {};
  for (const e of runtimeEnv(fn, { functionName: name, version })) {
    // poolFor refuses functions with valueFrom: a pool never carries values Kubernetes would resolve.
    if (e.valueFrom !== undefined) throw new SpecializationInputError(`variable ${e.name} is not a literal value`);
    env[e.name] = e.value ?? '';
  }
  const out: Specialization = {
    unit,
    functionName: name,
    version,
    memoryMB: spec.memoryMB,
    timeoutSeconds: spec.timeoutSeconds,
    concurrency: spec.concurrency,
    env,
  };
  const logging = logSettings(spec.logging);
  if (logging.format === 'JSON') out.logging = logging;
  const files = codeFiles(fn, configMaps);
  if (files !== undefined) out.files = files;
  const archives: Archive[] = [];
  const pkg = spec.code.package;
  if (pkg !== undefined) pushArchive(archives, 'task', pkg, configMaps, 'the code package');
  (spec.layers ?? []).forEach((l, i) => pushArchive(archives, 'opt', l, configMaps, `layer ${i}`));
  if (archives.length > 0) out.archives = archives;
  return out;
}

function codeFiles(fn: HearthFunction, configMaps: ReadonlyMap<string, ConfigMapData | undefined>): Record<string, string> | undefined {
  const { code } = fn.spec;
  if (code.inline !== undefined) return Object.fromEntries(Object.entries(code.inline).map(([f, text]) => [f, base64(text)]));
  if (code.configMap === undefined) return undefined;
  const cm = configMaps.get(code.configMap.name);
  // A pod mounting a missing ConfigMap volume never starts; neither does this.
  if (cm === undefined) throw new SpecializationInputError(`code ConfigMap ${code.configMap.name} not found`);
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) files[k] = base64(v);
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) files[k] = v;
  return files;
}

function pushArchive(out: Archive[], into: Archive['into'], src: PackageSource, configMaps: ReadonlyMap<string, ConfigMapData | undefined>, what: string): void {
  const sha = src.sha256 !== undefined ? { sha256: src.sha256 } : {};
  if (src.url !== undefined) {
    out.push({ into, url: src.url, ...sha });
    return;
  }
  if (src.configMap !== undefined) {
    const { name, key, optional } = src.configMap;
    const cm = configMaps.get(name);
    const binary = cm?.binaryData?.[key];
    const text = cm?.data?.[key];
    const zipBase64 = binary ?? (text !== undefined ? base64(text) : undefined);
    if (zipBase64 === undefined) {
      // `hearth unpack --skip-missing` skips an optional source that is not there; so does this.
      if (optional === true) return;
      throw new SpecializationInputError(`${what}: ConfigMap ${name} ${cm === undefined ? 'not found' : `has no key ${key}`}`);
    }
    out.push({ into, zipBase64, ...sha });
    return;
  }
  throw new SpecializationInputError(`${what}: a local path cannot be used in a cluster`);
}
