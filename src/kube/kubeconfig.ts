// Credentials for the API server without @kubernetes/client-node: importing
// that package loads its ~800 generated model and API modules (about 65 MiB
// of the controller's resident memory, measured with `npm run bench --
// controller`), while the controller needs only a server, a CA and a token or
// client certificate. This reads kubeconfig files (and the in-cluster service
// account) for those cases; a user authenticated by an exec plugin or an
// auth-provider, or a cluster behind a proxy, is handed to client-node's
// KubeConfig, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { KubeAccess } from './rest.js';

const SERVICEACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token file's content is trusted: projected tokens rotate (client-go and client-node re-read each minute). */
const TOKEN_FILE_TTL_MS = 60_000;

interface ClusterEntry {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  'token-file'?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  as?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: { name: string; cluster: ClusterEntry }[];
  users?: { name: string; user: UserEntry }[];
  contexts?: { name: string; context: { cluster: string; user?: string } }[];
}

/** The current context of a kubeconfig, its relative paths made absolute. */
interface Resolved {
  cluster: ClusterEntry;
  user: UserEntry;
}

function absolute(dir: string, file: string | undefined): string | undefined {
  return file === undefined || isAbsolute(file) ? file : join(dir, file);
}

function readKubeconfig(path: string): KubeconfigFile {
  return (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
}

/** Merges files as kubectl does: the first file that sets a name (or the current context) wins. */
function resolve(files: readonly string[]): Resolved {
  const clusters = new Map<string, ClusterEntry>();
  const users = new Map<string, UserEntry>();
  const contexts = new Map<string, { cluster: string; user?: string }>();
  let current: string | undefined;
  for (const file of files) {
    const doc = readKubeconfig(file);
    const dir = dirname(file);
    current ??= doc['current-context'];
    for (const c of doc.clusters ?? []) {
      if (!clusters.has(c.name)) clusters.set(c.name, { ...c.cluster, 'certificate-authority': absolute(dir, c.cluster['certificate-authority']) } as ClusterEntry);
    }
    for (const u of doc.users ?? []) {
      if (users.has(u.name)) continue;
      const user = u.user ?? {};
      users.set(u.name, {
        ...user,
        'client-certificate': absolute(dir, user['client-certificate']),
        'client-key': absolute(dir, user['client-key']),
        tokenFile: absolute(dir, user.tokenFile ?? user['token-file']),
      } as UserEntry);
    }
    for (const c of doc.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c.context);
  }
  const context = current !== undefined ? contexts.get(current) : undefined;
  const cluster = context !== undefined ? clusters.get(context.cluster) : undefined;
  if (cluster === undefined) throw new Error(`kubeconfig ${files.join(delimiter)}: no cluster for the current context ${current ?? '(none set)'}`);
  return { cluster, user: (context?.user !== undefined ? users.get(context.user) : undefined) ?? {} };
}

function inCluster(): Resolved {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  return {
    cluster: { server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`, 'certificate-authority': `${SERVICEACCOUNT}/ca.crt` },
    user: { tokenFile: `${SERVICEACCOUNT}/token` },
  };
}

/** What this file cannot do itself: client-node's KubeConfig does it. */
function needsClientNode(r: Resolved): boolean {
  return r.user.exec !== undefined || r.user['auth-provider'] !== undefined || r.cluster['proxy-url'] !== undefined;
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  return file !== undefined ? readFileSync(file) : undefined;
}

/** A kubeconfig's current context, as KubeRest and the informers use it. */
export class LightKubeConfig implements KubeAccess {
  readonly #r: Resolved;
  readonly #tls: Pick<https.RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  #token: { value: string; readAt: number } | undefined;

  constructor(r: Resolved) {
    this.#r = r;
    const { cluster, user } = r;
    const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
    const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
    const key = fileOrData(user['client-key'], user['client-key-data']);
    // Read once: certificates in a kubeconfig do not rotate under a running process (client-node reads them per call, to the same effect).
    this.#tls = {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
      ...(cluster['tls-server-name'] !== undefined ? { servername: cluster['tls-server-name'] } : {}),
    };
  }

  getCurrentCluster(): { server: string } {
    return { server: this.#r.cluster.server };
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    Object.assign(opts, this.#tls);
    const headers = (opts.headers ??= {}) as Record<string, string>;
    const token = this.#currentToken();
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (this.#r.user.as !== undefined) headers['Impersonate-User'] = this.#r.user.as;
    if (this.#r.user.username !== undefined) opts.auth = `${this.#r.user.username}:${this.#r.user.password ?? ''}`;
    return Promise.resolve();
  }

  #currentToken(): string | undefined {
    const { token, tokenFile } = this.#r.user;
    if (token !== undefined) return token;
    if (tokenFile === undefined) return undefined;
    const now = Date.now();
    if (this.#token === undefined || now - this.#token.readAt > TOKEN_FILE_TTL_MS) this.#token = { value: readFileSync(tokenFile, 'utf8').trim(), readAt: now };
    return this.#token.value;
  }
}

async function clientNode(load: (kc: import('@kubernetes/client-node').KubeConfig) => void): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  load(kc);
  return kc;
}

/** The kubeconfig at path (kubectl's merge of KUBECONFIG's list when path is a list). */
export async function loadKubeconfig(path: string): Promise<KubeAccess> {
  const files = path.split(delimiter).filter((f) => f.length > 0);
  const r = resolve(files);
  return needsClientNode(r) ? clientNode((kc) => kc.loadFromFile(path)) : new LightKubeConfig(r);
}

/**
 * ~/.kube/config, or nothing when there is no home: a container started with
 * no HOME under a uid without a passwd entry makes homedir() throw, and the
 * pod's service account is then the answer.
 */
function homeKubeconfig(): string | undefined {
  try {
    return join(homedir(), '.kube', 'config');
  } catch {
    return undefined;
  }
}

/** As kubectl and client-node look: KUBECONFIG, then ~/.kube/config, then the pod's service account. */
export async function loadDefaultKubeconfig(): Promise<KubeAccess> {
  const env = process.env.KUBECONFIG;
  if (env !== undefined && env.length > 0) {
    const files = env.split(delimiter).filter((f) => f.length > 0);
    const r = resolve(files);
    return needsClientNode(r) ? clientNode((kc) => kc.loadFromDefault()) : new LightKubeConfig(r);
  }
  const home = homeKubeconfig();
  if (home !== undefined && existsSync(home)) return loadKubeconfig(home);
  if (existsSync(`${SERVICEACCOUNT}/token`)) return new LightKubeConfig(inCluster());
  return new LightKubeConfig({ cluster: { server: 'http://localhost:8080' }, user: {} });
}
