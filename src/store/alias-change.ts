// The checks and list edits behind FunctionStore.putAlias and deleteAlias,
// whichever home the aliases live in (the Function's YAML file, or its
// object in the cluster). Pure: given the function, the versions that exist
// and the request, the new alias list or a StoreError whose problems name
// the fields as they would sit in the Function (spec.aliases[i]...).
import { AliasSchema, LATEST, type Alias, type AliasInput, type HearthFunction } from '../api/function.js';
import { describeProblems, problemsOf, type Problem } from '../api/validate.js';
import { aliasProblems, sendsTo } from '../versions/alias-problems.js';
import { StoreError } from './function-store.js';

/** Lambda's and the schema's cap on a function's aliases. */
export const MAX_ALIASES = 100;

export type AliasMode = 'create' | 'update' | 'put';

export interface AliasChange {
  /** The function's aliases after the change. */
  aliases: Alias[];
  /** Where the changed alias sits in them. */
  index: number;
  alias: Alias;
  /** Whether the alias existed before (update) or is new (create). */
  existed: boolean;
}

function prefixed(index: number, problems: readonly Problem[]): Problem[] {
  return problems.map((p) => ({ path: `spec.aliases[${index}]${p.path === '' ? '' : p.path.startsWith('[') ? p.path : `.${p.path}`}`, message: p.message }));
}

/**
 * The function's aliases with `input` created, replaced or written either
 * way, checked against the schema (weights 0 to 1, at most one additional
 * version, no name that is a number or $LATEST) and against the versions
 * that exist.
 */
export function changeAlias(fn: HearthFunction, published: ReadonlySet<string>, input: AliasInput, mode: AliasMode): AliasChange {
  const name = fn.metadata.name;
  const current = fn.spec.aliases ?? [];
  const at = current.findIndex((a) => a.name === input.name);
  if (mode === 'create' && at >= 0) throw new StoreError('conflict', `Alias already exists: ${name}:${input.name}`);
  if (mode === 'update' && at < 0) throw new StoreError('not-found', `Alias not found: ${name}:${String(input.name)}`);
  const index = at >= 0 ? at : current.length;
  if (at < 0 && current.length >= MAX_ALIASES) {
    throw new StoreError('invalid', `${name} has ${MAX_ALIASES} aliases, the most a function may have`, [{ path: 'spec.aliases', message: `may hold at most ${MAX_ALIASES} aliases` }]);
  }
  const parsed = AliasSchema.safeParse(input);
  if (!parsed.success) {
    const problems = prefixed(index, problemsOf(parsed.error));
    throw new StoreError('invalid', describeProblems(problems), problems);
  }
  const alias = parsed.data;
  const aliases = [...current];
  aliases[index] = alias;
  // Only the alias being written is held to the versions that exist: another one already broken (a file edited by hand) is reported where it is loaded, not here.
  const missing = aliasProblems({ ...fn, spec: { ...fn.spec, aliases } }, published).filter((p) => p.path.startsWith(`spec.aliases[${index}].`));
  if (missing.length > 0) throw new StoreError('invalid', describeProblems(missing), missing);
  return { aliases, index, alias, existed: at >= 0 };
}

/** The function's aliases without `aliasName`; not-found when it has no such alias. */
export function removeAlias(fn: HearthFunction, aliasName: string): { aliases: Alias[]; index: number } {
  const current = fn.spec.aliases ?? [];
  const index = current.findIndex((a) => a.name === aliasName);
  if (index < 0) throw new StoreError('not-found', `Alias not found: ${fn.metadata.name}:${aliasName}`);
  return { aliases: current.filter((_, i) => i !== index), index };
}

/** The aliases that send calls to `version` (so it may not be deleted). */
export function aliasesUsing(fn: HearthFunction | undefined, version: string): string[] {
  if (version === LATEST) return [];
  return (fn?.spec.aliases ?? []).filter((a) => sendsTo(a, version)).map((a) => a.name);
}
