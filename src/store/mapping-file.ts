// Writing an EventSourceMapping into the functions directory as a person
// would: a new mapping is a file of its own, an edit rewrites only the spec
// fields that changed (comments and the file's other documents stay), and a
// removal takes only its document (the file goes when nothing else is left).
// The same editing as function-file.ts's, for the other kind. Pure.
import { isMap, parseAllDocuments, stringify, type Document } from 'yaml';
import { API_VERSION } from '../api/function.js';
import { MAPPING_KIND, type EventSourceMappingSpecInput } from '../api/event-source-mapping.js';
import { assign, spliceDocument, type FunctionFileResult } from './function-file.js';

function locateMapping(text: string, name: string): { docs: Document.Parsed[]; at: number } {
  const parsed = parseAllDocuments(text);
  const docs = Array.isArray(parsed) ? parsed : [];
  const at = docs.findIndex((d) => {
    if (d.errors.length > 0) return false;
    const meta = d.get('metadata');
    return d.get('kind') === MAPPING_KIND && isMap(meta) && meta.get('name') === name;
  });
  return { docs, at };
}

/** A new file holding one EventSourceMapping: the spec exactly as given, without the schema's defaults. */
export function newMappingText(name: string, spec: EventSourceMappingSpecInput): string {
  return stringify({ apiVersion: API_VERSION, kind: MAPPING_KIND, metadata: { name }, spec });
}

/** The spec of mapping `name` as the file writes it; undefined if the file holds no well-formed mapping of that name. */
export function mappingSpecAsWritten(text: string, name: string): EventSourceMappingSpecInput | undefined {
  const { docs, at } = locateMapping(text, name);
  const js: unknown = docs[at]?.toJS();
  const spec = js !== null && typeof js === 'object' ? (js as Record<string, unknown>)['spec'] : undefined;
  return spec !== null && typeof spec === 'object' && !Array.isArray(spec) ? (spec as EventSourceMappingSpecInput) : undefined;
}

/** The text with the spec of mapping `name` made `spec`, field by field. */
export function editMappingSpecInText(text: string, name: string, spec: EventSourceMappingSpecInput): FunctionFileResult {
  const { docs, at } = locateMapping(text, name);
  const doc = docs[at];
  if (doc === undefined) return { ok: false, reason: `the file holds no well-formed EventSourceMapping named ${name}` };
  if (!isMap(doc.get('spec', true))) doc.set('spec', doc.createNode({}));
  assign(doc, ['spec'], JSON.parse(JSON.stringify(spec)) as unknown);
  return { ok: true, text: spliceDocument(text, doc, at) };
}

/** The text without mapping `name`'s document; `empty` when nothing else is left in the file. */
export function removeMappingFromText(text: string, name: string): FunctionFileResult & { empty?: boolean } {
  const { docs, at } = locateMapping(text, name);
  const doc = docs[at];
  if (doc === undefined) return { ok: false, reason: `the file holds no well-formed EventSourceMapping named ${name}` };
  const others = docs.filter((d, i) => i !== at && (d.errors.length > 0 || (d.contents !== null && d.toJS() !== null)));
  if (others.length === 0) return { ok: true, text: '', empty: true };
  const start = at === 0 ? 0 : doc.range[0];
  return { ok: true, text: text.slice(0, start) + text.slice(doc.range[2]) };
}
