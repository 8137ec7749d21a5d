// Lambda's function URL configuration over what Hearth has: every function
// (and each of its aliases) already has a URL, /fn/NAME[:ALIAS]/,
// authorised as the gateway authorises every call (AWS_IAM when it
// authenticates callers, NONE when it is open), without CORS handling, and
// answering in its invoke mode: spec.url.invokeMode, or the alias's
// url.invokeMode (BUFFERED when unset). So GetFunctionUrlConfig shows it;
// CreateFunctionUrlConfig and UpdateFunctionUrlConfig set the InvokeMode
// (Create to what it names, BUFFERED when it names none, as a new Lambda URL
// is; Update only when it names one) and refuse any AuthType or CORS the URL
// cannot have with 400, naming what Hearth cannot do; a URL cannot be
// removed (DeleteFunctionUrlConfig is refused). Pure.
import { URL_INVOKE_MODES, type FunctionSpecInput, type FunctionUrl, type UrlInvokeMode } from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { optionalString, type Body } from './body-fields.js';
import { lambdaTime } from './revision.js';

export type UrlAuthType = 'NONE' | 'AWS_IAM';

export function functionUrlConfig(url: string, functionArn: string, authType: UrlAuthType, lastModified: string | undefined, invokeMode: UrlInvokeMode = 'BUFFERED'): Record<string, unknown> {
  const t = lambdaTime(lastModified) ?? lambdaTime(new Date(0).toISOString());
  return { FunctionUrl: url, FunctionArn: functionArn, AuthType: authType, CreationTime: t, LastModifiedTime: t, InvokeMode: invokeMode };
}

/** The invoke mode a function's or alias's url settings give (BUFFERED when unset). */
export function urlInvokeMode(url: Partial<FunctionUrl> | undefined): UrlInvokeMode {
  return url?.invokeMode ?? 'BUFFERED';
}

function isEmptyCors(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.values(v as Body).every((x) => x === undefined || x === null || x === false || (Array.isArray(x) && x.length === 0));
}

function isInvokeMode(v: string): v is UrlInvokeMode {
  return (URL_INVOKE_MODES as readonly string[]).includes(v);
}

/**
 * Checks a Create (`create`) or Update body against what the URL can be and
 * says which invoke mode to write: for Create the one named or BUFFERED, for
 * Update the one named, if any (undefined: leave it as it is).
 */
export function checkUrlConfig(body: Body, authType: UrlAuthType, create: boolean): { invokeMode?: UrlInvokeMode } {
  const asked = optionalString(body, 'AuthType', 16);
  if (asked === undefined && create) throw badParameter("AuthType is required: 'NONE' or 'AWS_IAM'");
  if (asked !== undefined && asked !== 'NONE' && asked !== 'AWS_IAM') throw badParameter("AuthType must be 'NONE' or 'AWS_IAM'");
  if (asked !== undefined && asked !== authType) {
    throw badParameter(
      `AuthType ${asked}: Hearth's function URLs are authorised as the gateway authorises every call, which here is ${authType} (${authType === 'AWS_IAM' ? 'callers from its credentials file' : 'no credentials file: open'})`,
    );
  }
  const mode = optionalString(body, 'InvokeMode', 32);
  if (mode !== undefined && !isInvokeMode(mode)) throw badParameter(`InvokeMode ${mode}: must be 'BUFFERED' or 'RESPONSE_STREAM'`);
  if (!isEmptyCors(body.Cors)) throw badParameter('Cors: Hearth\'s function URLs do not answer CORS; the function can set the headers itself');
  const invokeMode = mode ?? (create ? 'BUFFERED' : undefined);
  return invokeMode !== undefined ? { invokeMode } : {};
}

/** The function's spec with its own URL's invoke mode set. */
export function withUrlInvokeMode(spec: FunctionSpecInput, invokeMode: UrlInvokeMode): FunctionSpecInput {
  return { ...spec, url: { ...spec.url, invokeMode } };
}

export function urlQualifier(q: string | undefined): string | undefined {
  if (q === undefined || q === '') return undefined;
  if (/^\d+$/.test(q)) throw badParameter(`Qualifier ${q}: a function URL belongs to the function or one of its aliases, not a version number`);
  return q;
}
