// GetAccountSettings: Hearth's limits and what this gateway's functions use.
// Lambda's account-wide total code storage has no Hearth counterpart and is
// left out; the concurrency limit is the gateway's --max-concurrent-invocations
// when it has one. Pure.
import { inlineCodeBytes, type FunctionSpec } from '../api/function.js';
import { LAMBDA_LIMITS } from '../packages/limits.js';

export function accountSettings(specs: readonly Pick<FunctionSpec, 'code' | 'reservedConcurrency'>[], maxConcurrentInvocations: number | undefined): Record<string, unknown> {
  const reserved = specs.reduce((n, s) => n + (s.reservedConcurrency ?? 0), 0);
  const codeBytes = specs.reduce((n, s) => n + (s.code.inline !== undefined ? inlineCodeBytes(s.code.inline) : 0), 0);
  return {
    AccountLimit: {
      CodeSizeUnzipped: LAMBDA_LIMITS.unzippedBytes,
      CodeSizeZipped: LAMBDA_LIMITS.zippedBytes,
      ...(maxConcurrentInvocations !== undefined
        ? { ConcurrentExecutions: maxConcurrentInvocations, UnreservedConcurrentExecutions: Math.max(0, maxConcurrentInvocations - reserved) }
        : {}),
    },
    AccountUsage: { TotalCodeSize: codeBytes, FunctionCount: specs.length },
  };
}
