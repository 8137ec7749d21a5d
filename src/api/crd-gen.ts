// Writes the generated CRD into crds/ (and the Helm chart's copy, when present).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CRD_FILE, functionCrdYaml } from './crd.js';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
for (const target of [CRD_FILE, `charts/hearth/${CRD_FILE}`]) {
  const path = join(root, target);
  if (target.startsWith('charts/') && !existsSync(join(root, 'charts/hearth'))) continue;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, functionCrdYaml());
  console.log(`wrote ${target}`);
}
