// Which functions a caller may touch, written as in the credentials file:
// an exact name, a prefix ending in `*`, or `*` for every function. Pure.

export type FunctionPattern = string;

const PATTERN = /^(\*|[a-zA-Z0-9-_]{1,64}\*?)$/;

/** Whether a pattern is well formed: a name, `prefix*` or `*`. */
export function isValidPattern(p: string): boolean {
  return PATTERN.test(p);
}

export function matchesPattern(pattern: FunctionPattern, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

export function allowsFunction(patterns: readonly FunctionPattern[], name: string): boolean {
  return patterns.some((p) => matchesPattern(p, name));
}
