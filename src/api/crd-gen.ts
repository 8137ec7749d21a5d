// Writes the generated CRDs into crds/ (and the Helm chart's copy, when
// present) and the Function reference into README.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crdFiles } from './crd.js';
import { withReference } from './reference.js';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
for (const { file, yaml } of crdFiles()) {
  for (const target of [file, `charts/hearth/${file}`]) {
    const path = join(root, target);
    if (target.startsWith('charts/') && !existsSync(join(root, 'charts/hearth'))) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, yaml);
    console.log(`wrote ${target}`);
  }
}

const readme = join(root, 'README.md');
if (existsSync(readme)) {
  writeFileSync(readme, withReference(readFileSync(readme, 'utf8')));
  console.log('wrote the Function reference into README.md');
}
