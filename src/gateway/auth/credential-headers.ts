// Which headers of a request carried Hearth's own credentials, so a function
// URL event never hands them to the function. Pure.
//
// With authentication on, every /fn request has proved who it is with one of
// Hearth's schemes: Authorization: Bearer KEY or X-Api-Key (an API key), or
// an AWS Signature Version 4 in Authorization with its X-Amz-Date (and
// X-Amz-Content-Sha256 or X-Amz-Security-Token when sent). Those headers are
// the platform's, as a function URL with AuthType AWS_IAM uses the signature
// and does not give it to the function. Without authentication nothing is
// Hearth's, so everything reaches the function, as on a function URL whose
// AuthType is NONE.

/** How the request authenticated, as the auth plugin found it; undefined when authentication is off. */
export type PresentedCredential = 'api-key' | 'sigv4';

const API_KEY_HEADERS: readonly string[] = ['authorization', 'x-api-key'];
const SIGV4_HEADERS: readonly string[] = [...API_KEY_HEADERS, 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

/** Lower-case names of the headers to leave out of what the function sees. */
export function credentialHeaders(presented: PresentedCredential | undefined): readonly string[] {
  if (presented === 'sigv4') return SIGV4_HEADERS;
  if (presented === 'api-key') return API_KEY_HEADERS;
  return [];
}

/** A copy of `headers` (names as Node gives them, lower case) without the credential headers. */
export function withoutCredentials<V>(headers: Record<string, V>, presented: PresentedCredential | undefined): Record<string, V> {
  const drop = credentialHeaders(presented);
  if (drop.length === 0) return headers;
  const kept: Record<string, V> = {};
  for (const [k, v] of Object.entries(headers)) if (!drop.includes(k.toLowerCase())) kept[k] = v;
  return kept;
}
