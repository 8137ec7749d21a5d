// Starts the embedded platform on a free loopback port over a temporary
// directory of Function files, for integration tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { startEmbedded, type EmbeddedOptions, type EmbeddedPlatform } from '../../src/platform/embedded.js';

export function functionYaml(name: string, spec: FunctionSpecInput): string {
  return stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec });
}

export function writeFunctions(dir: string, fns: Record<string, FunctionSpecInput>): void {
  for (const [name, spec] of Object.entries(fns)) writeFileSync(join(dir, `${name}.yaml`), functionYaml(name, spec));
}

export async function startPlatform(
  fns: Record<string, FunctionSpecInput>,
  opts: Partial<Omit<EmbeddedOptions, 'dir'>> = {},
  /** Other files of the functions directory by name, e.g. ConfigMap and Secret manifests. */
  files: Record<string, string> = {},
): Promise<EmbeddedPlatform & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-platform-'));
  writeFunctions(dir, fns);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const platform = await startEmbedded({
    dir,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: process.env.HEARTH_TEST_LOG ?? 'silent' }),
    ...opts,
  });
  return Object.assign(platform, { dir });
}

export const py = (source: string, handler = 'app.handler'): FunctionSpecInput => ({ runtime: 'python3.12', handler, code: { inline: { 'app.py': source } } });
export const node = (source: string, handler = 'index.handler'): FunctionSpecInput => ({ runtime: 'nodejs20', handler, code: { inline: { 'index.mjs': source } } });
