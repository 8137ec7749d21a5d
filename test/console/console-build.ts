// The browser tests run against the console as `npm run build` (make test's
// build step) built it into dist/console, which the gateway serves. They do
// not build it themselves: two test files building into the directory the
// other's gateway reads would race. A build older than console/'s sources
// fails the test with what to run, so no test passes on a stale console.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function assertConsoleBuilt(): void {
  const index = resolve('dist/console/index.html');
  let builtAt: number;
  try {
    builtAt = statSync(index).mtimeMs;
  } catch {
    throw new Error('dist/console is not built: run `npm run build` (make test does) before the console tests');
  }
  const sources = [resolve('console/index.html'), resolve('console/vite.config.ts'), ...readdirSync(resolve('console/src'), { recursive: true, encoding: 'utf8' }).map((f) => join(resolve('console/src'), f))];
  const newer = sources.filter((f) => statSync(f).isFile() && statSync(f).mtimeMs > builtAt);
  if (newer.length > 0) throw new Error(`dist/console is older than ${newer.join(', ')}: run \`npm run build\``);
}
