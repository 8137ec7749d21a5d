// Writing a Function's aliases back into the YAML file it came from, as a
// person would: only that document's spec.aliases changes, the rest of the
// file (comments, other documents, their formatting) stays byte for byte.
// The file is the source of truth for GitOps, so what `hearth alias` does
// shows in `git diff` as the lines one would have typed. Pure.
import { isMap, isSeq } from 'yaml';
import type { Alias } from '../api/function.js';
import { locateFunction, spliceDocument } from './function-file.js';

export type AliasFileEdit = { kind: 'put'; index: number; alias: Alias } | { kind: 'delete'; index: number };

export type AliasFileResult = { ok: true; text: string } | { ok: false; reason: string };

/** The alias as it is written: only what differs from the defaults. */
function aliasFields(alias: Alias): Array<[keyof Alias, unknown]> {
  const weights = alias.additionalVersionWeights;
  return [
    ['version', alias.version],
    ['additionalVersionWeights', weights !== undefined && Object.keys(weights).length > 0 ? weights : undefined],
    ['minInstances', alias.minInstances > 0 ? alias.minInstances : undefined],
    ['description', alias.description],
    // BUFFERED is what no url says.
    ['url', alias.url !== undefined && alias.url.invokeMode !== 'BUFFERED' ? alias.url : undefined],
  ];
}

/**
 * The text with the aliases of Function `name` edited: `put` rewrites the
 * fields of the alias at `index` (or appends it when index is past the
 * end), keeping comments on its lines and on the other aliases; `delete`
 * removes it, and spec.aliases with the last one.
 */
export function editAliasesInText(text: string, name: string, edit: AliasFileEdit): AliasFileResult {
  const { docs, at } = locateFunction(text, name);
  const doc = docs[at];
  if (doc === undefined) return { ok: false, reason: `the file holds no well-formed Function named ${name}` };
  const spec = doc.get('spec');
  if (!isMap(spec)) return { ok: false, reason: `Function ${name} has no spec mapping` };
  const seq = doc.getIn(['spec', 'aliases']);
  if (seq !== undefined && !isSeq(seq)) return { ok: false, reason: `spec.aliases of ${name} is not a list` };
  const count = seq?.items.length ?? 0;
  if (edit.kind === 'delete') {
    if (edit.index >= count) return { ok: false, reason: `spec.aliases[${edit.index}] of ${name} does not exist` };
    if (count === 1) doc.deleteIn(['spec', 'aliases']);
    else doc.deleteIn(['spec', 'aliases', edit.index]);
  } else if (edit.index >= count) {
    const node = doc.createNode(Object.fromEntries([['name', edit.alias.name], ...aliasFields(edit.alias).filter(([, v]) => v !== undefined)]));
    if (seq === undefined) doc.setIn(['spec', 'aliases'], doc.createNode([node]));
    else seq.items.push(node);
  } else {
    const path = ['spec', 'aliases', edit.index];
    const item = doc.getIn(path);
    if (!isMap(item) || item.get('name') !== edit.alias.name) return { ok: false, reason: `spec.aliases[${edit.index}] of ${name} is not the alias ${edit.alias.name}` };
    for (const [key, value] of aliasFields(edit.alias)) {
      if (value === undefined) doc.deleteIn([...path, key]);
      else if (item.get(key) !== value) doc.setIn([...path, key], doc.createNode(value));
    }
  }
  return { ok: true, text: spliceDocument(text, doc, at) };
}
