import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = ['node_modules/.bin/tsx', 'src/cli/main.ts'];

async function hearth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(CLI[0] as string, [...CLI.slice(1), ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('hearth validate', () => {
  it('accepts the examples', async () => {
    const r = await hearth('validate', 'examples/hello-python.yaml', 'examples/hello-node.yaml', 'examples/hello-go.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hello-python');
  });

  it('names every offending field path, across documents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-validate-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: a}\nspec: {runtime: python3.12, handler: a.b, memoryMB: 64, code: {inline: {a.py: x}}}',
        'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: b}\nspec: {runtime: python3.12, handler: a.b, timeoutSeconds: 901, code: {inline: {a.py: x}}}',
        'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: c}\nspec: {runtime: python3.12, handler: a.b, code: {inline: {a.py: x}, image: img}}',
        'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: d}\nspec: {runtime: cobol, handler: a.b, code: {inline: {a.py: x}}}',
        'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: e}\nspec: {runtime: python3.12, handler: a.b, code: {inline: {a.py: x}}, schedules: [{name: t, cron: "0 9 * * *", timezone: Not/A_Zone}]}',
      ].join('\n---\n'),
    );
    const r = await hearth('validate', file);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/#0 \(a\): spec\.memoryMB: must be at least 128/);
    expect(r.stderr).toMatch(/#1 \(b\): spec\.timeoutSeconds: must be at most 900/);
    expect(r.stderr).toMatch(/#2 \(c\): spec\.code: exactly one of/);
    expect(r.stderr).toMatch(/#3 \(d\): spec\.runtime: must be one of/);
    expect(r.stderr).toMatch(/#4 \(e\): spec\.schedules\[0\]\.timezone: is not a valid IANA time zone/);
  });

  it('reports YAML syntax errors instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-validate-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'spec: [unclosed\n');
    const r = await hearth('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not valid YAML/);
  });

  it('checks the ConfigMaps and Secrets beside the Functions as the API server would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-validate-'));
    const file = join(dir, 'objects.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {GREETING: hello}',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {TOKEN: "not base64"}',
      ].join('\n---\n'),
    );
    const r = await hearth('validate', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('#0 (ConfigMap settings): ok');
    expect(r.stderr).toContain('#1 (Secret creds): data.TOKEN: must be base64');
  });
});
