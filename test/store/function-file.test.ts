// Editing a Function's spec in its YAML file as a person would: only the
// changed fields are rewritten; comments, other documents and formatting
// stay. Removing a Function's document from a file. Pure, table-driven.
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { editSpecInText, newFunctionText, removeFunctionFromText, specAsWritten } from '../../src/store/function-file.js';

const FILE = `# The greeting service.
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: hello # keep this name
spec:
  runtime: python3.12 # the runtime
  handler: app.handler
  # memory for the model
  memoryMB: 256
  env:
    - name: A # first
      value: "1"
    - name: B
      value: two
  code:
    inline:
      app.py: |
        def handler(event, context):
            return 1
---
# another function
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: other
spec: {runtime: nodejs20, handler: index.handler, code: {inline: {index.mjs: "export const handler = () => 1"}}}
`;

const OTHER_DOC = FILE.slice(FILE.indexOf('---'));

describe('specAsWritten', () => {
  it('is the spec as the file writes it, without defaults', () => {
    expect(specAsWritten(FILE, 'hello')).toEqual({
      runtime: 'python3.12',
      handler: 'app.handler',
      memoryMB: 256,
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: 'two' },
      ],
      code: { inline: { 'app.py': 'def handler(event, context):\n    return 1\n' } },
    });
    expect(specAsWritten(FILE, 'nope')).toBeUndefined();
    expect(specAsWritten('kind: Function\nmetadata: {name: x\n', 'x')).toBeUndefined();
  });
});

describe('editSpecInText', () => {
  const spec = specAsWritten(FILE, 'hello') ?? ({} as FunctionSpecInput);
  const cases: Array<{ what: string; next: Record<string, unknown>; kept: string[]; gone?: string[] }> = [
    { what: 'a scalar changed keeps its comment and the others', next: { ...spec, memoryMB: 512 }, kept: ['memoryMB: 512', '# memory for the model', 'runtime: python3.12 # the runtime', 'name: hello # keep this name', '# The greeting service.'] },
    { what: 'a field added', next: { ...spec, description: 'says hello' }, kept: ['description: says hello', '# memory for the model', '- name: A # first'] },
    { what: 'a field removed takes its line', next: { ...spec, memoryMB: undefined }, kept: ['runtime: python3.12 # the runtime'], gone: ['memoryMB'] },
    { what: 'a list item changed keeps the comments of the others', next: { ...spec, env: [{ name: 'A', value: '1' }, { name: 'B', value: 'three' }] }, kept: ['- name: A # first', 'value: three'], gone: ['value: two'] },
    { what: 'a list shortened', next: { ...spec, env: [{ name: 'A', value: '1' }] }, kept: ['- name: A # first'], gone: ['name: B'] },
    { what: 'a list grown', next: { ...spec, env: [...(spec.env ?? []), { name: 'C', value: 'c' }] }, kept: ['- name: A # first', 'name: C'] },
    { what: 'a nested map replaced', next: { ...spec, code: { package: { path: 'hello.zip' } } }, kept: ['path: hello.zip', '# memory for the model'], gone: ['app.py'] },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const r = editSpecInText(FILE, 'hello', c.next as never);
      if (!r.ok) throw new Error(r.reason);
      // What it now defines is exactly the edit; the other document is byte for byte the same.
      expect(parse(r.text.slice(0, r.text.indexOf('---'))).spec).toEqual(JSON.parse(JSON.stringify(c.next)));
      expect(r.text.endsWith(OTHER_DOC)).toBe(true);
      for (const k of c.kept) expect(r.text).toContain(k);
      for (const g of c.gone ?? []) expect(r.text).not.toContain(g);
    });
  }

  it('edits a later document, leaving the first as it was', () => {
    const other = specAsWritten(FILE, 'other') ?? ({} as FunctionSpecInput);
    const r = editSpecInText(FILE, 'other', { ...other, timeoutSeconds: 9 } as never);
    if (!r.ok) throw new Error(r.reason);
    expect(r.text.startsWith(FILE.slice(0, FILE.indexOf('---')))).toBe(true);
    expect(r.text).toContain('# another function');
    expect(parseAllDocuments(r.text).map((d) => (d.toJS() as { spec: { timeoutSeconds?: number } }).spec.timeoutSeconds)).toEqual([undefined, 9]);
  });

  it('an unchanged spec is the same text', () => {
    const r = editSpecInText(FILE, 'hello', spec as never);
    expect(r).toEqual({ ok: true, text: FILE });
  });

  it('refuses a file without that Function', () => {
    expect(editSpecInText(FILE, 'nope', {} as never)).toMatchObject({ ok: false });
  });
});

describe('removeFunctionFromText', () => {
  const cases: Array<{ what: string; text: string; name: string; expected: ReturnType<typeof removeFunctionFromText> }> = [
    { what: 'the only document: the file can go', text: newFunctionText('solo', { runtime: 'nodejs20' } as never), name: 'solo', expected: { ok: true, text: '', empty: true } },
    { what: 'the first of two: its comments go with it', text: FILE, name: 'hello', expected: { ok: true, text: OTHER_DOC } },
    { what: 'the second of two: the first stays byte for byte', text: FILE, name: 'other', expected: { ok: true, text: FILE.slice(0, FILE.indexOf('---')) } },
    { what: 'beside only empty documents', text: `---\n${newFunctionText('solo', { runtime: 'nodejs20' } as never)}---\n`, name: 'solo', expected: { ok: true, text: '', empty: true } },
    { what: 'absent', text: FILE, name: 'nope', expected: { ok: false, reason: 'the file holds no well-formed Function named nope' } },
  ];
  for (const c of cases) it(c.what, () => expect(removeFunctionFromText(c.text, c.name)).toEqual(c.expected));
});

describe('newFunctionText', () => {
  it('writes the spec as given, with labels only when there are some', () => {
    expect(parse(newFunctionText('a', { runtime: 'nodejs20', handler: 'index.handler' } as never))).toEqual({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'a' }, spec: { runtime: 'nodejs20', handler: 'index.handler' } });
    expect(parse(newFunctionText('a', {} as never, { team: 'x' })).metadata).toEqual({ name: 'a', labels: { team: 'x' } });
  });
});
