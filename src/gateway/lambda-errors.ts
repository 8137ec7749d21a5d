// Lambda's REST errors: the error type travels in the x-amzn-ErrorType
// header and the JSON body, which is what AWS's SDKs read.

export type LambdaErrorType =
  | 'ResourceNotFoundException'
  | 'RequestTooLargeException'
  | 'RequestTimeoutException'
  | 'TooManyRequestsException'
  | 'InvalidRequestContentException'
  | 'InvalidParameterValueException'
  | 'UnsupportedMediaTypeException'
  | 'ResourceNotReadyException'
  | 'ServiceException'
  | 'UnrecognizedClientException'
  | 'AccessDeniedException'
  | 'InvalidSignatureException'
  | 'UnknownOperationException'
  | 'ResourceConflictException'
  | 'PreconditionFailedException'
  | 'RequestEntityTooLargeException'
  | 'ProvisionedConcurrencyConfigNotFoundException';

export class LambdaError extends Error {
  constructor(
    readonly status: number,
    readonly type: LambdaErrorType,
    message: string,
    /** Extra body fields, e.g. Reason for throttles. */
    readonly extra: Record<string, unknown> = {},
    /** Seconds after which a retry makes sense (Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = type;
  }

  body(): Record<string, unknown> {
    return { Type: this.status >= 500 ? 'Service' : 'User', message: this.message, ...this.extra };
  }
}

export const notFound = (arn: string) => new LambdaError(404, 'ResourceNotFoundException', `Function not found: ${arn}`);

export const tooLarge = (limit: number) => new LambdaError(413, 'RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);

// Lambda's model carries retryAfterSeconds in the Retry-After header only (sendLambdaError sets it), not in the body.
export const throttled = (reason: string, retryAfterSeconds = 1) => new LambdaError(429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: reason }, retryAfterSeconds);

export const badContent = (detail: string) => new LambdaError(400, 'InvalidRequestContentException', `Could not parse request body into json: ${detail}`);

export const badParameter = (message: string) => new LambdaError(400, 'InvalidParameterValueException', message);
