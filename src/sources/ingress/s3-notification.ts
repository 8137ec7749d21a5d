// Bucket notifications from S3-compatible stores, normalised into the event
// AWS's S3 delivers to a Lambda function. Stores speak dialects of it:
// versitygw prefixes eventName with "s3:", keeps the eTag's quotes, sends
// keys raw, spells userIdentity's member PrincipalId and puts the object's
// path into the bucket ARN; MinIO says eventSource "minio:s3", leaves
// awsRegion empty and query-escapes keys ("/" as %2F); an SNS topic (AWS's,
// or moto's) wraps the event in an envelope whose Message is its JSON.
// Each store's test event is recognised so it invokes nothing. Pure.

export type S3Dialect = 'aws' | 'versitygw' | 'minio';

/** An S3 event record exactly as AWS writes it (members in AWS's order). */
export interface S3EventRecord {
  eventVersion: string;
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: string;
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer?: string };
  };
  glacierEventData?: unknown;
}

export interface S3Event {
  Records: S3EventRecord[];
}

export type S3Notification =
  | { kind: 'records'; event: S3Event; dialect: S3Dialect }
  /** A store's (or AWS's) s3:TestEvent, sent when notifications are configured: answered, nothing invoked. */
  | { kind: 'test' }
  /** An SNS subscription confirmation: Hearth does not follow its SubscribeURL on its own. */
  | { kind: 'sns-confirmation'; topicArn: string }
  | { kind: 'invalid'; message: string };

/** What AWS's S3 writes for every event type but replication (2.2) and lifecycle, tagging and ACL ones (2.3). */
export const EVENT_VERSION = '2.1';

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

/**
 * A key as AWS writes it in an event: URL-encoded as a form value
 * (application/x-www-form-urlencoded: "red flower.jpg" is "red+flower.jpg"),
 * keeping "/" between a key's parts. Kept as is: letters, digits, "-", "_",
 * ".", "*" and "/"; every other byte of its UTF-8 is %XX.
 */
export function awsEventKey(raw: string): string {
  let out = '';
  for (const ch of raw) {
    if (/^[A-Za-z0-9\-_.*/]$/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The raw key of a form-encoded one ("+" is a space). */
export function formDecode(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new Invalid(`object key ${JSON.stringify(encoded)} is not URL-encoded`);
  }
}

function dialectOf(r: Obj, i: number): S3Dialect {
  const source = str(r.eventSource);
  const name = str(r.eventName) ?? '';
  if (source === 'minio:s3') return 'minio';
  if (source === 'aws:s3') return name.startsWith('s3:') ? 'versitygw' : 'aws';
  throw new Invalid(`Records[${i}].eventSource ${JSON.stringify(r.eventSource)} is not a known S3 notification dialect (aws:s3 from AWS, SNS or versitygw; minio:s3 from MinIO)`);
}

function isoTime(raw: unknown, nowMs: number): string {
  const s = str(raw);
  if (s === undefined) return new Date(nowMs).toISOString();
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? s : new Date(ms).toISOString();
}

function unquoted(etag: unknown): string | undefined {
  const s = str(etag);
  if (s === undefined || s === '') return undefined;
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function principal(v: unknown): string {
  const o = obj(v);
  return str(o.principalId) ?? str(o.PrincipalId) ?? '';
}

function record(r: unknown, i: number, region: string, nowMs: number): { record: S3EventRecord; dialect: S3Dialect } {
  if (!isObj(r)) throw new Invalid(`Records[${i}] is not an object`);
  const dialect = dialectOf(r, i);
  const rawName = str(r.eventName);
  if (!rawName) throw new Invalid(`Records[${i}].eventName is missing`);
  const eventName = rawName.startsWith('s3:') ? rawName.slice(3) : rawName;
  const s3 = obj(r.s3);
  const bucket = obj(s3.bucket);
  const object = obj(s3.object);
  const bucketName = str(bucket.name);
  if (!bucketName) throw new Invalid(`Records[${i}].s3.bucket.name is missing`);
  const key = str(object.key);
  if (key === undefined) throw new Invalid(`Records[${i}].s3.object.key is missing`);
  // versitygw sends the key as stored; MinIO and AWS form-encode it (MinIO "/" too).
  const rawKey = dialect === 'versitygw' ? key : formDecode(key);
  const size = typeof object.size === 'number' ? object.size : typeof object.size === 'string' && /^\d+$/.test(object.size) ? Number(object.size) : undefined;
  const removed = eventName.startsWith('ObjectRemoved:');
  const eTag = unquoted(object.eTag);
  const versionId = str(object.versionId);
  const sequencer = str(object.sequencer);
  const response = obj(r.responseElements);
  const out: S3EventRecord = {
    // AWS's own events keep their version; a dialect's is its own numbering.
    eventVersion: dialect === 'aws' ? (str(r.eventVersion) ?? EVENT_VERSION) : EVENT_VERSION,
    eventSource: 'aws:s3',
    awsRegion: str(r.awsRegion) || region,
    eventTime: isoTime(r.eventTime, nowMs),
    eventName,
    userIdentity: { principalId: principal(r.userIdentity) },
    requestParameters: { sourceIPAddress: str(obj(r.requestParameters).sourceIPAddress) ?? '' },
    responseElements: { 'x-amz-request-id': str(response['x-amz-request-id']) ?? '', 'x-amz-id-2': str(response['x-amz-id-2']) ?? '' },
    s3: {
      s3SchemaVersion: str(s3.s3SchemaVersion) ?? '1.0',
      configurationId: str(s3.configurationId) ?? '',
      bucket: { name: bucketName, ownerIdentity: { principalId: principal(bucket.ownerIdentity) }, arn: `arn:aws:s3:::${bucketName}` },
      // AWS sends no size or eTag for a removal, and a versionId only for a versioned bucket.
      object: {
        key: awsEventKey(rawKey),
        ...(size !== undefined && !removed ? { size } : {}),
        ...(eTag !== undefined && !removed ? { eTag } : {}),
        ...(versionId ? { versionId } : {}),
        ...(sequencer ? { sequencer } : {}),
      },
    },
  };
  // AWS carries glacierEventData only for a completed restore.
  if (eventName === 'ObjectRestore:Completed' && r.glacierEventData !== undefined) out.glacierEventData = r.glacierEventData;
  return { record: out, dialect };
}

function normalise(doc: unknown, region: string, nowMs: number, depth: number): S3Notification {
  if (!isObj(doc)) throw new Invalid('a bucket notification must be a JSON object');
  if (doc.Event === 's3:TestEvent' && doc.Records === undefined) return { kind: 'test' };
  // An SNS delivery: the S3 event (or test event) is the JSON text of its Message.
  if (depth === 0 && str(doc.Type) !== undefined && (str(doc.TopicArn) !== undefined || str(doc.MessageId) !== undefined)) {
    if (doc.Type === 'SubscriptionConfirmation') return { kind: 'sns-confirmation', topicArn: str(doc.TopicArn) ?? '' };
    if (doc.Type !== 'Notification' || typeof doc.Message !== 'string') throw new Invalid(`an SNS message of type ${JSON.stringify(doc.Type)} carries no bucket notification`);
    let inner: unknown;
    try {
      inner = JSON.parse(doc.Message);
    } catch {
      throw new Invalid('the SNS Message is not JSON');
    }
    return normalise(inner, region, nowMs, depth + 1);
  }
  if (!Array.isArray(doc.Records)) throw new Invalid('a bucket notification has a Records array (or is a store\'s s3:TestEvent)');
  if (doc.Records.length === 0) throw new Invalid('the notification has no Records');
  const records = doc.Records.map((r, i) => record(r, i, region, nowMs));
  return { kind: 'records', event: { Records: records.map((r) => r.record) }, dialect: (records[0] as { dialect: S3Dialect }).dialect };
}

/**
 * Reads a notification a store POSTed (already parsed JSON); region fills an
 * empty awsRegion (the gateway's own), nowMs a missing eventTime (when it arrived).
 */
export function normaliseS3Notification(doc: unknown, opts: { region: string; nowMs?: number }): S3Notification {
  try {
    return normalise(doc, opts.region, opts.nowMs ?? 0, 0);
  } catch (err) {
    if (err instanceof Invalid) return { kind: 'invalid', message: err.message };
    throw err;
  }
}
