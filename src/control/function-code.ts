// The code a CreateFunction or UpdateFunctionCode request sends: a ZIP as
// base64 (ZipFile, up to Lambda's 50 MB once decoded) or a container image
// (ImageUri). S3 locations are refused: Hearth has no S3 to import from.
// The ZIP's bytes are checked and stored by the caller through Uploads. Pure.
import { LambdaError, badParameter } from '../gateway/lambda-errors.js';
import { LAMBDA_LIMITS } from '../packages/limits.js';
import { optionalString, refuseUnsupported, type Body } from './body-fields.js';

export type CodeRequest = { zip: Buffer } | { image: string };

/** Lambda's limit on a request carrying a ZIP: the base64 of 50 MB (what Lambda itself names in its 413). */
export const ZIP_REQUEST_BYTES = Math.ceil((LAMBDA_LIMITS.zippedBytes * 4) / 3);
/** The route's body limit: the base64 ZIP plus room for the rest of the JSON (environment, tags, descriptions). */
export const CODE_BODY_LIMIT = ZIP_REQUEST_BYTES + 1024 * 1024;

export function requestTooLarge(operation: string): LambdaError {
  return new LambdaError(413, 'RequestEntityTooLargeException', `Request must be smaller than ${ZIP_REQUEST_BYTES} bytes for the ${operation} operation`);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The ZIP's bytes from base64; 413 beyond 50 MB, 400 when it is not base64. */
export function decodeZipFile(value: unknown, field: string, operation: string): Buffer {
  if (typeof value !== 'string' || value === '') throw badParameter(`${field} must be the ZIP file's bytes in base64`);
  const text = value.replace(/\s+/g, '');
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw badParameter(`${field} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > LAMBDA_LIMITS.zippedBytes) throw requestTooLarge(operation);
  return bytes;
}

/** CreateFunction's Code member, read with its PackageType. */
export function createCode(body: Body, packageType: 'Zip' | 'Image'): CodeRequest {
  const code = body.Code;
  if (code === undefined || code === null || typeof code !== 'object' || Array.isArray(code)) throw badParameter('Code is required: ZipFile (base64) or ImageUri');
  return codeRequest(code as Body, packageType, 'Code.', 'CreateFunction');
}

/** UpdateFunctionCode's body (ZipFile or ImageUri at the top), against the function's current PackageType. */
export function updateCode(body: Body, packageType: 'Zip' | 'Image'): CodeRequest {
  return codeRequest(body, packageType, '', 'UpdateFunctionCode');
}

function codeRequest(code: Body, packageType: 'Zip' | 'Image', prefix: string, operation: string): CodeRequest {
  refuseUnsupported(code, prefix);
  const image = optionalString(code, 'ImageUri', 1024);
  const zip = code.ZipFile;
  const hasZip = zip !== undefined && zip !== null && zip !== '';
  if (hasZip && image !== undefined && image !== '') throw badParameter(`${prefix}ZipFile and ${prefix}ImageUri are mutually exclusive`);
  if (packageType === 'Image') {
    if (hasZip) throw badParameter('Please don\'t provide ZipFile for a function with packageType Image: provide ImageUri');
    if (image === undefined || image === '') throw badParameter(`Please provide ${prefix}ImageUri for a function with packageType Image.`);
    return { image };
  }
  if (image !== undefined && image !== '') throw badParameter(`Please don't provide ${prefix}ImageUri when the packageType is Zip.`);
  if (!hasZip) throw badParameter(`${prefix}ZipFile is required: the ZIP file's bytes in base64 (S3 locations are not supported by Hearth)`);
  return { zip: decodeZipFile(zip, `${prefix}ZipFile`, operation) };
}
