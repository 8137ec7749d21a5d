// Lambda's event filtering, as the documentation describes it: the cases
// below are taken from AWS's documentation (the Lambda guide's "Lambda event
// filtering" comparison-operator table and examples, its Kafka/MSK and Amazon
// MQ filtering pages, EventBridge's "Content filtering in event patterns",
// "Arrays in event patterns" and "Matching null values and empty strings",
// and the README of aws/event-ruler, the engine behind them), each with an
// event it matches and one it does not.
import { describe, expect, it } from 'vitest';
import type { FilterCriteria } from '../../src/api/event-source-mapping.js';
import { compileFilters, filterProblems, filterView, JsonNumber, patternMatches } from '../../src/sources/filter-pattern.js';
import type { KafkaRecord, RedisStreamRecord } from '../../src/sources/records.js';

type Case = [what: string, pattern: string, event: string, want: boolean];

// The Lambda guide's table of comparison operators (Control which events Lambda sends to your function → Filter rule syntax).
const LAMBDA_TABLE: Case[] = [
  ['Null: UserID is null', '{"UserID": [ null ]}', '{"UserID": null}', true],
  ['Null does not match the empty string', '{"UserID": [ null ]}', '{"UserID": ""}', false],
  ['Null does not match a missing field', '{"UserID": [ null ]}', '{"Name": "Alice"}', false],
  ['Empty: LastName is empty', '{"LastName": [""]}', '{"LastName": ""}', true],
  ['Empty does not match null', '{"LastName": [""]}', '{"LastName": null}', false],
  ['Equals: Name is "Alice"', '{"Name": [ "Alice" ]}', '{"Name": "Alice"}', true],
  ['Equals is case-sensitive (no case folding)', '{"Name": [ "Alice" ]}', '{"Name": "alice"}', false],
  ['Equals (ignore case)', '{"Name": [ { "equals-ignore-case": "alice" } ]}', '{"Name": "ALICE"}', true],
  ['Equals (ignore case), another name', '{"Name": [ { "equals-ignore-case": "alice" } ]}', '{"Name": "Alicia"}', false],
  ['And: Location is "New York" and Day is "Monday"', '{"Location": [ "New York" ], "Day": ["Monday"]}', '{"Location": "New York", "Day": "Monday"}', true],
  ['And: one of the two fields differs', '{"Location": [ "New York" ], "Day": ["Monday"]}', '{"Location": "New York", "Day": "Tuesday"}', false],
  ['Or: PaymentType is "Credit" or "Debit"', '{"PaymentType": [ "Credit", "Debit"]}', '{"PaymentType": "Debit"}', true],
  ['Or: neither value', '{"PaymentType": [ "Credit", "Debit"]}', '{"PaymentType": "Cash"}', false],
  ['Or (multiple fields): Location is "New York", or Day is "Monday"', '{"$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ]}', '{"Location": "Boston", "Day": "Monday"}', true],
  ['Or (multiple fields): neither field', '{"$or": [ { "Location": [ "New York" ] }, { "Day": [ "Monday" ] } ]}', '{"Location": "Boston", "Day": "Friday"}', false],
  ['Not: Weather is anything but "Raining"', '{"Weather": [ { "anything-but": [ "Raining" ] } ]}', '{"Weather": "Sunny"}', true],
  ['Not: it is "Raining"', '{"Weather": [ { "anything-but": [ "Raining" ] } ]}', '{"Weather": "Raining"}', false],
  ['Not: the field must be there', '{"Weather": [ { "anything-but": [ "Raining" ] } ]}', '{"Wind": "strong"}', false],
  ['Numeric (equals): Price is 100', '{"Price": [ { "numeric": [ "=", 100 ] } ]}', '{"Price": 100}', true],
  ['Numeric (equals) compares values: 100.0 is 100', '{"Price": [ { "numeric": [ "=", 100 ] } ]}', '{"Price": 100.0}', true],
  ['Numeric works on JSON numbers only, not "100"', '{"Price": [ { "numeric": [ "=", 100 ] } ]}', '{"Price": "100"}', false],
  ['Numeric (range): more than 10 and at most 20 (20)', '{"Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ]}', '{"Price": 20}', true],
  ['Numeric (range): 10 is not more than 10', '{"Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ]}', '{"Price": 10}', false],
  ['Numeric (range): 20.5 is above 20', '{"Price": [ { "numeric": [ ">", 10, "<=", 20 ] } ]}', '{"Price": 20.5}', false],
  ['Exists: ProductName exists', '{"ProductName": [ { "exists": true } ]}', '{"ProductName": "Widget"}', true],
  ['Exists: ProductName missing', '{"ProductName": [ { "exists": true } ]}', '{"Product": "Widget"}', false],
  ['Does not exist: ProductName missing', '{"ProductName": [ { "exists": false } ]}', '{"Product": "Widget"}', true],
  ['Does not exist: ProductName there', '{"ProductName": [ { "exists": false } ]}', '{"ProductName": "Widget"}', false],
  ['Begins with: Region is in the US', '{"Region": [ {"prefix": "us-" } ]}', '{"Region": "us-east-1"}', true],
  ['Begins with: a European region', '{"Region": [ {"prefix": "us-" } ]}', '{"Region": "eu-west-1"}', false],
  ['Ends with: FileName ends with .png', '{"FileName": [ { "suffix": ".png" } ]}', '{"FileName": "photo.png"}', true],
  ['Ends with: a .jpg', '{"FileName": [ { "suffix": ".png" } ]}', '{"FileName": "photo.jpg"}', false],
  // "For numbers, Lambda also uses string representation. For example, 300, 300.0, and 3.0e2 are not considered equal."
  ['exact numbers compare as written: 300 is 300', '{"Price": [ 300 ]}', '{"Price": 300}', true],
  ['exact numbers compare as written: 300.0 is not 300', '{"Price": [ 300 ]}', '{"Price": 300.0}', false],
  ['exact numbers compare as written: 3.0e2 is not 300', '{"Price": [ 300 ]}', '{"Price": 3.0e2}', false],
  ['a number does not match its string', '{"Price": [ 300 ]}', '{"Price": "300"}', false],
];

// The Lambda guide's filtering examples (Kinesis, DynamoDB multi-level, the console's {"a": [1, 2]}).
const KINESIS = '{"partitionKey": "1", "data": {"City": "Seattle", "State": "WA", "Temperature": 55, "Location": "Los Angeles"}}';
const DYNAMODB =
  '{"dynamodb": {"Keys": {"Id": {"N": "101"}}, "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}}, "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}}';
const LAMBDA_EXAMPLES: Case[] = [
  ['metadata and data: partitionKey "1" and Location "Los Angeles"', '{ "partitionKey": [ "1" ], "data": { "Location": [ "Los Angeles" ] }}', KINESIS, true],
  ['metadata and data: another partition key', '{ "partitionKey": [ "2" ], "data": { "Location": [ "Los Angeles" ] }}', KINESIS, false],
  ['Temperature above 50 and at most 60', '{ "data": { "Temperature": [ {"numeric": [ ">", 50, "<=", 60 ] } ]}}', KINESIS, true],
  ['Temperature as a string is not a number (the guide\'s "46")', '{ "data": { "Temperature": [ {"numeric": [ ">", 40 ] } ]}}', '{"data": {"Temperature": "46"}}', false],
  ['multi-level: dynamodb.Keys.Id.N is "101"', '{ "dynamodb": { "Keys": { "Id": { "N": [ "101" ] } } } }', DYNAMODB, true],
  ['multi-level: another key', '{ "dynamodb": { "Keys": { "Id": { "N": [ "102" ] } } } }', DYNAMODB, false],
  ['console example: a is 1 or 2', '{ "a" : [ 1, 2 ] }', '{"a": 2}', true],
  ['console example: a is 3', '{ "a" : [ 1, 2 ] }', '{"a": 3}', false],
];

// EventBridge's content-filtering, arrays and null/empty pages.
const EC2 =
  '{"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "123456789012", "time": "2017-10-02T18:43:48Z", "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"], "detail": {"instance-id": "i-abcd1111", "state": "pending", "c-count": 5, "d-count": 3, "x-limit": 301.8}}';
const NO_STATE =
  '{"detail-type": [ "EC2 Instance State-change Notification" ], "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341" ], "detail": { "c-count" : { "c1" : 100 } }}';
const EVENTBRIDGE: Case[] = [
  ['prefix: time starts with 2017-10-02', '{ "time": [ { "prefix": "2017-10-02" } ] }', EC2, true],
  ['prefix: another day', '{ "time": [ { "prefix": "2017-10-03" } ] }', EC2, false],
  ['anything-but a string', '{ "detail": { "state": [ { "anything-but": "initializing" } ] } }', EC2, true],
  ['anything-but a string, equal', '{ "detail": { "state": [ { "anything-but": "pending" } ] } }', EC2, false],
  ['anything-but a number', '{ "detail": { "x-limit": [ { "anything-but": 123 } ] } }', EC2, true],
  ['anything-but a list of strings', '{ "detail": { "state": [ { "anything-but": [ "stopped", "overloaded" ] } ] } }', '{"detail": {"state": "stopped"}}', false],
  ['anything-but a list of numbers', '{ "detail": { "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }', '{"detail": {"x-limit": 200}}', false],
  ['anything-but a list of numbers, another number', '{ "detail": { "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }', EC2, true],
  ['anything-but a prefix', '{ "detail": { "state": [ { "anything-but": { "prefix": "init" } } ] } }', '{"detail": {"state": "initializing"}}', false],
  ['anything-but a prefix, another state', '{ "detail": { "state": [ { "anything-but": { "prefix": "init" } } ] } }', EC2, true],
  [
    'numeric on three fields (x-limit = 3.018e2)',
    '{ "detail": { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ], "d-count": [ { "numeric": [ "<", 10 ] } ], "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } }',
    EC2,
    true,
  ],
  [
    'numeric on three fields, d-count too high',
    '{ "detail": { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ], "d-count": [ { "numeric": [ "<", 10 ] } ], "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } }',
    '{"detail": {"c-count": 5, "d-count": 30, "x-limit": 301.8}}',
    false,
  ],
  ['exists: detail.state is there', '{ "detail": { "state": [ { "exists": true } ] } }', EC2, true],
  ['exists: detail.state is not there', '{ "detail": { "state": [ { "exists": true } ] } }', NO_STATE, false],
  ['equals-ignore-case on detail-type (a list in the event)', '{ "detail-type": [ { "equals-ignore-case": "ec2 instance state-change notification" } ] }', NO_STATE, true],
  [
    'complex: prefix, anything-but and numeric together',
    '{ "time": [ { "prefix": "2017-10-02" } ], "detail": { "state": [ { "anything-but": "initializing" } ], "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ], "d-count": [ { "numeric": [ "<", 10 ] } ], "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ] } }',
    EC2,
    true,
  ],
  [
    'a key written twice: only the last counts (anything-but "us-east")',
    '{ "detail": { "location": [ { "prefix": "us-" } ], "location": [ { "anything-but": "us-east" } ] } }',
    '{"detail": {"location": "eu-west"}}',
    true,
  ],
  [
    'a key written twice: the last one excludes us-east',
    '{ "detail": { "location": [ { "prefix": "us-" } ], "location": [ { "anything-but": "us-east" } ] } }',
    '{"detail": {"location": "us-east"}}',
    false,
  ],
  [
    '$or across fields under detail: d-count below 10',
    '{ "detail": { "$or": [ { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] }, { "d-count": [ { "numeric": [ "<", 10 ] } ] }, { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } ] } }',
    '{"detail": {"c-count": 50, "d-count": 3, "x-limit": 1}}',
    true,
  ],
  [
    '$or across fields under detail: none holds',
    '{ "detail": { "$or": [ { "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ] }, { "d-count": [ { "numeric": [ "<", 10 ] } ] }, { "x-limit": [ { "numeric": [ "=", 3.018e2 ] } ] } ] } }',
    '{"detail": {"c-count": 50, "d-count": 30, "x-limit": 1}}',
    false,
  ],
  [
    'arrays: the pattern and event lists intersect',
    '{ "resources": [ "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f" ] }',
    '{"resources": [ "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate", "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f" ]}',
    true,
  ],
  ['arrays: no common element', '{ "resources": [ "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f" ] }', EC2, false],
  ['an empty string matches eventVersion ""', '{ "detail": { "eventVersion": [""] } }', '{"detail": {"eventVersion": "", "responseElements": null}}', true],
  ['null matches responseElements null', '{ "detail": { "responseElements": [null] } }', '{"detail": {"eventVersion": "", "responseElements": null}}', true],
  ['null and the empty string are not interchangeable', '{ "detail": { "eventVersion": [null] } }', '{"detail": {"eventVersion": "", "responseElements": null}}', false],
];

// aws/event-ruler's README (the engine EventBridge and Lambda filtering share).
const RULER_EVENT = '{"source": "aws.ec2", "detail": {"state": "running", "instance-id": "i-000000aaaaaa00000", "c-count": 5}}';
const EMPLOYEES = '{"employees": [ { "firstName": "John", "lastName": "Doe" }, { "firstName": "Anna", "lastName": "Smith" }, { "firstName": "Peter", "lastName": "Jones" } ]}';
const RULER: Case[] = [
  ['prefix equals-ignore-case', '{ "source": [ { "prefix": { "equals-ignore-case": "AWS.E" } } ] }', RULER_EVENT, true],
  ['suffix equals-ignore-case', '{ "source": [ { "suffix": { "equals-ignore-case": "EC2" } } ] }', RULER_EVENT, true],
  ['suffix is case-sensitive without it', '{ "source": [ { "suffix": "EC2" } ] }', RULER_EVENT, false],
  ['wildcard Simple*Service', '{ "source": [ { "wildcard": "Simple*Service" } ] }', '{"source": "SimpleNotificationService"}', true],
  ['wildcard Simple*Service, another name', '{ "source": [ { "wildcard": "Simple*Service" } ] }', '{"source": "SimpleQueue"}', false],
  ['wildcard: an escaped star is a star', '{ "source": [ { "wildcard": "a\\\\*b" } ] }', '{"source": "a*b"}', true],
  ['wildcard: an escaped star matches only a star', '{ "source": [ { "wildcard": "a\\\\*b" } ] }', '{"source": "axb"}', false],
  ['anything-but a suffix', '{ "detail": { "instance-id": [ { "anything-but": { "suffix": "1234" } } ] } }', RULER_EVENT, true],
  ['anything-but a list of suffixes', '{ "detail": { "instance-id": [ { "anything-but": { "suffix": [ "1234", "0000" ] } } ] } }', RULER_EVENT, false],
  ['anything-but a list of prefixes', '{ "detail": { "state": [ { "anything-but": { "prefix": [ "init", "error" ] } } ] } }', RULER_EVENT, true],
  ['anything-but equals-ignore-case', '{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": "RUNNING" } } ] } }', RULER_EVENT, false],
  ['anything-but equals-ignore-case list', '{ "detail": { "state": [ { "anything-but": { "equals-ignore-case": [ "Stopped", "OverLoaded" ] } } ] } }', RULER_EVENT, true],
  ['anything-but wildcard', '{ "detail": { "state": [ { "anything-but": { "wildcard": "*/bin/*.jar" } } ] } }', '{"detail": {"state": "/usr/bin/app.jar"}}', false],
  ['exists false also matches an intermediate node (c-count is an object)', '{ "detail": { "c-count": [ { "exists": false } ] } }', '{"detail": {"state": "running", "c-count": {"c1": 100}}}', true],
  ['exists false on a present leaf', '{ "detail": { "c-count": [ { "exists": false } ] } }', RULER_EVENT, false],
  ['exists false when the parent is missing too', '{ "detail": { "c-count": [ { "exists": false } ] } }', '{"source": "aws.ec2"}', true],
  [
    '"source" and ("metricName" or "namespace")',
    '{ "source": [ "aws.cloudwatch" ], "$or": [ { "metricName": [ "CPUUtilization", "ReadLatency" ] }, { "namespace": [ "AWS/EC2", "AWS/ES" ] } ] }',
    '{"source": "aws.cloudwatch", "namespace": "AWS/ES"}',
    true,
  ],
  [
    '"source" must hold beside the $or',
    '{ "source": [ "aws.cloudwatch" ], "$or": [ { "metricName": [ "CPUUtilization", "ReadLatency" ] }, { "namespace": [ "AWS/EC2", "AWS/ES" ] } ] }',
    '{"source": "aws.ec2", "namespace": "AWS/ES"}',
    false,
  ],
  [
    'an "and" inside an $or, and a nested $or',
    '{ "source": [ "aws.cloudwatch" ], "$or": [ { "metricName": [ "CPUUtilization" ] }, { "metricType": [ "MetricType" ], "namespace": [ "AWS/EC2" ], "$or": [ { "metricId": [ 1234 ] }, { "spaceId": [ 1000 ] } ] }, { "scope": [ "Service" ] } ] }',
    '{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}',
    true,
  ],
  [
    'an "and" inside an $or fails when its nested $or does',
    '{ "source": [ "aws.cloudwatch" ], "$or": [ { "metricName": [ "CPUUtilization" ] }, { "metricType": [ "MetricType" ], "namespace": [ "AWS/EC2" ], "$or": [ { "metricId": [ 1234 ] }, { "spaceId": [ 1000 ] } ] }, { "scope": [ "Service" ] } ] }',
    '{"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 7}',
    false,
  ],
  ['objects in an array: one element matches', '{ "employees": { "firstName": [ "Anna" ] } }', EMPLOYEES, true],
  ['objects in an array: fields must match within one element', '{ "employees": { "firstName": [ "Anna" ], "lastName": [ "Jones" ] } }', EMPLOYEES, false],
  ['objects in an array: both fields in one element', '{ "employees": { "firstName": [ "Anna" ], "lastName": [ "Smith" ] } }', EMPLOYEES, true],
];

describe('filter rules, as AWS documents them', () => {
  it.each([...LAMBDA_TABLE, ...LAMBDA_EXAMPLES, ...EVENTBRIDGE, ...RULER])('%s', (_what, pattern, event, want) => {
    expect(filterProblems({ filters: [{ pattern }] })).toEqual([]);
    expect(patternMatches(pattern, event)).toBe(want);
  });
});

// ---------------------------------------------------------------------------
// Records as patterns see them.

const kafka = (value: string | Buffer | null, over: Partial<KafkaRecord> = {}): KafkaRecord => ({
  source: 'kafka',
  topic: 'mytopic',
  partition: 0,
  offset: '15',
  timestampMs: 1545084650987,
  timestampType: 'CREATE_TIME',
  key: null,
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers: [],
  ...over,
});
const redis = (fields: Array<[string, string]>, id = '1700000000000-0'): RedisStreamRecord => ({ source: 'redis-streams', stream: 'orders', id, fields });
const one = (pattern: object): FilterCriteria => ({ filters: [{ pattern: JSON.stringify(pattern) }] });

describe('Kafka records (the Lambda guide: filtering Amazon MSK and self-managed Apache Kafka)', () => {
  const DEVICE = '{ "device_ID": "AB1234", "session":{ "start_time": "yyyy-mm-ddThh:mm:ss", "duration": 162 } }';
  const byDevice = compileFilters(one({ value: { device_ID: [{ prefix: 'AB' }] } }));
  const notError = compileFilters(one({ value: [{ 'anything-but': ['error'] }] }));

  it.each([
    ['a JSON value: device_ID begins with AB', byDevice, kafka(DEVICE), true],
    ['a JSON value: device_ID begins with CD', byDevice, kafka(DEVICE.replace('AB1234', 'CD1234')), false],
    ['a JSON value: nested fields (session.duration)', compileFilters(one({ value: { session: { duration: [{ numeric: ['>', 100] }] } } })), kafka(DEVICE), true],
    ['a plain-string value: anything but "error", it is "error"', notError, kafka('error'), false],
    ['a plain-string value: anything but "error", it is "Hello, this is a test."', notError, kafka('Hello, this is a test.'), true],
    // The guide's table: a plain string under a JSON pattern, or JSON under a plain-string pattern, cannot satisfy the value's rules.
    ['a plain-string value under a JSON pattern', byDevice, kafka('AB1234'), false],
    ['a JSON value under a plain-string rule', notError, kafka(DEVICE), false],
    ['a JSON value under a plain-string {"exists": false}', compileFilters(one({ value: [{ exists: false }] })), kafka(DEVICE), true],
    ['a value that is not UTF-8 is not there to match', notError, kafka(Buffer.from([0xff, 0xfe, 0x00])), false],
    ['a value that is not UTF-8: {"exists": false} on value', compileFilters(one({ value: [{ exists: false }] })), kafka(Buffer.from([0xc3, 0x28])), true],
    ['a null value (a tombstone): {"exists": false}', compileFilters(one({ value: [{ exists: false }] })), kafka(null), true],
    ['a JSON number text is a plain string', compileFilters(one({ value: ['42'] })), kafka('42'), true],
    ['invalid JSON that looks like JSON is a plain string', compileFilters(one({ value: [{ prefix: '{' }] })), kafka('{"device_ID": '), true],
    ['a value nested deeper than 512 levels is a plain string', compileFilters(one({ value: [{ prefix: '[[[' }] })), kafka(`${'['.repeat(5000)}${']'.repeat(5000)}`), true],
    ['a JSON array value: any element matches', compileFilters(one({ value: { id: [2] } })), kafka('[{"id": 1}, {"id": 2}]'), true],
    ['the key is seen as the value is', compileFilters(one({ key: { tenant: ['acme'] } })), kafka('x', { key: Buffer.from('{"tenant":"acme"}') }), true],
    ['metadata: topic and partition', compileFilters(one({ topic: ['mytopic'], partition: [0] })), kafka('x'), true],
    ['metadata: another partition', compileFilters(one({ partition: [1] })), kafka('x'), false],
    ['metadata: a 64-bit offset compares as its decimal text', compileFilters({ filters: [{ pattern: '{"offset": [9007199254740993]}' }] }), kafka('x', { offset: '9007199254740993' }), true],
    ['metadata: a 64-bit offset, the next one', compileFilters({ filters: [{ pattern: '{"offset": [9007199254740993]}' }] }), kafka('x', { offset: '9007199254740992' }), false],
    ['headers as text', compileFilters(one({ headers: { type: ['order'] } })), kafka('x', { headers: [{ key: 'type', value: Buffer.from('order') }] }), true],
    [
      'a repeated header: any of its values',
      compileFilters(one({ headers: { type: ['refund'] } })),
      kafka('x', { headers: [{ key: 'type', value: Buffer.from('order') }, { key: 'type', value: Buffer.from('refund') }] }),
      true,
    ],
  ])('%s', (_what, pass, record, want) => {
    expect(pass(record)).toBe(want);
  });

  it('shows a record as Lambda names its fields, with the value decoded (not base64)', () => {
    const view = filterView(
      kafka('{"device_ID": "AB1234", "n": 1.50}', { key: Buffer.from('k1'), headers: [{ key: 'h', value: Buffer.from('v') }, { key: 'bin', value: Buffer.from([0xff]) }] }),
    );
    expect(JSON.parse(JSON.stringify(view))).toEqual({
      topic: 'mytopic',
      partition: 0,
      offset: 15,
      timestamp: 1545084650987,
      timestampType: 'CREATE_TIME',
      key: 'k1',
      value: { device_ID: 'AB1234', n: 1.5 },
      headers: { h: 'v' },
    });
    expect((view.value as { n: JsonNumber }).n).toEqual(new JsonNumber(1.5, '1.50'));
    expect(filterView(kafka(null))).not.toHaveProperty('value');
    expect(filterView(kafka(Buffer.from([0xff])))).not.toHaveProperty('value');
  });
});

describe('Redis Streams entries', () => {
  // The Amazon MQ filtering page's examples, on the entry's "data" field (the same key name).
  it.each([
    ['data as JSON: timeout above 0', one({ data: { timeout: [{ numeric: ['>', 0] }] } }), redis([['data', '{ "timeout": 5, "IPAddress": "203.0.113.254" }']]), true],
    ['data as JSON: timeout 0', one({ data: { timeout: [{ numeric: ['>', 0] }] } }), redis([['data', '{ "timeout": 0, "IPAddress": "203.0.113.254" }']]), false],
    ['data as a plain string: begins with "Result: "', one({ data: [{ prefix: 'Result: ' }] }), redis([['data', 'Result: ok']]), true],
    ['data as a plain string: another text', one({ data: [{ prefix: 'Result: ' }] }), redis([['data', 'Error: no']]), false],
    ['fields by name', one({ fields: { kind: ['order'] } }), redis([['kind', 'order'], ['n', '1']]), true],
    ['a repeated field: the last value', one({ fields: { kind: ['refund'] } }), redis([['kind', 'order'], ['kind', 'refund']]), true],
    ['a repeated field: not an earlier value', one({ fields: { kind: ['order'] } }), redis([['kind', 'order'], ['kind', 'refund']]), false],
    ['field values are strings: numeric does not apply', one({ fields: { n: [{ numeric: ['=', 1] }] } }), redis([['n', '1']]), false],
    ['the stream and the entry time', one({ stream: ['orders'], timestamp: [{ numeric: ['>=', 1700000000000] }] }), redis([['a', 'b']]), true],
    ['no data field: data does not exist', one({ data: [{ exists: false }] }), redis([['a', 'b']]), true],
  ])('%s', (_what, criteria, record, want) => {
    expect(compileFilters(criteria)(record)).toBe(want);
  });

  it('shows an entry as {stream, id, timestamp, fields, data}', () => {
    const view = filterView(redis([['data', '{"a": [1, "x"]}'], ['k', 'v1'], ['k', 'v2']], '1700000000123-7'));
    expect(JSON.parse(JSON.stringify(view))).toEqual({
      stream: 'orders',
      id: '1700000000123-7',
      timestamp: 1700000000123,
      fields: { data: '{"a": [1, "x"]}', k: 'v2' },
      data: { a: [1, 'x'] },
    });
    expect(filterView(redis([['data', 'plain']])).data).toBe('plain');
  });
});

describe('compileFilters', () => {
  const order = kafka('{"kind": "order", "amount": 30}');
  const refund = kafka('{"kind": "refund", "amount": 5}');
  const other = kafka('{"kind": "ping"}');

  it('lets every record through without criteria or with no filters', () => {
    expect(compileFilters(undefined)(other)).toBe(true);
    expect(compileFilters({ filters: [] })(other)).toBe(true);
  });

  it('invokes a record that matches any of the patterns (they are ORed)', () => {
    const pass = compileFilters({
      filters: [{ pattern: '{"value": {"kind": ["order"], "amount": [{"numeric": [">=", 10]}]}}' }, { pattern: '{"value": {"kind": ["refund"]}}' }],
    });
    expect([order, refund, other].map(pass)).toEqual([true, true, false]);
  });

  it('refuses invalid criteria with what is wrong', () => {
    expect(() => compileFilters({ filters: [{ pattern: '{"value": [{"contains": "x"}]}' }] })).toThrow(/invalid filterCriteria: filter 1: unknown operator "contains" at "value"/);
  });
});

describe('filterProblems', () => {
  const problems = (...patterns: string[]) => filterProblems({ filters: patterns.map((pattern) => ({ pattern })) });

  it('accepts valid criteria and none at all', () => {
    expect(filterProblems(undefined)).toEqual([]);
    expect(problems('{"value": {"device_ID": [{"prefix": "AB"}]}}', '{"a": [1, 2]}')).toEqual([]);
  });

  it.each([
    ['invalid JSON', '{"value": [', /^filter 1: the pattern is not valid JSON: /],
    ['not an object', '["a"]', /^filter 1: the pattern must be a JSON object of fields, got a list$/],
    ['an empty pattern', '{}', /^filter 1: the pattern is an empty object: name at least one field$/],
    ['a bare value instead of a list', '{"Name": "Alice"}', /^filter 1: "Name" must be a list of values or rules \(e\.g\. \["a"\]\) or an object of fields, got "Alice"$/],
    ['an empty list', '{"a": {"b": []}}', /^filter 1: "a\.b" is an empty list, which matches nothing/],
    ['a list in a list', '{"a": [["x"]]}', /^filter 1: "a" holds a list inside its list/],
    ['an unknown operator', '{"Name": [{"contains": "li"}]}', /^filter 1: unknown operator "contains" at "Name"; Lambda's operators are prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and \$or$/],
    ['two operators in one rule', '{"a": [{"prefix": "x", "suffix": "y"}]}', /^filter 1: a rule at "a" must hold exactly one operator, got "prefix", "suffix"$/],
    ['numeric with a string', '{"Price": [{"numeric": [">", "10"]}]}', /^filter 1: "numeric" at "Price": ">" must be followed by a number, got "10"$/],
    ['numeric with an unknown comparison', '{"Price": [{"numeric": ["!=", 10]}]}', /^filter 1: "numeric" at "Price": "!=" is not a comparison; use one of = < <= > >=$/],
    ['numeric with a reversed range', '{"Price": [{"numeric": [">", 20, "<", 10]}]}', /the lower bound 20 must be below the upper bound 10/],
    ['numeric with three terms', '{"Price": [{"numeric": [">", 1, "<"]}]}', /^filter 1: "numeric" at "Price" takes \[op, number\]/],
    ['numeric = in a range', '{"Price": [{"numeric": ["=", 1, "<", 5]}]}', /^filter 1: "numeric" at "Price" takes \[op, number\]/],
    ['exists with a string', '{"a": [{"exists": "yes"}]}', /^filter 1: "exists" at "a" takes true or false, got "yes"$/],
    ['prefix with a number', '{"a": [{"prefix": 1}]}', /^filter 1: "prefix" at "a" takes a string, got the number 1$/],
    ['anything-but mixing strings and numbers', '{"a": [{"anything-but": ["x", 1]}]}', /takes strings only or numbers only/],
    ['anything-but with an unknown operator', '{"a": [{"anything-but": {"numeric": [">", 1]}}]}', /"anything-but" at "a" takes a value, a list of values, or one of/],
    ['a wildcard with consecutive stars', '{"a": [{"wildcard": "x**y"}]}', /consecutive \* are not allowed/],
    ['a wildcard escaping a letter', '{"a": [{"wildcard": "x\\\\y"}]}', /a backslash may escape only \* or \\/],
    ['nesting deeper than 512 levels', `${'{"a":'.repeat(513)}[1]${'}'.repeat(513)}`, /^filter 1: the pattern is nested deeper than 512 levels$/],
    ['$or with one pattern', '{"$or": [{"a": ["x"]}]}', /^filter 1: "\$or" must be a list of at least two patterns \(objects\)/],
    ['cidr (EventBridge only)', '{"ip": [{"cidr": "10.0.0.0/24"}]}', /"cidr" at "ip" is EventBridge's, not supported/],
  ])('%s', (_what, pattern, message) => {
    const got = problems(pattern);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(message);
  });

  it('names the filter that is wrong', () => {
    expect(problems('{"a": ["x"]}', '{"b": [{"nope": 1}]}')).toEqual([
      'filter 2: unknown operator "nope" at "b"; Lambda\'s operators are prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and $or',
    ]);
  });

  it('refuses more than 5 filters', () => {
    expect(problems(...Array.from({ length: 6 }, (_, i) => `{"n": [${i}]}`))).toEqual(['6 filters; a mapping takes 5 at most']);
  });

  it('refuses a pattern longer than 4096 characters', () => {
    const long = `{"a": [${'"x",'.repeat(1100)}"x"]}`;
    expect(long.length).toBeGreaterThan(4096);
    expect(problems(long)).toEqual([`filter 1: the pattern is ${long.length} characters long; 4096 at most`]);
  });

  it('refuses $or lists that multiply past 1000 combinations', () => {
    const or = (k: string) => `"${k}": {"$or": [${Array.from({ length: 11 }, (_, i) => `{"f${i}": [1]}`).join(', ')}]}`;
    expect(problems(`{${or('a')}, ${or('b')}}`)).toEqual([]); // 121
    expect(problems(`{${or('a')}, ${or('b')}, ${or('c')}}`)).toEqual(['filter 1: the $or lists make more than 1000 rule combinations']); // 1331
  });
});
