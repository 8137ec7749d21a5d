// `npx tsx test/faults/report.ts`: renders the results the fault and fuzz
// suites left in RESULTS_DIR as docs/faults.md. Run after `vitest run`.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './collector.js';
import { renderFaultTable, type FaultRow } from './report-render.js';

const out = process.argv[2] ?? 'docs/faults.md';
const files = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json')) : [];
if (files.length === 0) {
  console.error(`no results in ${RESULTS_DIR}: run the suites first (npx vitest run test/faults test/hardening)`);
  process.exit(1);
}
const rows = files.flatMap((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as FaultRow[]);
writeFileSync(out, renderFaultTable(rows, { generatedAt: new Date().toISOString(), command: 'npx vitest run test/faults test/hardening && npx tsx test/faults/report.ts' }));
const lost = rows.reduce((n, r) => n + r.lost, 0);
console.log(`${out}: ${rows.length} cases, ${lost} accepted events lost`);
process.exitCode = lost > 0 || rows.some((r) => !r.passed) ? 1 : 0;
