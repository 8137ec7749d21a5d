// CreateFunction, UpdateFunctionConfiguration and UpdateFunctionCode bodies
// read into Hearth's spec, and each refusal naming the member.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { applyConfiguration, readConfiguration } from '../../src/control/configuration-update.js';
import { readCreateFunction } from '../../src/control/create-function.js';
import { decodeZipFile, updateCode, ZIP_REQUEST_BYTES } from '../../src/control/function-code.js';
import { LAMBDA_LIMITS } from '../../src/packages/limits.js';

const ZIP = Buffer.from('PK\u0003\u0004 pretend').toString('base64');

describe('CreateFunction body', () => {
  it('maps every member it takes onto the spec', () => {
    const req = readCreateFunction(
      {
        FunctionName: 'hello',
        Runtime: 'python3.12',
        Handler: 'app.handler',
        Role: 'arn:aws:iam::000000000000:role/reader',
        Code: { ZipFile: ZIP },
        Description: 'says hello',
        Timeout: 30,
        MemorySize: 512,
        EphemeralStorage: { Size: 1024 },
        Environment: { Variables: { GREETING: 'hi' } },
        Tags: { team: 'a' },
        Publish: true,
        Architectures: ['x86_64'],
        Layers: [],
        TracingConfig: { Mode: 'PassThrough' },
        VpcConfig: { SubnetIds: [], SecurityGroupIds: [] },
      },
      'hello',
      'x86_64',
    );
    expect(req.publish).toBe(true);
    expect('zip' in req.code && req.code.zip.toString()).toBe('PK\u0003\u0004 pretend');
    const input = req.input({ package: { path: '.hearth/packages/x.zip' } });
    expect(input).toEqual({
      name: 'hello',
      spec: {
        runtime: 'python3.12',
        handler: 'app.handler',
        code: { package: { path: '.hearth/packages/x.zip' } },
        description: 'says hello',
        timeoutSeconds: 30,
        memoryMB: 512,
        ephemeralStorageMB: 1024,
        serviceAccountName: 'reader',
        env: [{ name: 'GREETING', value: 'hi' }],
        tags: { team: 'a' },
      },
    });
    expect(FunctionSpecSchema.safeParse(input.spec).success).toBe(true);
  });

  it('an image needs no runtime or handler: it runs as a custom runtime', () => {
    const req = readCreateFunction({ FunctionName: 'img', PackageType: 'Image', Code: { ImageUri: 'registry.local/img:1' } }, 'img', 'x86_64');
    expect(req.code).toEqual({ image: 'registry.local/img:1' });
    expect(req.input({ image: 'registry.local/img:1' }).spec).toEqual({ runtime: 'provided', code: { image: 'registry.local/img:1' } });
  });

  it.each([
    { what: 'no Code', body: { Runtime: 'python3.12', Handler: 'a.b' }, message: /Code is required/ },
    { what: 'no Runtime for a ZIP', body: { Handler: 'a.b', Code: { ZipFile: ZIP } }, message: /Runtime and Handler are mandatory/ },
    { what: 'no Handler for python', body: { Runtime: 'python3.12', Code: { ZipFile: ZIP } }, message: /Runtime and Handler are mandatory/ },
    { what: 'an S3 location', body: { Runtime: 'python3.12', Handler: 'a.b', Code: { S3Bucket: 'b', S3Key: 'k' } }, message: /Code\.S3Bucket is not supported/ },
    { what: 'ZipFile and ImageUri', body: { Runtime: 'python3.12', Handler: 'a.b', Code: { ZipFile: ZIP, ImageUri: 'x' } }, message: /mutually exclusive/ },
    { what: 'an Image without ImageUri', body: { PackageType: 'Image', Code: { ZipFile: ZIP } }, message: /ZipFile/ },
    { what: 'a PackageType Lambda has not', body: { PackageType: 'Jar', Code: { ZipFile: ZIP } }, message: /PackageType/ },
    { what: 'go1.x', body: { Runtime: 'go1.x', Handler: 'main', Code: { ZipFile: ZIP } }, message: /go1\.x is no longer supported/ },
    { what: 'MemorySize beyond 10240', body: { Runtime: 'python3.12', Handler: 'a.b', MemorySize: 20480, Code: { ZipFile: ZIP } }, message: /memorySize|MemorySize/ },
    { what: 'Timeout of 0', body: { Runtime: 'python3.12', Handler: 'a.b', Timeout: 0, Code: { ZipFile: ZIP } }, message: /Timeout/ },
    { what: 'a layer ARN', body: { Runtime: 'python3.12', Handler: 'a.b', Layers: ['arn:aws:lambda:us-east-1:000000000000:layer:x:1'], Code: { ZipFile: ZIP } }, message: /Layers/ },
    { what: 'a VPC', body: { Runtime: 'python3.12', Handler: 'a.b', VpcConfig: { SubnetIds: ['subnet-1'] }, Code: { ZipFile: ZIP } }, message: /VpcConfig is not supported/ },
    { what: 'an SQS dead-letter target', body: { Runtime: 'python3.12', Handler: 'a.b', DeadLetterConfig: { TargetArn: 'arn:aws:sqs:x' }, Code: { ZipFile: ZIP } }, message: /DeadLetterConfig/ },
    { what: 'another architecture', body: { Runtime: 'python3.12', Handler: 'a.b', Architectures: ['arm64'], Code: { ZipFile: ZIP } }, message: /Architectures/ },
    { what: 'an environment variable name Lambda refuses', body: { Runtime: 'python3.12', Handler: 'a.b', Environment: { Variables: { '1X': 'y' } }, Code: { ZipFile: ZIP } }, message: /Environment\.Variables/ },
    { what: 'a reserved tag key', body: { Runtime: 'python3.12', Handler: 'a.b', Tags: { 'aws:x': 'y' }, Code: { ZipFile: ZIP } }, message: /aws: prefix/ },
    { what: 'ZipFile that is not base64', body: { Runtime: 'python3.12', Handler: 'a.b', Code: { ZipFile: '***' } }, message: /base64/ },
  ])('$what: 400 InvalidParameterValueException', ({ body, message }) => {
    expect(() => readCreateFunction({ FunctionName: 'x', ...body }, 'x', 'x86_64')).toThrowError(expect.objectContaining({ status: 400, type: 'InvalidParameterValueException', message: expect.stringMatching(message) }));
  });

  it('a ZipFile beyond 50 MB decoded is 413 RequestEntityTooLargeException naming the operation', () => {
    const big = Buffer.alloc(LAMBDA_LIMITS.zippedBytes + 3).toString('base64');
    expect(() => decodeZipFile(big, 'ZipFile', 'UpdateFunctionCode')).toThrowError(
      expect.objectContaining({ status: 413, type: 'RequestEntityTooLargeException', message: `Request must be smaller than ${ZIP_REQUEST_BYTES} bytes for the UpdateFunctionCode operation` }),
    );
    expect(decodeZipFile(Buffer.alloc(LAMBDA_LIMITS.zippedBytes).toString('base64'), 'ZipFile', 'CreateFunction')).toHaveLength(LAMBDA_LIMITS.zippedBytes);
  });
});

describe('UpdateFunctionConfiguration body', () => {
  const current: FunctionSpecInput = {
    runtime: 'python3.12',
    handler: 'app.handler',
    code: { inline: { 'app.py': 'x' } },
    description: 'old',
    serviceAccountName: 'reader',
    env: [
      { name: 'PLAIN', value: 'a' },
      { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ],
    memoryMB: 256,
  };

  it('what the body leaves out stays', () => {
    expect(applyConfiguration(current, readConfiguration({ Timeout: 9 }, 'hello'))).toEqual({ ...current, timeoutSeconds: 9 });
  });

  it('Environment replaces the plain variables and keeps references to Secrets and ConfigMaps', () => {
    const next = applyConfiguration(current, readConfiguration({ Environment: { Variables: { NEW: 'b' } } }, 'hello'));
    expect(next.env).toEqual([{ name: 'NEW', value: 'b' }, { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]);
    expect(() => applyConfiguration(current, readConfiguration({ Environment: { Variables: { SECRET: 'x' } } }, 'hello'))).toThrowError(/Secret or ConfigMap/);
  });

  it('an empty Description removes it; the function\'s own role removes serviceAccountName; a runtime and handler change', () => {
    const next = applyConfiguration(current, readConfiguration({ Description: '', Role: 'arn:aws:iam::000000000000:role/hello', Runtime: 'nodejs22.x', Handler: 'index.handler' }, 'hello'));
    expect(next.description).toBeUndefined();
    expect(next.serviceAccountName).toBeUndefined();
    expect([next.runtime, next.handler]).toEqual(['nodejs22', 'index.handler']);
  });
});

describe('UpdateFunctionCode body', () => {
  it.each([
    { what: 'a ZIP for a Zip function', type: 'Zip' as const, body: { ZipFile: ZIP }, ok: true },
    { what: 'an image for an Image function', type: 'Image' as const, body: { ImageUri: 'r/x:2' }, ok: true },
    { what: 'an image for a Zip function', type: 'Zip' as const, body: { ImageUri: 'r/x:2' }, ok: false },
    { what: 'a ZIP for an Image function', type: 'Image' as const, body: { ZipFile: ZIP }, ok: false },
    { what: 'nothing', type: 'Zip' as const, body: {}, ok: false },
    { what: 'S3', type: 'Zip' as const, body: { S3Bucket: 'b', S3Key: 'k' }, ok: false },
  ])('$what: ok=$ok', ({ type, body, ok }) => {
    if (ok) expect(() => updateCode(body, type)).not.toThrow();
    else expect(() => updateCode(body, type)).toThrowError(expect.objectContaining({ status: 400 }));
  });
});
