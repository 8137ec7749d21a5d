// The process node has no image store: each image Hearth ships maps to the
// program its Dockerfile runs, taken from this checkout. image-table.test.ts
// keeps this table and the Dockerfiles in agreement. An image missing here
// fails to "pull", as it would on a kubelet whose registry lacks it.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBinDir } from '../binaries.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ImageEntry {
  /** Registry and repository, any tag: `ghcr.io/hearth-dev/gateway`. */
  repository: string;
  /** Dockerfile (relative to the repo) and stage that build it; none for third-party images. */
  dockerfile?: { path: string; target?: string };
  /** ENTRYPOINT and CMD as the Dockerfile writes them (image paths). */
  entrypoint: string[];
  cmd: string[];
  /** ENV of the image; PATH only where the base image sets one beyond the usual (the machine's programs are the image's). */
  env: Record<string, string>;
  workingDir?: string;
  /** USER of the image as a number; undefined means root. */
  user?: { uid: number; gid: number };
  /** Image path prefix → checkout path: where the file the image copies lives here. */
  paths: Record<string, string>;
  /**
   * Directories the image carries that are built into it rather than copied
   * (a warmed cache): image path → where a script prepared them on this
   * machine. The node bind-mounts them read-only, as the image's own layers are.
   */
  imageDirs?: Record<string, () => string>;
}

const lambdaEnv = { LAMBDA_TASK_ROOT: '/var/task', LAMBDA_RUNTIME_DIR: '/var/runtime', TZ: ':UTC' };

function hearthImage(component: 'gateway' | 'controller' | 'agent'): ImageEntry {
  return {
    repository: `ghcr.io/hearth-dev/${component}`,
    dockerfile: { path: 'images/hearth.Dockerfile', target: component },
    // Pods' args (the chart's, the controller's agent sidecar) replace CMD and name the subcommand first.
    entrypoint: ['node', '/app/dist/cli/main.js'],
    cmd: [component],
    env: { NODE_ENV: 'production' },
    workingDir: '/app',
    user: { uid: 10001, gid: 10001 },
    paths: { '/app': repoRoot },
  };
}

export const imageTable: readonly ImageEntry[] = [
  hearthImage('gateway'),
  hearthImage('controller'),
  hearthImage('agent'),
  {
    repository: 'ghcr.io/hearth-dev/runtime-python',
    dockerfile: { path: 'runtimes/python/Dockerfile' },
    entrypoint: [],
    cmd: ['python3', '/var/runtime/bootstrap.py'],
    env: { ...lambdaEnv, PYTHONDONTWRITEBYTECODE: '1' },
    workingDir: '/var/task',
    user: { uid: 10001, gid: 10001 },
    paths: { '/var/runtime/bootstrap.py': join(repoRoot, 'runtimes/python/bootstrap.py') },
  },
  {
    repository: 'ghcr.io/hearth-dev/runtime-nodejs',
    dockerfile: { path: 'runtimes/nodejs/Dockerfile' },
    entrypoint: [],
    cmd: ['node', '/var/runtime/bootstrap.mjs'],
    env: { ...lambdaEnv, NODE_PATH: '/opt/nodejs/node_modules' },
    workingDir: '/var/task',
    user: { uid: 10001, gid: 10001 },
    paths: { '/var/runtime/bootstrap.mjs': join(repoRoot, 'runtimes/nodejs/bootstrap.mjs') },
  },
  {
    repository: 'ghcr.io/hearth-dev/runtime-go',
    dockerfile: { path: 'runtimes/go/Dockerfile', target: 'runtime' },
    entrypoint: [],
    cmd: ['/var/runtime/start.sh'],
    // PATH as the golang base image sets it; /usr/local/go is where this machine's Go is too.
    env: { PATH: '/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LAMBDA_TASK_ROOT: '/var/task', GOTOOLCHAIN: 'local', GOPATH: '/go', GOCACHE: '/go/cache', HEARTH_GO_BUILD_DIR: '/tmp/hearth-go-build' },
    workingDir: '/var/task',
    user: { uid: 10001, gid: 10001 },
    paths: { '/var/runtime/start.sh': join(repoRoot, 'runtimes/go/start.sh') },
    // The Dockerfile warms /go with aws-lambda-go; test/cluster/prepare-go-image.sh does the same here.
    imageDirs: { '/go': () => join(cachedBinDir(), '..', 'go-image') },
  },
  {
    repository: 'ghcr.io/hearth-dev/runtime-provided',
    dockerfile: { path: 'runtimes/provided/Dockerfile' },
    entrypoint: [],
    cmd: [
      '/bin/sh', '-c',
      'for b in "$LAMBDA_TASK_ROOT/bootstrap" /opt/bootstrap "$LAMBDA_RUNTIME_DIR/bootstrap"; do if [ -f "$b" ] && [ -x "$b" ]; then exec "$b"; fi; done; echo \'runtime provided: no executable bootstrap in /var/task, /opt or /var/runtime\' >&2; exit 127',
    ],
    env: lambdaEnv,
    workingDir: '/var/task',
    user: { uid: 10001, gid: 10001 },
    paths: {},
  },
  {
    // The chart's bundled Redis; the Debian redis-server stands in for the official image's.
    repository: 'docker.io/library/redis',
    entrypoint: ['docker-entrypoint.sh'],
    cmd: ['redis-server'],
    env: {},
    workingDir: '/data',
    user: undefined,
    paths: {},
  },
];

/** `redis:7` → `docker.io/library/redis`; `ghcr.io/x/y:1@sha256:…` → `ghcr.io/x/y`. */
export function imageRepository(image: string): string {
  let ref = image.split('@')[0] ?? image;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const first = ref.split('/')[0] ?? '';
  const hasRegistry = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}

export function lookupImage(image: string): ImageEntry | undefined {
  const repo = imageRepository(image);
  return imageTable.find((e) => e.repository === repo);
}

/**
 * Where the containers of the node with this work directory see the
 * checkout. The node bind-mounts it there, so that neither the checkout's
 * place on the machine (under a directory only root may enter, as a
 * `mktemp -d` is) nor a volume mounted over one of its parents (a pod's /tmp
 * emptyDir, with the checkout cloned under /tmp) keeps an image's files from
 * its containers. One per node, so that two nodes never share a mount target.
 */
export function checkoutMountPoint(nodeWorkDir: string): string {
  return `/run/hearth-checkout-${basename(nodeWorkDir)}`;
}

/** A checkout path as a container sees it under `mountPoint`; other words are left alone. */
export function inContainer(word: string, mountPoint: string): string {
  if (word === repoRoot) return mountPoint;
  return word.startsWith(`${repoRoot}/`) ? join(mountPoint, word.slice(repoRoot.length + 1)) : word;
}

/** Rewrites an image path to the checkout file it stands for; other words are left alone. */
export function toCheckoutPath(entry: ImageEntry, word: string): string {
  for (const [prefix, local] of Object.entries(entry.paths)) {
    if (word === prefix) return local;
    if (word.startsWith(`${prefix}/`)) return join(local, word.slice(prefix.length + 1));
  }
  return word;
}

/**
 * The docker-entrypoint.sh of the official Redis image drops to the redis
 * user and execs its arguments; here the pod's own securityContext does the
 * former, so the entrypoint reduces to running its arguments.
 */
export function resolveProgram(entry: ImageEntry, argv: string[]): string[] {
  const out = argv[0] === 'docker-entrypoint.sh' ? argv.slice(1) : argv;
  return out.map((w) => toCheckoutPath(entry, w));
}

export function checkoutHasImage(entry: ImageEntry): boolean {
  return Object.values(entry.paths).every((p) => existsSync(p));
}
