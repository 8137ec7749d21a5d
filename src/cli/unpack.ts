// `hearth unpack --dest DIR SOURCE…`: unpacks ZIP packages into a directory in
// order, with the same checks as the embedded platform. In a cluster this is
// the init container that fills /var/task and /opt (see packages/pod-spec.ts).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadPackage } from '../packages/source.js';
import { parseSourceRef } from '../packages/source-ref.js';
import { unzipInto } from '../packages/unzip.js';

const HELP = `usage: hearth unpack --dest DIR SOURCE...

Unpacks each ZIP package into DIR, in order (later ones replace earlier
files, as layers do under /opt). A SOURCE is a path or an http(s) URL; append
#sha256=HEX to check its digest (required for URLs).

  --dest DIR       where to unpack (created if missing)
  --skip-missing   skip path sources that do not exist (optional ConfigMaps)`;

export async function unpackCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dest: { type: 'string' }, 'skip-missing': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || values.dest === undefined || positionals.length === 0) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  let unpacked = 0;
  for (const ref of positionals) {
    const src = parseSourceRef(ref);
    if (src.path !== undefined && values['skip-missing'] && !existsSync(src.path)) {
      console.error(`${src.path}: missing, skipped`);
      continue;
    }
    try {
      const pkg = await loadPackage(src, { baseDir: process.cwd() });
      if (pkg === undefined) continue;
      const stats = await unzipInto(pkg.bytes, values.dest, { label: pkg.label, alreadyUnpacked: unpacked });
      unpacked += stats.bytes;
      console.log(`${pkg.label}: sha256 ${pkg.sha256}, ${stats.files} files, ${stats.symlinks} links, ${stats.bytes} bytes -> ${values.dest}`);
    } catch (err) {
      console.error(`hearth unpack: ${(err as Error).message}`);
      return 1;
    }
  }
  return 0;
}
