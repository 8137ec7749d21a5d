// `hearth package DIR -o fn.zip`: a deployment package from a directory, with
// executable bits (a `bootstrap` stays runnable) and the same bytes for the
// same tree. Prints the digest, for code.package.sha256.
import { existsSync, statSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPackage } from '../packages/build.js';

const HELP = `usage: hearth package DIR -o FILE.zip

Writes DIR's files (not .git) into a ZIP deployment package, keeping
executable bits and symlinks that stay inside DIR, and prints its SHA-256.
For runtime provided, DIR must hold an executable named bootstrap.`;

export async function packageCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  const dir = positionals[0];
  if (values.help || dir === undefined || values.output === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`hearth package: ${dir} is not a directory`);
    return 1;
  }
  const out = resolve(values.output);
  try {
    const built = await buildPackage(dir, { exclude: [out, `${out}.tmp`] });
    await writeFile(`${out}.tmp`, built.zip);
    await rename(`${out}.tmp`, out);
    console.log(`${values.output}: ${built.files} files, ${built.unzippedBytes} bytes unzipped, ${built.zip.length} bytes zipped`);
    console.log(`sha256 ${built.sha256}`);
    return 0;
  } catch (err) {
    console.error(`hearth package: ${(err as Error).message}`);
    return 1;
  }
}
