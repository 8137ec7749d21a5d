// Where a mapping's failed batches go (destinationConfig.onFailure.destination),
// parsed once so a bad destination is a clear problem on the mapping rather
// than a failure at the first poison record. Lambda's stream destinations are
// SQS, SNS, S3 and (for Kafka) kafka://TOPIC; Hearth keeps kafka:// and offers
// in their place the kinds it has: a function (invoked asynchronously with
// the failure record), a Redis stream and an HTTP URL.

export type OnFailureTarget =
  | { kind: 'function'; functionName: string; qualifier?: string }
  | { kind: 'kafka-topic'; topic: string }
  | { kind: 'redis-stream'; key: string }
  | { kind: 'url'; url: string };

export type ParsedOnFailure = { ok: true; target: OnFailureTarget } | { ok: false; message: string };

/** A Hearth Function's name (a DNS label, as EventSourceMapping.functionName). */
const FUNCTION_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIER = /^(\$LATEST|[0-9]+|[a-zA-Z0-9_-]{1,128})$/;
/** Lambda's kafka:// pattern: a topic name that does not start with a dot. */
const KAFKA_TOPIC = /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,248}$/;
const LAMBDA_FUNCTION_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]*:\d{12}:function:([^:]+)(?::([^:]+))?$/;
const ANY_ARN = /^arn:[^:]*:([^:]*):/;

const FORMS = 'a function (NAME, NAME:QUALIFIER or arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), kafka://TOPIC, redis-stream://KEY or an http(s):// URL';

function bad(destination: string, why: string): ParsedOnFailure {
  return { ok: false, message: `onFailure destination "${destination}": ${why}; it must be ${FORMS}` };
}

function functionTarget(destination: string, name: string, qualifier: string | undefined): ParsedOnFailure {
  if (name.length > 64 || !FUNCTION_NAME.test(name)) return bad(destination, `"${name}" is not a Function name (lowercase letters, digits and -, at most 64)`);
  if (qualifier === undefined) return { ok: true, target: { kind: 'function', functionName: name } };
  if (!QUALIFIER.test(qualifier)) return bad(destination, `"${qualifier}" is not a qualifier ($LATEST, a version number or an alias name)`);
  return { ok: true, target: { kind: 'function', functionName: name, qualifier } };
}

export function parseOnFailure(destination: string): ParsedOnFailure {
  const d = destination.trim();
  if (d === '') return bad(destination, 'it is empty');
  if (d.startsWith('kafka://')) {
    const topic = d.slice('kafka://'.length);
    if (!KAFKA_TOPIC.test(topic)) return bad(destination, `"${topic}" is not a Kafka topic name (letters, digits, ., _ and -, not starting with a dot, at most 249)`);
    return { ok: true, target: { kind: 'kafka-topic', topic } };
  }
  if (d.startsWith('redis-stream://')) {
    const key = d.slice('redis-stream://'.length);
    if (key === '' || key.length > 512) return bad(destination, 'the stream key must have 1 to 512 characters');
    return { ok: true, target: { kind: 'redis-stream', key } };
  }
  if (/^https?:\/\//i.test(d)) {
    let url: URL;
    try {
      url = new URL(d);
    } catch {
      return bad(destination, 'it is not a valid URL');
    }
    if (url.hostname === '') return bad(destination, 'the URL has no host');
    return { ok: true, target: { kind: 'url', url: url.toString() } };
  }
  if (d.startsWith('arn:')) {
    const fn = LAMBDA_FUNCTION_ARN.exec(d);
    if (fn) return functionTarget(destination, fn[1] as string, fn[2]);
    const service = ANY_ARN.exec(d)?.[1];
    return bad(destination, service ? `Hearth has no ${service.toUpperCase()} destinations` : 'it is not a Lambda function ARN');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(d)) return bad(destination, `the ${d.slice(0, d.indexOf(':'))}:// scheme is not supported`);
  const [name, qualifier, ...more] = d.split(':');
  if (more.length > 0) return bad(destination, 'a function is NAME or NAME:QUALIFIER');
  return functionTarget(destination, name as string, qualifier);
}
