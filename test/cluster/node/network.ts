// Pod networking as a bridge CNI plugin would do it: one bridge in the
// cluster's network namespace, and per pod a network namespace held by a
// sandbox process, joined to the bridge by a veth pair, with an IP from the
// node's pod CIDR and a default route through the bridge.
import { spawn, type ChildProcess } from 'node:child_process';
import { mustRun, run } from './exec.js';

export interface PodNetworkConfig {
  bridge: string;
  /** e.g. 10.244.0.0/24; the bridge takes .1, pods the rest. */
  podCidr: string;
}

function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, bits] = cidr.split('/');
  const octets = (ip ?? '').split('.').map(Number);
  if (octets.length !== 4 || bits === undefined) throw new Error(`bad CIDR ${cidr}`);
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { base, bits: Number(bits) };
}

function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function gatewayIp(podCidr: string): string {
  return ipString(parseCidr(podCidr).base + 1);
}

/** Creates the bridge (idempotent) and enables forwarding in the cluster namespace. */
export async function setupBridge(cfg: PodNetworkConfig): Promise<void> {
  const { bits } = parseCidr(cfg.podCidr);
  const exists = await run('ip', ['link', 'show', cfg.bridge]);
  if (exists.code !== 0) {
    await mustRun('ip', ['link', 'add', cfg.bridge, 'type', 'bridge']);
    await mustRun('ip', ['addr', 'add', `${gatewayIp(cfg.podCidr)}/${bits}`, 'dev', cfg.bridge]);
  }
  await mustRun('ip', ['link', 'set', cfg.bridge, 'up']);
  await mustRun('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
}

export class Ipam {
  private readonly used = new Set<number>();
  private readonly base: number;
  private readonly size: number;
  private next = 2;

  constructor(podCidr: string) {
    const { base, bits } = parseCidr(podCidr);
    this.base = base;
    this.size = 2 ** (32 - bits);
  }

  /** Round-robin, so a freed IP is not handed straight to the next pod (stale conntrack, stale endpoints). */
  allocate(): string {
    for (let i = 0; i < this.size - 3; i++) {
      const host = this.next;
      this.next = this.next + 1 >= this.size - 1 ? 2 : this.next + 1;
      if (!this.used.has(host)) {
        this.used.add(host);
        return ipString(this.base + host);
      }
    }
    throw new Error('pod CIDR exhausted');
  }

  release(ip: string): void {
    this.used.delete(parseCidr(`${ip}/32`).base - this.base);
  }
}

export interface Sandbox {
  ip: string;
  /** The holder of the pod's network namespace (a pause process). */
  pid: number;
  netnsPath: string;
  hostVeth: string;
  process: ChildProcess;
}

/**
 * Starts the pause process in a new network namespace and wires it up.
 * The namespace lives exactly as long as its processes, so killing the
 * pause process and the containers frees it with no mount to undo.
 */
export async function createSandbox(cfg: PodNetworkConfig, ip: string, id: string, hostname: string, holder: string): Promise<Sandbox> {
  // The holder's command line is `holder` (exec -a), e.g. hearth-pause:<run>:<ns>/<pod>, so `ps` and the leak checks can say whose it is.
  const child = spawn('unshare', ['--net', '--uts', '--', 'bash', '-c', 'hostname "$1" && exec -a "$2" sleep 2147483647', 'pause', hostname, holder], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the pod sandbox');
  const netnsPath = `/proc/${pid}/ns/net`;
  const hostVeth = `vh${id}`;
  const podVeth = `vp${id}`;
  const { bits } = parseCidr(cfg.podCidr);
  try {
    // The namespace exists once unshare has exec'd sleep; wait for that.
    for (let i = 0; i < 100; i++) {
      const comm = await run('cat', [`/proc/${pid}/comm`]);
      if (comm.stdout.trim() === 'sleep') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await mustRun('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podVeth]);
    await mustRun('ip', ['link', 'set', podVeth, 'netns', String(pid)]);
    await mustRun('ip', ['link', 'set', hostVeth, 'master', cfg.bridge, 'up']);
    // A pod calling its own Service is DNATed back to itself through the bridge port it came from.
    await mustRun('ip', ['link', 'set', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
    await mustRun('nsenter', [`--net=${netnsPath}`, 'ip', '-batch', '-'], {
      input: [
        'link set lo up',
        `link set ${podVeth} name eth0`,
        `addr add ${ip}/${bits} dev eth0`,
        'link set eth0 up',
        `route add default via ${gatewayIp(cfg.podCidr)}`,
      ].join('\n') + '\n',
    });
  } catch (err) {
    child.kill('SIGKILL');
    await run('ip', ['link', 'del', hostVeth]);
    throw err;
  }
  return { ip, pid, netnsPath, hostVeth, process: child };
}

export async function destroySandbox(s: Sandbox): Promise<void> {
  if (s.process.exitCode === null && s.process.signalCode === null) {
    const exited = new Promise<void>((r) => s.process.once('exit', () => r()));
    s.process.kill('SIGKILL');
    await exited;
  }
  // The veth goes with the namespace; delete it explicitly in case a straggler still holds it.
  await run('ip', ['link', 'del', s.hostVeth]);
}
