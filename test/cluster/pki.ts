import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  tokenFile: string;
  /** PEM of the CA, for clients that verify the API server. */
  caPem: string;
  tokens: { admin: string; controllerManager: string; scheduler: string };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr || String(err)}`);
  }
}

/**
 * Makes a throwaway CA and an API server certificate signed by it, so every
 * client (tests, controller-manager, scheduler, kwok) verifies TLS instead of
 * skipping it, and so the controller-manager can hand the CA to pods as the
 * ServiceAccount root CA. The service-account key pair signs and checks SA tokens.
 */
export async function makePki(dir: string, sans: { ips: string[]; dns: string[] }): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (f: string): string => join(dir, f);

  await openssl(['genrsa', '-out', p('ca.key'), '2048']);
  await openssl(['req', '-x509', '-new', '-key', p('ca.key'), '-sha256', '-days', '30', '-subj', '/CN=hearth-test-ca', '-out', p('ca.crt')]);

  await openssl(['genrsa', '-out', p('apiserver.key'), '2048']);
  await openssl(['req', '-new', '-key', p('apiserver.key'), '-subj', '/CN=kube-apiserver', '-out', p('apiserver.csr')]);
  const altNames = [...sans.ips.map((ip) => `IP:${ip}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',');
  await writeFile(
    p('apiserver.ext'),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames}\n`,
  );
  await openssl(['x509', '-req', '-in', p('apiserver.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-days', '30', '-sha256', '-extfile', p('apiserver.ext'), '-out', p('apiserver.crt')]);

  await openssl(['genrsa', '-out', p('sa.key'), '2048']);
  await openssl(['rsa', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]);

  const token = (): string => randomBytes(24).toString('hex');
  const tokens = { admin: token(), controllerManager: token(), scheduler: token() };
  // The components get their own identities so the bootstrap RBAC roles are
  // exercised as in a real cluster; only the admin is in system:masters.
  await writeFile(
    p('tokens.csv'),
    [
      `${tokens.admin},admin,admin,"system:masters"`,
      `${tokens.controllerManager},system:kube-controller-manager,kcm`,
      `${tokens.scheduler},system:kube-scheduler,scheduler`,
    ].join('\n') + '\n',
    { mode: 0o600 },
  );

  return {
    dir,
    caCert: p('ca.crt'),
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
    tokenFile: p('tokens.csv'),
    caPem: await readFile(p('ca.crt'), 'utf8'),
    tokens,
  };
}
