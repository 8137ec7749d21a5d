// The documents of a YAML file as `kubectl apply -f` takes them: Functions,
// the v1 ConfigMaps and Secrets they refer to, and EventSourceMappings, each
// validated by its kind. Any other kind is validated as a Function, which
// names what is wrong with it.
import { isConfigObjectDocument, validateConfigObject, type ConfigObject } from './config-objects.js';
import { EventSourceMappingSchema, MAPPING_KIND, type EventSourceMapping } from './event-source-mapping.js';
import type { HearthFunction } from './function.js';
import { nameOf, parseYamlDocuments, problemsOf, validateFunction, type Problem } from './validate.js';

export type ManifestResult = { index: number; name?: string; kind: string } & (
  | { ok: true; function: HearthFunction }
  | { ok: true; object: ConfigObject }
  | { ok: true; mapping: EventSourceMapping }
  | { ok: false; problems: Problem[] }
);

/** Parses and validates every document of a YAML text; never throws. */
export function validateManifests(text: string): ManifestResult[] {
  return parseYamlDocuments(text).map((d): ManifestResult => {
    if ('problems' in d) return { index: d.index, kind: 'document', ok: false, problems: d.problems };
    const name = nameOf(d.value);
    const base = { index: d.index, ...(name ? { name } : {}) };
    if (isConfigObjectDocument(d.value)) {
      const r = validateConfigObject(d.value);
      const kind = String((d.value as { kind: string }).kind);
      return r.ok ? { ...base, kind, ok: true, object: r.value } : { ...base, kind, ok: false, problems: r.problems };
    }
    if ((d.value as { kind?: unknown } | null)?.kind === MAPPING_KIND) {
      const m = EventSourceMappingSchema.safeParse(d.value);
      return m.success ? { ...base, kind: MAPPING_KIND, ok: true, mapping: m.data } : { ...base, kind: MAPPING_KIND, ok: false, problems: problemsOf(m.error) };
    }
    const r = validateFunction(d.value);
    return r.ok ? { ...base, kind: 'Function', ok: true, function: r.value } : { ...base, kind: 'Function', ok: false, problems: r.problems };
  });
}
