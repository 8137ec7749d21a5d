// Checks that need more than one object: an alias must point to versions
// that exist. Field paths as everywhere else, so a user finds the line.
import type { Problem } from '../api/validate.js';
import { LATEST, type Alias, type HearthFunction } from '../api/function.js';

export function aliasProblems(fn: HearthFunction, published: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  (fn.spec.aliases ?? []).forEach((a, i) => {
    if (a.version !== LATEST && !published.has(a.version)) problems.push({ path: `spec.aliases[${i}].version`, message: `version ${a.version} does not exist` });
    for (const v of Object.keys(a.additionalVersionWeights ?? {})) {
      if (!published.has(v)) problems.push({ path: `spec.aliases[${i}].additionalVersionWeights["${v}"]`, message: `version ${v} does not exist` });
    }
  });
  return problems;
}

/** Whether the alias sends any of its calls to `version` (its own, or its additional one). */
export function sendsTo(alias: Pick<Alias, 'version' | 'additionalVersionWeights'>, version: string): boolean {
  return alias.version === version || alias.additionalVersionWeights?.[version] !== undefined;
}

/** The versions some alias points to: they are kept past the retention count. */
export function referencedVersions(fn: HearthFunction): Set<string> {
  const out = new Set<string>();
  for (const a of fn.spec.aliases ?? []) {
    out.add(a.version);
    for (const v of Object.keys(a.additionalVersionWeights ?? {})) out.add(v);
  }
  return out;
}

/** The aliases in short, for the Function's printer column and `hearth ls --versions`: live=2 canary=3+4@10%. */
export function aliasSummary(fn: { spec: { aliases?: readonly Pick<Alias, 'name' | 'version' | 'additionalVersionWeights'>[] | undefined } }): string | undefined {
  const parts = (fn.spec.aliases ?? []).map((a) => {
    const [extra, w] = Object.entries(a.additionalVersionWeights ?? {})[0] ?? [];
    return extra === undefined ? `${a.name}=${a.version}` : `${a.name}=${a.version}+${extra}@${Math.round((w ?? 0) * 1000) / 10}%`;
  });
  return parts.length > 0 ? parts.join(' ') : undefined;
}
