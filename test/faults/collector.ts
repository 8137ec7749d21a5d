// Where each fault and bad-input case records what was tried and what
// happened. Every test file writes its own JSON file (test files run in
// separate processes); test/faults/report.ts renders them all as docs/faults.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { FaultRow } from './report-render.js';

export const RESULTS_DIR = process.env.HEARTH_FAULTS_DIR ?? join(tmpdir(), 'hearth-faults');

export interface CaseRecorder {
  /** Adds to the times tried (default 1 per call). */
  tried(n?: number): void;
  accepted(n: number): void;
  lost(n: number): void;
  observe(text: string): void;
}

export class FaultLog {
  readonly #rows: FaultRow[] = [];

  constructor(private readonly suite: string) {}

  static forFile(importMetaUrl: string): FaultLog {
    return new FaultLog(basename(new URL(importMetaUrl).pathname).replace(/\.test\.ts$/, ''));
  }

  /** Runs one case; whatever happens, a row records it (a thrown assertion as not as expected). */
  async run(kind: FaultRow['kind'], name: string, expected: string, body: (rec: CaseRecorder) => Promise<void>): Promise<void> {
    const row: FaultRow = { suite: this.suite, kind, name, tried: 0, expected, observed: '', accepted: 0, lost: 0, passed: false };
    const observed: string[] = [];
    const rec: CaseRecorder = {
      tried: (n = 1) => void (row.tried += n),
      accepted: (n) => void (row.accepted += n),
      lost: (n) => void (row.lost += n),
      observe: (t) => void observed.push(t),
    };
    try {
      await body(rec);
      row.passed = true;
    } catch (err) {
      observed.push(`FAILED: ${(err as Error).message.split('\n')[0] ?? ''}`);
      throw err;
    } finally {
      row.observed = observed.join('; ');
      this.#rows.push(row);
    }
  }

  flush(): void {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${this.suite}.json`), JSON.stringify(this.#rows, null, 2));
  }
}
