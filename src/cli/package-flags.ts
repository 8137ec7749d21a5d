// `hearth gateway`'s flags for packages uploaded through the control-plane
// API: where they are kept (--packages redis|s3 and the bucket's flags; S3
// credentials and the signing key from the environment, as the chart passes
// them from Secrets), and the gateway's in-cluster URL Functions name them by.
// Pure: the flags and environment in, the settings or the problem out.
import { SIGNING_KEY_ENV, signingKeyFrom } from '../uploads/signing-key.js';
import type { ClusterPackages } from '../uploads/cluster-uploads.js';

export const PACKAGE_OPTIONS = {
  packages: { type: 'string', default: 'redis' },
  'packages-s3-endpoint': { type: 'string' },
  'packages-s3-bucket': { type: 'string' },
  'packages-s3-region': { type: 'string' },
  'packages-s3-prefix': { type: 'string' },
  'package-url-base': { type: 'string' },
} as const;

export const S3_ACCESS_KEY_ENV = 'HEARTH_PACKAGES_S3_ACCESS_KEY_ID';
export const S3_SECRET_KEY_ENV = 'HEARTH_PACKAGES_S3_SECRET_ACCESS_KEY';

export const PACKAGE_FLAGS_HELP = `  --packages STORE       where packages uploaded through the API (ZipFile) are kept: redis (the
                         gateway's Redis, default) or s3
  --packages-s3-endpoint URL, --packages-s3-bucket B, --packages-s3-region R (default us-east-1),
  --packages-s3-prefix P an S3-compatible bucket for --packages s3 (path-style); credentials from
                         ${S3_ACCESS_KEY_ENV} and ${S3_SECRET_KEY_ENV}
  --package-url-base URL this gateway's in-cluster Service URL: Functions name uploaded packages
                         by URLs under it, signed with ${SIGNING_KEY_ENV}
                         (at least 32 characters, the same for every replica); without it
                         uploads are off`;

export interface PackageFlags {
  packages?: string | undefined;
  'packages-s3-endpoint'?: string | undefined;
  'packages-s3-bucket'?: string | undefined;
  'packages-s3-region'?: string | undefined;
  'packages-s3-prefix'?: string | undefined;
  'package-url-base'?: string | undefined;
}

/** The settings, undefined when uploads are off (no --package-url-base), or the problem to print. */
export function packageSettings(v: PackageFlags, env: NodeJS.ProcessEnv): ClusterPackages | undefined | string {
  const kind = v.packages ?? 'redis';
  if (kind !== 'redis' && kind !== 's3') return `--packages takes redis or s3, not ${kind}`;
  const base = v['package-url-base'];
  if (base === undefined || base === '') {
    return kind === 's3' ? '--packages s3 needs --package-url-base (the gateway Service URL Functions fetch packages from)' : undefined;
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return `--package-url-base must be a URL, not ${base}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `--package-url-base must be http(s)://, not ${base}`;
  const keyText = env[SIGNING_KEY_ENV];
  if (keyText === undefined || keyText === '') return `${SIGNING_KEY_ENV} must hold the package signing key when --package-url-base is given`;
  let signingKey: Buffer;
  try {
    signingKey = signingKeyFrom(keyText, SIGNING_KEY_ENV);
  } catch (err) {
    return (err as Error).message;
  }
  if (kind === 'redis') return { store: { kind: 'redis' }, packageUrlBase: base, signingKey };
  const endpoint = v['packages-s3-endpoint'];
  const bucket = v['packages-s3-bucket'];
  if (!endpoint || !bucket) return '--packages s3 needs --packages-s3-endpoint and --packages-s3-bucket';
  try {
    const e = new URL(endpoint);
    if (e.protocol !== 'http:' && e.protocol !== 'https:') throw new Error();
  } catch {
    return `--packages-s3-endpoint must be an http(s):// URL, not ${endpoint}`;
  }
  const accessKeyId = env[S3_ACCESS_KEY_ENV];
  const secretAccessKey = env[S3_SECRET_KEY_ENV];
  if (!accessKeyId || !secretAccessKey) return `--packages s3 needs ${S3_ACCESS_KEY_ENV} and ${S3_SECRET_KEY_ENV}`;
  const region = v['packages-s3-region'];
  const prefix = v['packages-s3-prefix'];
  return {
    store: {
      kind: 's3',
      s3: { endpoint, bucket, credentials: { accessKeyId, secretAccessKey }, ...(region ? { region } : {}), ...(prefix ? { prefix } : {}) },
    },
    packageUrlBase: base,
    signingKey,
  };
}
