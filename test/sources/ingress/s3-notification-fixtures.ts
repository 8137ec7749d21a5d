// What S3-compatible stores POST to a webhook, as they send it. The versitygw
// notifications are what versitygw v1.8.0 POSTed for a PUT and a DELETE of the
// key `dir/a b+c=d(1)~*é.txt`; the MinIO one is its documented webhook shape
// (eventSource minio:s3, empty awsRegion, configurationId "Config", keys
// query-escaped with "/" as %2F); AWS's as its documentation and moto write
// it. Shared by the normaliser's table and the embedded platform's ingress test.
import type { S3EventRecord } from '../../../src/sources/ingress/s3-notification.js';

export const KEY = 'dir/a b+c=d(1)~*é.txt';
export const AWS_KEY = 'dir/a+b%2Bc%3Dd%281%29%7E*%C3%A9.txt';

export const versitygwPut = {
  Records: [
    {
      eventVersion: '2.2',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-12-06T21:35:12Z',
      eventName: 's3:ObjectCreated:Put',
      userIdentity: { PrincipalId: 'hearthtest' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': '', 'x-amz-id-2': '' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'webhook-global',
        bucket: { name: 'bkt', ownerIdentity: { PrincipalId: 'hearthtest' }, arn: `arn:aws:s3:::/bkt/${KEY}` },
        object: { key: KEY, size: 6, eTag: '"b1946ac92492d2347c6235b4d2611184"', versionId: null, sequencer: '1' },
      },
      glacierEventData: { restoreEventData: { lifecycleRestorationExpiryTime: '', lifecycleRestoreStorageClass: '' } },
    },
  ],
};

export const versitygwDelete = {
  Records: [
    {
      ...versitygwPut.Records[0],
      eventTime: '2026-12-06T21:35:13+01:00',
      eventName: 's3:ObjectRemoved:Delete',
      s3: { ...versitygwPut.Records[0]!.s3, object: { key: KEY, size: 0, eTag: null, versionId: null, sequencer: '2' } },
    },
  ],
};

export const minioPut = {
  EventName: 's3:ObjectCreated:Put',
  Key: `bkt/${KEY}`,
  Records: [
    {
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      awsRegion: '',
      eventTime: '2026-12-06T21:35:12.345Z',
      eventName: 's3:ObjectCreated:Put',
      userIdentity: { principalId: 'minioadmin' },
      requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-id-2': 'dd9025bab4ad464b', 'x-amz-request-id': '187E1D5C4A1B2C3D', 'x-minio-deployment-id': 'f1e2', 'x-minio-origin-endpoint': 'http://127.0.0.1:9000' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'Config',
        bucket: { name: 'bkt', ownerIdentity: { principalId: 'minioadmin' }, arn: 'arn:aws:s3:::bkt' },
        object: { key: 'dir%2Fa+b%2Bc%3Dd%281%29~%2A%C3%A9.txt', size: 6, eTag: 'b1946ac92492d2347c6235b4d2611184', contentType: 'text/plain', userMetadata: { 'content-type': 'text/plain' }, sequencer: '187E1D5C4A5B6C7D' },
      },
      source: { host: '127.0.0.1', port: '', userAgent: 'aws-cli/2' },
    },
  ],
};

// AWS's own shape (moto form-encodes "/" too).
export const awsPut = {
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2026-12-06T21:35:12.345Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
      requestParameters: { sourceIPAddress: '10.0.0.1' },
      responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'on-upload',
        bucket: { name: 'bkt', ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: 'arn:aws:s3:::bkt' },
        object: { key: 'dir%2Fa+b%2Bc%3Dd%281%29%7E*%C3%A9.txt', size: 6, eTag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '0055AED6DCD90281E5' },
      },
    },
  ],
};

/** MinIO's PUT as AWS delivers it, from a gateway in `region`: eventSource aws:s3, the key re-encoded with "/" kept, AWS's members only. */
export function minioPutAsAws(region: string): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: '2026-12-06T21:35:12.345Z',
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'minioadmin' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': '187E1D5C4A1B2C3D', 'x-amz-id-2': 'dd9025bab4ad464b' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'Config',
      bucket: { name: 'bkt', ownerIdentity: { principalId: 'minioadmin' }, arn: 'arn:aws:s3:::bkt' },
      object: { key: AWS_KEY, size: 6, eTag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '187E1D5C4A5B6C7D' },
    },
  };
}
