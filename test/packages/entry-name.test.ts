import { describe, expect, it } from 'vitest';
import { entryKind, fileMode, linkTargetInside, parseEntryName, unixMode } from '../../src/packages/entry-name.js';

describe('parseEntryName', () => {
  it.each([
    ['app.py', ['app.py'], false],
    ['lib/pkg/__init__.py', ['lib', 'pkg', '__init__.py'], false],
    ['./a/./b', ['a', 'b'], false],
    ['a//b', ['a', 'b'], false],
    ['dir/', ['dir'], true],
    ['win\\style\\name.txt', ['win', 'style', 'name.txt'], false],
    ['n'.repeat(255), ['n'.repeat(255)], false],
    [`${'d'.repeat(255)}/${'e'.repeat(255)}/${'f'.repeat(255)}/${'g'.repeat(256 - 3)}`, ['d'.repeat(255), 'e'.repeat(255), 'f'.repeat(255), 'g'.repeat(253)], false],
  ])('accepts %j', (raw, segments, directory) => {
    expect(parseEntryName(raw)).toEqual({ ok: true, segments, directory });
  });

  it.each([
    ['../evil', 'path-traversal'],
    ['a/../../evil', 'path-traversal'],
    ['a/..', 'path-traversal'],
    ['..\\..\\evil', 'path-traversal'],
    ['/etc/passwd', 'absolute-path'],
    ['\\windows\\evil', 'absolute-path'],
    ['C:\\evil', 'absolute-path'],
    ['c:/evil', 'absolute-path'],
    ['', 'invalid-name'],
    ['a\0b', 'invalid-name'],
    ['.', 'invalid-name'],
    ['n'.repeat(256), 'name-too-long'],
    [`ok/${'é'.repeat(128)}`, 'name-too-long'],
    [`${'d/'.repeat(512)}x`, 'name-too-long'],
  ])('refuses %j as %s', (raw, reason) => {
    const r = parseEntryName(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
});

describe('linkTargetInside', () => {
  it.each([
    [['lib', 'libfoo.so'], 'libfoo.so.1'],
    [['node_modules', '.bin', 'tool'], '../tool/cli.js'],
    [['a', 'b', 'c'], '../../x'],
    [['link'], '.'],
  ])('accepts %j -> %s', (segments, target) => {
    expect(linkTargetInside(segments, target).ok).toBe(true);
  });

  it.each([
    [['link'], '..'],
    [['a', 'link'], '../../etc/passwd'],
    [['link'], '/etc/passwd'],
    [['link'], 'C:\\Windows'],
    [['link'], ''],
  ])('refuses %j -> %s', (segments, target) => {
    expect(linkTargetInside(segments, target).ok).toBe(false);
  });
});

describe('modes', () => {
  it('reads Unix modes only from entries made on Unix or macOS', () => {
    expect(unixMode((3 << 8) | 20, 0o100755 << 16)).toBe(0o100755);
    expect(unixMode((19 << 8) | 20, 0o120777 << 16)).toBe(0o120777);
    expect(unixMode(20, 0o100755 << 16)).toBeUndefined();
  });

  it('classifies symlinks, directories and files', () => {
    expect(entryKind(false, 0o120777)).toBe('symlink');
    expect(entryKind(true, undefined)).toBe('directory');
    expect(entryKind(false, 0o040755)).toBe('directory');
    expect(entryKind(false, 0o100644)).toBe('file');
    expect(entryKind(false, undefined)).toBe('file');
    expect(entryKind(false, 0o000644)).toBe('file');
    expect(entryKind(false, 0o010644)).toBe('special');
    expect(entryKind(false, 0o020644)).toBe('special');
    expect(entryKind(false, 0o140755)).toBe('special');
    expect(entryKind(true, 0o010644)).toBe('directory');
  });

  it('keeps the executable bit and drops setuid and world-writable bits', () => {
    expect(fileMode(0o104777)).toBe(0o755);
    expect(fileMode(0o100666)).toBe(0o644);
    expect(fileMode(undefined)).toBe(0o644);
  });
});
