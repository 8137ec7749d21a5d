// `hearth validate FILE…`: one line per problem, naming the file, the
// document's position, kind and name, and the field path. ConfigMaps and
// Secrets (which Functions may refer to) are checked as the API server would.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { validateManifests } from '../api/manifests.js';

export async function validateCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length === 0) {
    console.log('usage: hearth validate FILE...\n\nChecks multi-document YAML of Functions and the v1 ConfigMaps and Secrets they refer to;\nexits non-zero when any document is invalid.');
    return values.help ? 0 : 2;
  }
  let failed = 0;
  let checked = 0;
  for (const file of positionals) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      console.error(`${file}: cannot read: ${(err as Error).message}`);
      failed++;
      continue;
    }
    for (const doc of validateManifests(text)) {
      checked++;
      const where = `${file}#${doc.index}${doc.name ? ` (${doc.kind === 'Function' ? '' : `${doc.kind} `}${doc.name})` : ''}`;
      if (doc.ok) {
        if (!values.quiet) console.log(`${where}: ok`);
        continue;
      }
      failed++;
      for (const p of doc.problems) console.error(`${where}: ${p.path || '(document)'}: ${p.message}`);
    }
  }
  if (checked === 0 && failed === 0) {
    console.error('no Function documents found');
    return 1;
  }
  return failed > 0 ? 1 : 0;
}
