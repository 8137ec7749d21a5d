// What the embedded platform refuses when its queue lives in memory. A
// destination stream there would be written and never readable: nothing
// outside the process can reach it and it vanishes with the process. So a
// Function naming one is not loaded, with the reason, instead of dropping its
// records silently. Pure.
import type { HearthFunction } from '../api/function.js';
import type { Problem } from '../api/validate.js';

export function memoryQueueProblems(fn: HearthFunction): Problem[] {
  const problems: Problem[] = [];
  for (const which of ['onSuccess', 'onFailure'] as const) {
    if (fn.spec.async?.[which]?.stream === undefined) continue;
    problems.push({
      path: `spec.async.${which}.stream`,
      message:
        'needs Redis: with the in-memory queue a destination stream would be written but never readable. ' +
        'Start hearth up with --redis-url (or REDIS_URL), or use a function or url destination.',
    });
  }
  return problems;
}
