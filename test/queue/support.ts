// Shared pieces of the queue tests: functions, a scriptable Invoker, polling.
import { FunctionSchema, type FunctionSpecInput, type HearthFunction } from '../../src/api/function.js';
import type { InvokeResult } from '../../src/agent/invocation.js';
import type { Invocation, Invoker } from '../../src/dispatch/invoker.js';

export function fnDef(name: string, spec: Partial<FunctionSpecInput> = {}): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.js': 'exports.handler = async () => 1' } }, timeoutSeconds: 1, ...spec },
  });
}

export function ok(payload: unknown = { ok: true }): InvokeResult {
  return { outcome: 'success', payload: Buffer.from(JSON.stringify(payload)), durationMs: 1 };
}

export function fail(message = 'boom'): InvokeResult {
  return { outcome: 'unhandled', payload: Buffer.from(JSON.stringify({ errorMessage: message, errorType: 'Error' })), errorType: 'Error', durationMs: 1 };
}

/** An Invoker whose behaviour per function the test sets, recording every call. */
export class ScriptedInvoker implements Invoker {
  readonly calls: Invocation[] = [];
  readonly handlers = new Map<string, (inv: Invocation, n: number) => Promise<InvokeResult>>();
  running = 0;
  maxRunning = new Map<string, number>();
  #runningBy = new Map<string, number>();

  on(fn: string, h: (inv: Invocation, n: number) => Promise<InvokeResult> | InvokeResult): this {
    this.handlers.set(fn, async (inv, n) => h(inv, n));
    return this;
  }

  callsFor(fn: string): Invocation[] {
    return this.calls.filter((c) => c.functionName === fn);
  }

  async invoke(inv: Invocation): Promise<InvokeResult> {
    this.calls.push(inv);
    const n = this.callsFor(inv.functionName).length;
    const cur = (this.#runningBy.get(inv.functionName) ?? 0) + 1;
    this.#runningBy.set(inv.functionName, cur);
    this.maxRunning.set(inv.functionName, Math.max(this.maxRunning.get(inv.functionName) ?? 0, cur));
    try {
      const h = this.handlers.get(inv.functionName);
      return h ? await h(inv, n) : ok();
    } finally {
      this.#runningBy.set(inv.functionName, (this.#runningBy.get(inv.functionName) ?? 1) - 1);
    }
  }
}

export { waitFor } from '../helpers/wait.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
