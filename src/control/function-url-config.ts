// Lambda's function URL configuration over what Hearth has: every function
// (and each of its aliases) already has a URL, /fn/NAME[:ALIAS]/, served
// buffered, authorised as the gateway authorises every call (AWS_IAM when it
// authenticates callers, NONE when it is open), without CORS handling. So
// GetFunctionUrlConfig shows it; CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig accept exactly that configuration (answering it)
// and refuse any other with 400, naming what Hearth cannot do; a URL cannot
// be removed (DeleteFunctionUrlConfig is refused). Pure.
import { badParameter } from '../gateway/lambda-errors.js';
import { optionalString, type Body } from './body-fields.js';
import { lambdaTime } from './revision.js';

export type UrlAuthType = 'NONE' | 'AWS_IAM';

export function functionUrlConfig(url: string, functionArn: string, authType: UrlAuthType, lastModified: string | undefined): Record<string, unknown> {
  const t = lambdaTime(lastModified) ?? lambdaTime(new Date(0).toISOString());
  return { FunctionUrl: url, FunctionArn: functionArn, AuthType: authType, CreationTime: t, LastModifiedTime: t, InvokeMode: 'BUFFERED' };
}

function isEmptyCors(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.values(v as Body).every((x) => x === undefined || x === null || x === false || (Array.isArray(x) && x.length === 0));
}

/** Checks a Create/Update body asks for what the URL already is. */
export function checkUrlConfig(body: Body, authType: UrlAuthType, required: boolean): void {
  const asked = optionalString(body, 'AuthType', 16);
  if (asked === undefined && required) throw badParameter("AuthType is required: 'NONE' or 'AWS_IAM'");
  if (asked !== undefined && asked !== 'NONE' && asked !== 'AWS_IAM') throw badParameter("AuthType must be 'NONE' or 'AWS_IAM'");
  if (asked !== undefined && asked !== authType) {
    throw badParameter(
      `AuthType ${asked}: Hearth's function URLs are authorised as the gateway authorises every call, which here is ${authType} (${authType === 'AWS_IAM' ? 'callers from its credentials file' : 'no credentials file: open'})`,
    );
  }
  const mode = optionalString(body, 'InvokeMode', 32);
  if (mode !== undefined && mode !== 'BUFFERED') throw badParameter(`InvokeMode ${mode}: Hearth's function URLs answer BUFFERED only`);
  if (!isEmptyCors(body.Cors)) throw badParameter('Cors: Hearth\'s function URLs do not answer CORS; the function can set the headers itself');
}

export function urlQualifier(q: string | undefined): string | undefined {
  if (q === undefined || q === '') return undefined;
  if (/^\d+$/.test(q)) throw badParameter(`Qualifier ${q}: a function URL belongs to the function or one of its aliases, not a version number`);
  return q;
}
