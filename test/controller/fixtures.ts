import type { HearthFunction, HearthFunctionInput } from '../../src/api/function.js';
import { FunctionSchema } from '../../src/api/function.js';
import type { BuildInput } from '../../src/controller/resources/names.js';

export function fn(name: string, spec: Partial<HearthFunctionInput['spec']> = {}): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name, namespace: 'team' },
    spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } }, ...spec },
  });
}

export function input(f: HearthFunction): BuildInput {
  return { fn: f, meta: { name: f.metadata.name, namespace: 'team', uid: 'uid-1', generation: 1 } };
}

/** A clock whose time moves only when the test says so. */
export class FakeClock {
  t = 1_000_000;
  timers: { due: number; fn: () => void; cancelled: boolean }[] = [];
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): (() => void) => {
    const timer = { due: this.t + ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => !x.cancelled && x.due <= until).sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      this.t = next.due;
      next.cancelled = true;
      next.fn();
    }
    this.t = until;
  }
}
