// Native runtimes (go, provided) in a sandbox start from the warm pool: a
// sandboxed exec stub (src/backends/local/exec-stub.ts) whose /var/task and
// /var/runtime are filled when it is claimed, and which then execs the
// function's bootstrap. Real bwrap, cgroups, Go build and runtime.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execStubCommand } from '../../src/backends/local/exec-stub.js';
import { LocalBackend, type LocalBackendEvent } from '../../src/backends/local/local-backend.js';
import { detectMemoryCgroup } from '../../src/sandbox/memory-cgroup.js';
import { probeSandbox } from '../../src/sandbox/support.js';
import { json, request, silent, until } from '../agent/helpers.js';
import { example, fn } from './helpers.js';

const support = await probeSandbox();
// Under CI a sandbox must be possible (the Makefile installs bubblewrap); elsewhere this suite needs one.
const runHere = support.enabled || process.env.CI === 'true';

const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-native-pool-'));
const backends: LocalBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

// aws-lambda-go, as the example: its environment, uid and /var/runtime, or 1 GB touched page by page.
const MAIN = `package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func handler(ctx context.Context, event map[string]any) (map[string]any, error) {
	if event["action"] == "alloc" {
		b := make([]byte, 1<<30)
		for i := range b {
			if i%4096 == 0 {
				b[i] = 1
			}
		}
		return map[string]any{"len": len(b)}, nil
	}
	runtime, _ := os.ReadDir("/var/runtime")
	names := []string{}
	for _, e := range runtime {
		names = append(names, e.Name())
	}
	cmdline, _ := os.ReadFile("/proc/self/cmdline")
	pid1, _ := os.ReadFile("/proc/1/cmdline")
	return map[string]any{"env": os.Environ(), "uid": os.Getuid(), "gid": os.Getgid(), "runtime": names, "cmdline": string(cmdline), "pid1": string(pid1)}, nil
}

func main() {
	lambda.Start(handler)
}
`;

function goFunction(name: string, env: Record<string, string>, memoryMB = 128): ReturnType<typeof fn> {
  const files = example('hello-go.yaml').spec.code.inline ?? {};
  return fn(name, { runtime: 'go', memoryMB, timeoutSeconds: 10, code: { inline: { ...files, 'main.go': MAIN } }, env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) });
}

interface Probe {
  env: string[];
  uid: number;
  gid: number;
  runtime: string[];
  cmdline: string;
  pid1: string;
}

describe.skipIf(!runHere)('sandboxed native runtimes from the warm pool', () => {
  let b: LocalBackend;
  const events: LocalBackendEvent[] = [];
  beforeAll(async () => {
    b = new LocalBackend({ cacheDir, logger: silent, warmPoolSize: 1, sandbox: true, onEvent: (e) => events.push(e) });
    // Built once (Go's build cache makes the second quick), both sharing the pool's stubs.
    await b.upsert(goFunction('go-a', { ONLY_A: 'a value with spaces, "quotes", $dollars and\nnewlines' }));
    await b.upsert(goFunction('go-b', { ONLY_B: 'b' }));
  }, 240_000);
  afterAll(() => b.close());

  it('runs a Go function from a pool stub with exactly its own environment, as the sandbox\'s uid, its binary at /var/runtime', async () => {
    await until(() => b.warmIdle('go') === 1);
    await b.scale('go-a', 1);
    const a = json((await b.instances('go-a')[0]!.invoke(request({}))).payload) as Probe;
    expect(events.filter((e) => e.type === 'cold-start' && e.functionName === 'go-a').map((e) => e.type === 'cold-start' && e.pooled)).toEqual([true]);
    const env = Object.fromEntries(a.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    // aws-lambda-go sets this one itself for each invocation.
    delete env._X_AMZN_TRACE_ID;
    expect(env.ONLY_A).toBe('a value with spaces, "quotes", $dollars and\nnewlines');
    // Exactly the instance environment: Lambda's variables and its own, nothing of the pool's stub or of the host.
    expect(Object.keys(env).sort()).toEqual(
      [
        'ONLY_A', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_LOG_GROUP_NAME',
        'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_MAX_CONCURRENCY', '_HANDLER', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR', 'AWS_REGION',
        'AWS_DEFAULT_REGION', 'TZ', 'LANG', 'PATH', 'AWS_LAMBDA_RUNTIME_API', 'AWS_LAMBDA_LOG_STREAM_NAME',
      ].sort(),
    );
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe('go-a');
    expect(env.HEARTH_SPECIALIZE).toBeUndefined();
    expect(a.runtime).toEqual(['bootstrap']);
    expect(a.cmdline.split('\0')[0]).toBe('/var/runtime/bootstrap');
    // Its variables went through the stub's stdin, on no command line (bwrap's, its init's, shows the stub).
    expect(a.pid1).toMatch(/^(\/usr\/bin\/)?bwrap\0/);
    for (const cmdline of [a.cmdline, a.pid1]) expect(cmdline).not.toContain('a value with spaces');
    expect(a.uid).not.toBe(0);
    if (support.perInstanceUser) expect(a.uid).toBeGreaterThanOrEqual(1_800_000_000);
    expect(a.gid).toBe(a.uid);

    // The pool refilled behind it; the next function gets a fresh stub and only its own variables.
    await until(() => b.warmIdle('go') === 1);
    await b.scale('go-b', 1);
    const bb = json((await b.instances('go-b')[0]!.invoke(request({}))).payload) as Probe;
    expect(bb.env.some((kv) => kv.startsWith('ONLY_A='))).toBe(false);
    expect(bb.env).toContain('ONLY_B=b');
    expect(bb.env).toContain('AWS_LAMBDA_FUNCTION_NAME=go-b');
    await Promise.all([b.scale('go-a', 0), b.scale('go-b', 0)]);
  }, 60_000);

  it('enforces the function\'s memoryMB on a claimed stub: 1 GB under 128 MB is Runtime.OutOfMemory, and the next call succeeds', async () => {
    expect(detectMemoryCgroup()).toBeDefined();
    await until(() => b.warmIdle('go') === 1);
    await b.scale('go-a', 1);
    const inst = b.instances('go-a')[0]!;
    const r = await inst.invoke(request({ action: 'alloc' }));
    expect(r.errorType).toBe('Runtime.OutOfMemory');
    expect(json(r.payload)).toMatchObject({ errorType: 'Runtime.OutOfMemory' });
    const next = json((await inst.invoke(request({}))).payload) as Probe;
    expect(next.env).toContain('AWS_LAMBDA_FUNCTION_NAME=go-a');
    await b.scale('go-a', 0);
  }, 60_000);

  it('replaces a pool stub that dies unused', async () => {
    await until(() => b.warmIdle('go') === 1);
    // The pool counts a process from its spawn; the stub is there once bwrap and setpriv have exec'd it.
    await until(() => stubPids().length > 0);
    const before = stubPids();
    for (const pid of before) process.kill(pid, 'SIGKILL');
    await until(() => b.warmIdle('go') === 1 && stubPids().some((p) => !before.includes(p)));
    await b.scale('go-b', 1);
    const bb = json((await b.instances('go-b')[0]!.invoke(request({}))).payload) as Probe;
    expect(bb.env).toContain('AWS_LAMBDA_FUNCTION_NAME=go-b');
    await b.scale('go-b', 0);
  }, 60_000);
});

/** Host pids of the sandboxes' exec stubs waiting for their line (the stub itself, not the bwrap around it). */
function stubPids(): number[] {
  const python = execStubCommand()?.command ?? 'python3';
  return procs().filter((p) => p.cmdline.startsWith(`${python} -I -S -c `) && p.cmdline.includes('os.execve')).map((p) => p.pid);
}

function procs(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      out.push({ pid: Number(e), cmdline: readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
