// make run installs what the functions' sandbox needs before it starts Hearth.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../agent/helpers.js';

describe('make run', () => {
  it('installs bubblewrap and setpriv (util-linux) before starting Hearth', () => {
    const r = spawnSync('make', ['-n', 'run'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const install = lines.findIndex((l) => /for p in [^;]*\bbubblewrap\b[^;]*\butil-linux\b/.test(l));
    const start = lines.findIndex((l) => l.includes('main.js up'));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(start).toBeGreaterThan(install);
  });
});
