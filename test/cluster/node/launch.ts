// Starting one container process: join the pod's network and UTS namespaces,
// take a private mount namespace, enter the container's memory cgroup,
// bind-mount its volumes, resolv.conf and hosts, make / read-only if asked,
// then drop to its user with no capabilities and exec its program. Each step
// execs the next (nsenter, unshare, bash, setpriv, env), so the pid the node
// watches is the container's main process from start to end.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface LaunchSpec {
  netnsPath: string;
  utsPath: string;
  cgroupPath: string | undefined;
  mounts: Mount[];
  readOnlyRootFilesystem: boolean;
  uid: number;
  gid: number;
  groups: number[];
  /** false only for a root container that did not drop capabilities. */
  dropPrivileges: boolean;
  noNewPrivs: boolean;
  workingDir: string;
  env: Record<string, string>;
  argv: string[];
  scriptPath: string;
  logFile: string;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function launchScript(spec: LaunchSpec): string {
  const q = shellQuote;
  const lines = ['set -e'];
  if (spec.cgroupPath !== undefined) lines.push(`echo $$ > ${q(join(spec.cgroupPath, 'cgroup.procs'))}`);
  for (const m of spec.mounts) {
    lines.push(`mount --bind ${q(m.source)} ${q(m.target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(m.target)}`);
  }
  if (spec.readOnlyRootFilesystem) lines.push('mount -o remount,bind,ro /');
  lines.push(`cd ${q(spec.workingDir)} || { echo "hearth-node: working directory ${spec.workingDir} missing" >&2; exit 128; }`);
  const envWords = Object.entries(spec.env).map(([k, v]) => q(`${k}=${v}`));
  const run = ['env', '-i', ...envWords, ...spec.argv.map(q)].join(' ');
  if (!spec.dropPrivileges) {
    lines.push(`exec ${run}`);
  } else {
    const groups = spec.groups.length === 0 ? '--clear-groups' : `--groups=${spec.groups.join(',')}`;
    const nnp = spec.noNewPrivs ? ' --no-new-privs' : '';
    lines.push(`exec setpriv --reuid=${spec.uid} --regid=${spec.gid} ${groups}${nnp} --inh-caps=-all --bounding-set=-all -- ${run}`);
  }
  return lines.join('\n') + '\n';
}

export async function launch(spec: LaunchSpec): Promise<ChildProcess> {
  await writeFile(spec.scriptPath, launchScript(spec), { mode: 0o700 });
  const fd = openSync(spec.logFile, 'a');
  try {
    return spawn(
      'nsenter',
      [`--net=${spec.netnsPath}`, `--uts=${spec.utsPath}`, '--', 'unshare', '--mount', '--propagation', 'private', '--', '/bin/bash', spec.scriptPath],
      { stdio: ['ignore', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
}
