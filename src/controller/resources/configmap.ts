// The ConfigMap holding a function's inline code, one key per file, mounted
// read-only at the task root.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Code } from '../../api/function.js';
import { contentHash } from './hash.js';
import { codeConfigMapName, unitMeta, unitOf, type BuildInput } from './names.js';

/** Undefined when the code does not come inline (then no ConfigMap is owned). */
export function buildCodeConfigMap(input: BuildInput): V1ConfigMap | undefined {
  const files = input.fn.spec.code.inline;
  if (files === undefined) return undefined;
  const unit = unitOf(input);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: unitMeta(unit, codeConfigMapName(unit.objectName)),
    data: { ...files },
  };
}

/**
 * Identifies the code a pod runs. Only inline code and images are hashed by
 * content; a user's ConfigMap is hashed by name, so editing it does not roll
 * the function (as on Lambda, code changes go through the Function).
 */
export function codeHash(code: Code): string {
  if (code.inline !== undefined) return contentHash({ inline: code.inline });
  if (code.configMap !== undefined) return contentHash({ configMap: code.configMap.name });
  if (code.image !== undefined) return contentHash({ image: code.image });
  return contentHash({ package: code.package ?? null });
}
