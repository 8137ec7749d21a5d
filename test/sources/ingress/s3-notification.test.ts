// Bucket notification dialects into AWS's S3 event, as a table, over the
// stores' own notifications (s3-notification-fixtures.ts).
import { describe, expect, it } from 'vitest';
import { awsEventKey, formDecode, normaliseS3Notification, type S3EventRecord } from '../../../src/sources/ingress/s3-notification.js';
import { AWS_KEY, awsPut, minioPut, minioPutAsAws, versitygwDelete, versitygwPut } from './s3-notification-fixtures.js';

const expected = (over: Partial<S3EventRecord> & { object?: S3EventRecord['s3']['object'] }): S3EventRecord => {
  const { object, ...rest } = over;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-12-06T21:35:12.000Z',
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'hearthtest' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': '', 'x-amz-id-2': '' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'webhook-global',
      bucket: { name: 'bkt', ownerIdentity: { principalId: 'hearthtest' }, arn: 'arn:aws:s3:::bkt' },
      object: object ?? { key: AWS_KEY, size: 6, eTag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '1' },
    },
    ...rest,
  };
};

describe('dialects into AWS\'s S3 event', () => {
  const cases: Array<[string, unknown, string, S3EventRecord]> = [
    ['versitygw PUT: no s3: prefix, unquoted eTag, encoded key, bucket ARN, principalId, ISO time, no glacierEventData', versitygwPut, 'versitygw', expected({})],
    ['versitygw DELETE: no size or eTag, time in UTC', versitygwDelete, 'versitygw', expected({ eventName: 'ObjectRemoved:Delete', eventTime: '2026-12-06T20:35:13.000Z', object: { key: AWS_KEY, sequencer: '2' } })],
    ['MinIO PUT: eventSource aws:s3, the gateway\'s region, its key re-encoded with "/" kept, AWS\'s members only', minioPut, 'minio', minioPutAsAws('us-west-2')],
    ['AWS\'s own event stays as it is (its key canonical)', awsPut, 'aws', { ...awsPut.Records[0]!, s3: { ...awsPut.Records[0]!.s3, object: { ...awsPut.Records[0]!.s3.object, key: AWS_KEY } } } as S3EventRecord],
    [
      'an SNS envelope (moto\'s, AWS\'s) holds the event as its Message',
      { Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:uploads', Subject: 'Amazon S3 Notification', Message: JSON.stringify(awsPut), Timestamp: '2026-12-06T21:35:12.400Z' },
      'aws',
      { ...awsPut.Records[0]!, s3: { ...awsPut.Records[0]!.s3, object: { ...awsPut.Records[0]!.s3.object, key: AWS_KEY } } } as S3EventRecord,
    ],
  ];
  it.each(cases)('%s', (_name, doc, dialect, record) => {
    const n = normaliseS3Notification(doc, { region: 'us-west-2' });
    expect(n).toEqual({ kind: 'records', dialect, event: { Records: [record] } });
    if (n.kind !== 'records') return;
    // Members in AWS's order, so the function's JSON reads as AWS's does.
    expect(Object.keys(n.event.Records[0]!)).toEqual(Object.keys(record));
  });

  it('keeps glacierEventData for a completed restore, and a versionId when there is one', () => {
    const doc = { Records: [{ ...awsPut.Records[0], eventName: 'ObjectRestore:Completed', glacierEventData: { restoreEventData: { lifecycleRestoreStorageClass: 'GLACIER' } }, s3: { ...awsPut.Records[0]!.s3, object: { key: 'k', size: 1, versionId: 'v1' } } }] };
    const n = normaliseS3Notification(doc, { region: 'us-west-2' });
    expect(n.kind === 'records' && n.event.Records[0]).toMatchObject({ glacierEventData: { restoreEventData: { lifecycleRestoreStorageClass: 'GLACIER' } }, s3: { object: { key: 'k', size: 1, versionId: 'v1' } } });
  });
});

describe('test events and refusals', () => {
  it.each([
    ['versitygw', { Bucket: 'Test-Bucket', Event: 's3:TestEvent', Service: 'S3', Time: '2026-12-06T21:35:11Z' }],
    ['AWS', { Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2014-10-13T15:57:02.089Z', Bucket: 'bkt', RequestId: '5582815E1AEA5ADF', HostId: '8cLeGAmw' }],
    ['AWS through SNS', { Type: 'Notification', MessageId: 'm', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }) }],
  ])('%s\'s test event invokes nothing', (_name, doc) => {
    expect(normaliseS3Notification(doc, { region: 'us-east-1' })).toEqual({ kind: 'test' });
  });

  it('an SNS subscription confirmation is told apart', () => {
    expect(normaliseS3Notification({ Type: 'SubscriptionConfirmation', MessageId: 'm', TopicArn: 'arn:aws:sns:us-east-1:1:t', SubscribeURL: 'http://x' }, { region: 'us-east-1' })).toEqual({
      kind: 'sns-confirmation',
      topicArn: 'arn:aws:sns:us-east-1:1:t',
    });
  });

  const record = versitygwPut.Records[0]!;
  it.each([
    ['not an object', [], 'must be a JSON object'],
    ['no Records', { hello: 1 }, 'Records array'],
    ['empty Records', { Records: [] }, 'no Records'],
    ['an unknown dialect', { Records: [{ ...record, eventSource: 'ceph:s3' }] }, 'not a known S3 notification dialect'],
    ['no eventName', { Records: [{ ...record, eventName: undefined }] }, 'Records[0].eventName is missing'],
    ['no bucket', { Records: [{ ...record, s3: { object: { key: 'k' } } }] }, 'Records[0].s3.bucket.name is missing'],
    ['no key', { Records: [record, { ...record, s3: { bucket: { name: 'b' }, object: {} } }] }, 'Records[1].s3.object.key is missing'],
    ['a key that is not URL-encoded', { Records: [{ ...awsPut.Records[0], s3: { bucket: { name: 'b' }, object: { key: '%E0%A4%A' } } }] }, 'is not URL-encoded'],
    ['an SNS Message that is not JSON', { Type: 'Notification', MessageId: 'm', Message: '{' }, 'not JSON'],
  ])('%s', (_name, doc, message) => {
    const n = normaliseS3Notification(doc, { region: 'us-east-1' });
    expect(n.kind).toBe('invalid');
    if (n.kind === 'invalid') expect(n.message).toContain(message);
  });
});

describe('keys as AWS encodes them', () => {
  it.each([
    ['red flower.jpg', 'red+flower.jpg'],
    ['year=2026/month=12/part-0.parquet', 'year%3D2026/month%3D12/part-0.parquet'],
    ['a+b', 'a%2Bb'],
    ['ünï', '%C3%BCn%C3%AF'],
    ['safe-_.*/', 'safe-_.*/'],
  ])('%s → %s, and back', (raw, encoded) => {
    expect(awsEventKey(raw)).toBe(encoded);
    expect(formDecode(encoded)).toBe(raw);
  });
});

describe('random notifications', () => {
  it('never throw: mangled versions of every fixture are records, a test event or invalid', () => {
    let seed = 0x51e7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const junk = [null, 0, -1, 1.5, '', 'x', '%', '%E0', '"q"', [], {}, true];
    const mangle = (v: unknown, depth: number): unknown => {
      if (rand(6) === 0) return junk[rand(junk.length)];
      if (Array.isArray(v)) return v.map((x) => mangle(x, depth + 1));
      if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, depth > 6 ? x : mangle(x, depth + 1)]));
      return v;
    };
    const fixtures = [versitygwPut, versitygwDelete, minioPut, awsPut, { Type: 'Notification', MessageId: 'm', Message: JSON.stringify(awsPut) }];
    for (let i = 0; i < 3000; i++) {
      const n = normaliseS3Notification(mangle(fixtures[i % fixtures.length], 0), { region: 'us-east-1' });
      expect(['records', 'test', 'invalid', 'sns-confirmation']).toContain(n.kind);
      if (n.kind === 'records') for (const r of n.event.Records) expect(r.s3.bucket.arn).toBe(`arn:aws:s3:::${r.s3.bucket.name}`);
    }
  });
});
