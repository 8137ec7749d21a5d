// The embedded platform's backend: each instance is a runtime process on this
// machine with its own in-process agent. Where the machine allows (bubblewrap,
// see src/sandbox/), every runtime process, warm-pool ones included, runs in a
// sandbox of its own: its task root, runtime and layers read-only, a private
// /tmp, its own PID namespace and user, and memoryMB enforced by a memory
// cgroup. Elsewhere it is a plain child process, and memoryMB only a variable.
//
// Keys are serving-unit keys (src/versions/units.ts): NAME for a function's
// $LATEST, NAME:N for its published version N, each deployed, prepared and
// scaled on its own, so versions of one function run side by side. What the
// runtime and the user see names the function and the version apart
// (AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION, the log stream, the
// function's one log file); no file name is made of a key.
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { referencedObjects, type ConfigObjectSource } from '../../api/config-objects.js';
import { effectiveHandler, LATEST, LIMITS, type HearthFunction } from '../../api/function.js';
import { ObjectStore } from '../../api/object-store.js';
import { Agent } from '../../agent/agent.js';
import { logSettings } from '../../agent/log-format.js';
import { spawnRuntime, type RuntimeLauncher } from '../../agent/spawn-launcher.js';
import type { Backend, Instance, InstanceState } from '../backend.js';
import { optEnv } from '../../packages/opt-env.js';
import { PackageStore } from '../../packages/store.js';
import type { SandboxLauncher, BoxSpec } from '../../sandbox/sandbox-launcher.js';
import { splitUnitKey } from '../../versions/units.js';
import { defaultLocalCacheDir, functionLogDir } from './cache-dir.js';
import { CodeStore } from './code-store.js';
import { FunctionLogFiles, type FunctionLogLimits } from './function-log.js';
import { lambdaEnv, logStreamName, poolEnv, resolveFunctionEnv, runtimePath } from './lambda-env.js';
import { LocalInstance } from './local-instance.js';
import { bootstrapOf, hasBootstrap, PackagedCode } from './packaged-code.js';
import { INSIDE, makeSandboxLauncher, planSandbox, type SandboxOption } from './sandbox-plan.js';
import { findRepoRoot, runtimeFamily, scriptRuntimeCommand, type Command, type RuntimeFamily } from './runtime-command.js';
import { WarmPool } from './warm-pool.js';
import { execStubCommand, specialisationLine } from './exec-stub.js';
import { DEFAULT_REGION, functionArn } from '../../api/lambda-arn.js';

export type LocalBackendEvent =
  | { type: 'cold-start'; functionName: string; instanceId: string; initDurationMs: number; pooled: boolean }
  | { type: 'instance-state'; functionName: string; instanceId: string; state: InstanceState }
  | { type: 'restart'; functionName: string; instanceId: string; reason: 'timeout' | 'exit' | 'init-retry' };

export interface LocalBackendOptions {
  /** The ConfigMaps and Secrets that env valueFrom, code.configMap, code.package.configMap and layers[].configMap resolve through. */
  objects?: ConfigObjectSource;
  /** Task directories, unpacked packages and Go builds (default ~/.cache/hearth/local). */
  cacheDir?: string;
  /** AWS_REGION / AWS_DEFAULT_REGION of the instances (default us-east-1). */
  region?: string;
  /** Generic processes kept started per runtime command (default 1; 0 disables the pool). */
  warmPoolSize?: number;
  /** Replace the command of a family, e.g. for tests: { nodejs: ['node', 'my-runtime.mjs'] }. */
  runtimeCommands?: Partial<Record<'python' | 'nodejs', readonly [string, ...string[]]>>;
  /** Where runtimes/ lives (default: found above this module). */
  repoRoot?: string;
  initTimeoutMs?: number;
  killGraceMs?: number;
  /** Size and number of each function's output log files, kept under cacheDir/logs (default 10 MiB × 2). */
  functionLogs?: FunctionLogLimits;
  /**
   * Run each instance in a sandbox (bubblewrap + a memory cgroup): false runs
   * them as plain child processes, true requires a sandbox (preparing a
   * function fails without one), a probe's result uses it; by default, a
   * sandbox when this machine can make one.
   */
  sandbox?: SandboxOption;
  logger?: Logger;
  onEvent?: (e: LocalBackendEvent) => void;
}

interface Prepared {
  /** The sandbox to start the runtime in (paths as it sees them), when instances are sandboxed; env is then as the sandbox sees it too. */
  box?: Omit<BoxSpec, 'env' | 'memoryMB'>;
  /** The host task root, linked into a claimed pool process's /var/task. */
  taskRoot: string;
  command: Command;
  cwd: string;
  /** The instance environment without the per-instance variables. */
  env: Record<string, string>;
  /** The warm-pool key, for families started from a generic process. */
  poolKey?: string;
  /** A native runtime started from the pool's exec stub: what the stub execs, and the host directory it shows at /var/runtime. */
  exec?: { argv: string[]; runtimeDir?: string };
}

interface Deployed {
  /** The unit: metadata.name is its key (NAME or NAME:N), spec what it runs. */
  fn: HearthFunction;
  /** Digest of what the unit runs (specVersion), not its published version: a change replaces its instances. */
  version: string;
  prepared: Prepared;
  desired: number;
  instances: LocalInstance[];
}

export class LocalBackend implements Backend {
  readonly kind = 'local';
  private readonly functions = new Map<string, Deployed>();
  private readonly listeners = new Set<(functionName: string) => void>();
  private readonly repoRoot: string;
  private readonly code: CodeStore;
  private readonly packaged: PackagedCode;
  private readonly pool: WarmPool;
  /** Each function's stdout/stderr, all its versions' in one: NAME.log, NAME.log.1 … under cacheDir/logs. */
  readonly functionLogs: FunctionLogFiles;
  private readonly log: Logger;
  private readonly region: string;
  private readonly objects: ConfigObjectSource;
  /** Preparations under way (a Go build can take seconds): scale waits for them. */
  private readonly preparing = new Map<string, Promise<Prepared>>();
  /** What each preparation under way is doing, for callers who wait on it (preparingStep). */
  private readonly steps = new Map<string, string>();
  /** Why a function's code could not be prepared, for the callers that try to start it. */
  private readonly prepareErrors = new Map<string, Error>();
  private seq = 0;
  private closed = false;
  private readonly stagingDir: string;
  /** Made on first use: deciding needs a probe of the machine (bwrap runs once). */
  private sandboxLauncher: Promise<SandboxLauncher | undefined> | undefined;
  /** The same once made, for what must answer at once (why a process exited). */
  private sandboxLauncherNow: SandboxLauncher | undefined;

  constructor(private readonly opts: LocalBackendOptions = {}) {
    this.repoRoot = opts.repoRoot ?? findRepoRoot();
    this.log = opts.logger ?? pino({ level: process.env.HEARTH_LOG_LEVEL ?? 'info' });
    this.region = opts.region ?? DEFAULT_REGION;
    this.objects = opts.objects ?? new ObjectStore('the local backend, which was given no ConfigMaps or Secrets');
    const cacheDir = opts.cacheDir ?? defaultLocalCacheDir();
    this.code = new CodeStore(cacheDir, join(this.repoRoot, 'runtimes/go/build.sh'));
    this.packaged = new PackagedCode(new PackageStore(join(cacheDir, 'packages')), this.objects);
    this.pool = new WarmPool(opts.warmPoolSize ?? 1, this.log.child({ component: 'warm-pool' }));
    this.stagingDir = join(cacheDir, 'staging');
    this.functionLogs = new FunctionLogFiles(functionLogDir(cacheDir), opts.functionLogs, this.log.child({ component: 'function-logs' }));
  }

  /** Deploys a serving unit: `fn.metadata.name` is its key (NAME or NAME:N) and `fn.spec` what it runs. */
  async upsert(fn: HearthFunction): Promise<void> {
    this.assertOpen();
    const name = fn.metadata.name;
    const version = this.specVersion(fn);
    const current = this.functions.get(name);
    if (current?.version === version) {
      current.fn = fn;
      return;
    }
    const preparation = this.prepare(fn);
    this.preparing.set(name, preparation);
    let prepared: Prepared;
    try {
      prepared = await preparation;
      this.prepareErrors.delete(name);
    } catch (err) {
      this.prepareErrors.set(name, err as Error);
      throw err;
    } finally {
      if (this.preparing.get(name) === preparation) {
        this.preparing.delete(name);
        this.steps.delete(name);
      }
    }
    const next: Deployed = { fn, version, prepared, desired: current?.desired ?? 0, instances: [] };
    this.functions.set(name, next);
    this.notify(name);
    if (current === undefined) return;
    // Start the new version's instances before the old ones stop taking work.
    next.instances = current.instances;
    await this.scale(name, current.desired);
    // A later upsert (or remove) that came meanwhile retires these with the rest; retiring
    // here would stop its newer instances, which share this list.
    if (this.functions.get(name) !== next) return;
    for (const old of next.instances.filter((i) => i.version !== version)) this.retire(next, old);
  }

  async remove(name: string): Promise<void> {
    const d = this.functions.get(name);
    if (d === undefined) return;
    this.functions.delete(name);
    this.prepareErrors.delete(name);
    this.notify(name);
    // No new call finds the function now; the ones it holds finish first.
    await Promise.all([...d.instances].map(async (i) => {
      await i.drainAndStop();
      this.forget(d, i);
    }));
  }

  async scale(name: string, desired: number): Promise<void> {
    this.assertOpen();
    const pending = this.preparing.get(name);
    if (pending !== undefined) await pending.catch(() => undefined);
    const d = this.functions.get(name);
    if (d === undefined) {
      const cause = this.prepareErrors.get(name);
      throw new Error(cause ? `function ${name} could not be prepared: ${cause.message}` : `function ${name} is not deployed to the local backend`);
    }
    d.desired = Math.max(0, Math.floor(desired));
    // A failed instance stays visible (its initError answers the callers that waited) until the next scale replaces it.
    for (const i of d.instances.filter((x) => x.state === 'failed')) void this.retireNow(d, i);
    const active = d.instances.filter((i) => i.version === d.version && (i.state === 'starting' || i.state === 'ready'));
    if (active.length < d.desired) {
      const started = Array.from({ length: d.desired - active.length }, () => this.startInstance(d));
      await Promise.all(started.map((i) => i.agent.settled()));
    } else if (active.length > d.desired) {
      // Starting instances are stopped first (they serve nobody yet), then idle ones, newest first.
      const victims = [...active]
        .sort((a, b) => rank(a) - rank(b) || b.seq - a.seq)
        .slice(0, active.length - d.desired);
      for (const v of victims) this.retire(d, v);
    }
  }

  preparingStep(name: string): string | undefined {
    return this.preparing.has(name) ? (this.steps.get(name) ?? 'preparing its code') : undefined;
  }

  /** Why the last preparation of a unit's code failed (cleared when one succeeds or the unit is removed): what the store reports as the function's failure. */
  preparationError(name: string): Error | undefined {
    return this.prepareErrors.get(name);
  }

  /** Whether some version of the unit's code is prepared and runs (an older one while a newer one is prepared, or after it failed). */
  isDeployed(name: string): boolean {
    return this.functions.has(name);
  }

  /**
   * Instances of an older spec of the unit still take calls while the new
   * spec's instances start (upsert rolls over without a gap): until they
   * are retired, a call may still run the old code or configuration.
   */
  isRollingOver(name: string): boolean {
    const d = this.functions.get(name);
    return d !== undefined && d.instances.some((i) => i.version !== d.version && (i.state === 'starting' || i.state === 'ready'));
  }

  instances(name: string): readonly Instance[] {
    return this.functions.get(name)?.instances ?? [];
  }

  onChange(listener: (functionName: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.functions.values()];
    this.functions.clear();
    await Promise.all([...all.flatMap((d) => d.instances.map((i) => i.stop())), this.pool.close()]);
    // Every sandbox's processes, cgroup, staging directory and uid, whatever was left.
    await (await this.sandboxLauncher?.catch(() => undefined))?.close();
    await this.functionLogs.close();
  }

  /** Idle warm-pool processes for a runtime family (for tests and the status page). */
  warmIdle(runtime: HearthFunction['spec']['runtime']): number {
    const family = runtimeFamily(runtime);
    if (family !== 'python' && family !== 'nodejs') {
      const stub = this.sandboxLauncherNow !== undefined ? execStubCommand() : undefined;
      return stub === undefined ? 0 : this.pool.idleCountOf(poolKeyOf(stub));
    }
    return this.pool.idleCountOf(poolKeyOf(this.scriptCommand(runtime, family)));
  }

  private async prepare(fn: HearthFunction): Promise<Prepared> {
    const { spec } = fn;
    const name = fn.metadata.name;
    const family = runtimeFamily(spec.runtime);
    const files = spec.code.configMap !== undefined ? this.configMapFiles(name, spec.code.configMap.name) : spec.code.inline;
    if (spec.code.image !== undefined) throw new Error(`function ${name}: container images (code.image) run only on the Kubernetes backend, not on the embedded platform`);
    const functionEnv = resolveFunctionEnv(name, spec.env, this.objects);
    let taskRoot: string;
    let command: Command | undefined;
    if (spec.code.package !== undefined) {
      this.steps.set(name, spec.code.package.url !== undefined ? 'fetching and unpacking code.package' : 'reading and unpacking code.package');
      const pkg = await this.packaged.taskRoot(fn, spec.code.package);
      taskRoot = pkg.dir;
      if (family === 'provided') command = { command: await bootstrapOf(name, taskRoot), args: [] };
      else if (family === 'go') {
        this.steps.set(name, 'building Go sources');
        // As start.sh does in a pod: a shipped binary runs as it is, sources are built once per package digest.
        const bin = (await hasBootstrap(taskRoot)) ? join(taskRoot, 'bootstrap') : await this.code.buildGoDir(taskRoot, pkg.sha256);
        command = { command: bin, args: [] };
      }
    } else {
      if (files === undefined) throw new Error(`function ${name}: no code`);
      if (family === 'provided') throw new Error(`function ${name}: runtime provided needs code.package holding an executable bootstrap`);
      taskRoot = await this.code.materialise(files);
      if (family === 'go') {
        this.steps.set(name, 'building Go sources');
        command = { command: await this.code.buildGo(files), args: [] };
      }
    }
    if ((spec.layers ?? []).length > 0) this.steps.set(name, 'reading and unpacking layers');
    const optDir = await this.packaged.optDir(fn);
    command ??= this.scriptCommand(spec.runtime, family);
    const runtimeDir = join(this.repoRoot, 'runtimes', family);
    const native = family === 'go' || family === 'provided';
    const path = runtimePath(native ? undefined : dirname(command.command));
    const sandbox = await this.sandbox();
    const view = sandbox !== undefined ? planSandbox({ family, command, taskRoot, runtimeDir }) : undefined;
    const unit = splitUnitKey(name);
    const env = lambdaEnv({
      functionName: unit.name,
      functionVersion: unit.version,
      runtime: spec.runtime,
      handler: effectiveHandler(spec),
      memoryMB: spec.memoryMB,
      concurrency: spec.concurrency,
      taskRoot: view !== undefined ? INSIDE.taskRoot : taskRoot,
      runtimeDir: view !== undefined ? INSIDE.runtimeDir : runtimeDir,
      region: this.region,
      path,
      functionEnv,
      logging: spec.logging,
    });
    if (optDir !== undefined) Object.assign(env, optEnv(view !== undefined ? INSIDE.optDir : optDir, spec.runtime, env));
    const prepared: Prepared = { command, cwd: taskRoot, env, taskRoot };
    if (view !== undefined) {
      const { command: inside, args, runtimeDir: shownRuntime, samePath } = view;
      prepared.box = { taskRoot, samePath, tmpSizeMB: spec.ephemeralStorageMB ?? LIMITS.ephemeralStorageMB.default, command: inside, args, ...(shownRuntime !== undefined ? { runtimeDir: shownRuntime } : {}), ...(optDir !== undefined ? { optDir } : {}) };
    }
    // Layers change PYTHONPATH and NODE_PATH, which an interpreter reads only when it starts: no pre-started process then.
    if (!native && optDir === undefined && this.pool.size > 0) {
      const box = prepared.box;
      if (sandbox !== undefined && box !== undefined) {
        // A sandboxed pool process gets its /tmp size at start, so the size is part of what it is.
        prepared.poolKey = `${poolKeyOf(command)} /tmp=${box.tmpSizeMB}M`;
        const poolSpec = { ...box, taskRoot: 'staging', env: poolEnv(path, INSIDE.runtimeDir) } as const;
        this.pool.ensure(prepared.poolKey, { ...command, env: poolSpec.env }, () => sandbox.spawn(poolSpec));
      } else {
        prepared.poolKey = poolKeyOf(command);
        this.pool.ensure(prepared.poolKey, { ...command, env: poolEnv(path, runtimeDir), cwd: runtimeDir });
      }
    }
    // A binary starts in a few ms; its sandbox takes ~20 more (see exec-stub.ts), which a pool of sandboxed exec stubs saves.
    // Plain processes have nothing to save, so none is pooled.
    const stub = native && optDir === undefined && this.pool.size > 0 && sandbox !== undefined ? execStubCommand() : undefined;
    const fnBox = prepared.box;
    if (stub !== undefined && sandbox !== undefined && fnBox !== undefined) {
      const stubView = planSandbox({ family: 'python', command: stub, taskRoot, runtimeDir });
      prepared.poolKey = `${poolKeyOf(stub)} /tmp=${fnBox.tmpSizeMB}M`;
      prepared.exec = { argv: [fnBox.command, ...fnBox.args], ...(fnBox.runtimeDir !== undefined ? { runtimeDir: fnBox.runtimeDir } : {}) };
      const poolSpec = { taskRoot: 'staging', runtimeDir: 'staging', samePath: stubView.samePath, tmpSizeMB: fnBox.tmpSizeMB, command: stubView.command, args: stubView.args, env: poolEnv(path, INSIDE.runtimeDir) } as const;
      this.pool.ensure(prepared.poolKey, { ...stub, env: poolSpec.env }, () => sandbox.spawn(poolSpec));
    }
    return prepared;
  }

  private sandbox(): Promise<SandboxLauncher | undefined> {
    this.sandboxLauncher ??= makeSandboxLauncher(this.opts.sandbox, this.stagingDir, this.log.child({ component: 'sandbox' })).then((l) => (this.sandboxLauncherNow = l));
    return this.sandboxLauncher;
  }

  /** code.configMap: every key is a file of the task root, as a volume of the ConfigMap shows them in a pod. */
  private configMapFiles(name: string, configMap: string): Record<string, Buffer> {
    const entries = this.objects.entries('ConfigMap', configMap);
    if (typeof entries === 'string') throw new Error(`function ${name}: code.configMap: ${entries}`);
    if (entries.size === 0) throw new Error(`function ${name}: code.configMap: ConfigMap ${configMap} has no keys, so no files`);
    return Object.fromEntries([...entries].map(([k, v]) => [k, v.bytes]));
  }

  /** A new version of a function is any change of its name, its spec or the ConfigMaps and Secrets it refers to. */
  private specVersion(fn: HearthFunction): string {
    return createHash('sha256')
      .update(fn.metadata.name)
      .update('\0')
      .update(JSON.stringify(fn.spec))
      .update('\0')
      .update(this.objects.digest(referencedObjects(fn.spec)))
      .digest('hex')
      .slice(0, 16);
  }

  private scriptCommand(runtime: HearthFunction['spec']['runtime'], family: RuntimeFamily): Command {
    const override = family === 'python' || family === 'nodejs' ? this.opts.runtimeCommands?.[family] : undefined;
    if (override !== undefined) {
      const [command, ...args] = override;
      return { command, args };
    }
    return scriptRuntimeCommand(runtime, this.repoRoot);
  }

  private startInstance(d: Deployed): LocalInstance {
    const name = d.fn.metadata.name;
    const unit = splitUnitKey(name);
    const id = `${name}-${++this.seq}-${randomBytes(3).toString('hex')}`;
    let pooled = false;
    const prepared = d.prepared;
    // As Lambda names a version's streams: YYYY/MM/DD/[N]…
    const streamName = logStreamName(new Date(), undefined, unit.version);
    const memoryMB = d.fn.spec.memoryMB;
    const launcher: RuntimeLauncher = {
      launch: async (runtimeApi) => {
        const env = { ...prepared.env, AWS_LAMBDA_RUNTIME_API: runtimeApi, AWS_LAMBDA_LOG_STREAM_NAME: streamName };
        const sandbox = prepared.box !== undefined ? await this.sandbox() : undefined;
        const warm = prepared.poolKey !== undefined ? this.pool.take(prepared.poolKey) : undefined;
        pooled = warm !== undefined && warm.stdin !== null;
        if (warm?.stdin) {
          // Its /var/task fills with this function's code and its memory limit becomes this function's before it learns what it is.
          if (sandbox !== undefined) {
            await sandbox.claim(warm, prepared.taskRoot, memoryMB, prepared.exec?.runtimeDir).catch((err: unknown) => {
              warm.kill('SIGKILL');
              throw err;
            });
          }
          warm.stdin.write(specialisationLine(env, prepared.exec?.argv));
          return warm;
        }
        if (sandbox !== undefined && prepared.box !== undefined) return sandbox.spawn({ ...prepared.box, memoryMB, env });
        return spawnRuntime({ ...prepared.command, env, cwd: prepared.cwd });
      },
      exitCause: (proc) => this.sandboxLauncherNow?.exitCause(proc),
    };
    const spec = d.fn.spec;
    const logging = logSettings(spec.logging);
    const agent = new Agent({
      functionName: name,
      memoryMB: spec.memoryMB,
      timeoutSeconds: spec.timeoutSeconds,
      concurrency: spec.concurrency,
      // A version's key NAME:N is its qualified ARN's tail.
      functionArn: functionArn(name, this.region),
      launcher,
      logger: this.log,
      // One log per function, so `hearth logs NAME` shows every version's lines; a version's carry [N],
      // except in JSON, where a line must stay one JSON object (platform.start names the version).
      output: this.functionLogs.sink(unit.name, logging.format === 'JSON' ? LATEST : unit.version),
      logging,
      version: unit.version,
      ...(this.opts.initTimeoutMs !== undefined ? { initTimeoutMs: this.opts.initTimeoutMs } : {}),
      ...(this.opts.killGraceMs !== undefined ? { killGraceMs: this.opts.killGraceMs } : {}),
    });
    const inst = new LocalInstance(id, name, d.version, this.seq, agent);
    agent.on((e) => {
      if (e.type === 'init') this.emit({ type: 'cold-start', functionName: name, instanceId: id, initDurationMs: e.durationMs, pooled });
      else if (e.type === 'restart') this.emit({ type: 'restart', functionName: name, instanceId: id, reason: e.reason });
      else if (e.type === 'state') this.stateChanged(inst);
    });
    d.instances.push(inst);
    this.stateChanged(inst);
    agent.start().catch((err: unknown) => {
      this.log.error({ err, instance: id }, 'agent failed to start');
      void this.retireNow(d, inst);
    });
    return inst;
  }

  /** Drain, stop and forget an instance. */
  private retire(d: Deployed, inst: LocalInstance): void {
    if (inst.state === 'draining' || inst.state === 'stopped') return;
    inst.markDraining();
    this.stateChanged(inst);
    void inst.drainAndStop().then(() => this.forget(d, inst));
  }

  private async retireNow(d: Deployed, inst: LocalInstance): Promise<void> {
    await inst.stop();
    this.forget(d, inst);
  }

  private forget(d: Deployed, inst: LocalInstance): void {
    const i = d.instances.indexOf(inst);
    if (i >= 0) d.instances.splice(i, 1);
    this.stateChanged(inst);
  }

  private stateChanged(inst: LocalInstance): void {
    this.emit({ type: 'instance-state', functionName: inst.functionName, instanceId: inst.id, state: inst.state });
    this.notify(inst.functionName);
  }

  private emit(e: LocalBackendEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch (err) {
      this.log.error({ err }, 'local backend event listener failed');
    }
  }

  private notify(name: string): void {
    for (const l of this.listeners) {
      try {
        l(name);
      } catch (err) {
        this.log.error({ err }, 'onChange listener failed');
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the local backend is closed');
  }
}

function rank(i: LocalInstance): number {
  if (i.state === 'starting') return 0;
  return i.load === 0 ? 1 : 2;
}

function poolKeyOf(c: Command): string {
  return [c.command, ...c.args].join(' ');
}
