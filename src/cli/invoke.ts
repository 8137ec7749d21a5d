// `hearth invoke NAME`: calls the gateway's Invoke API, as the AWS CLI would.
import { parseArgs } from 'node:util';
import { request } from 'undici';

const HELP = `usage: hearth invoke NAME [--payload JSON] [--async] [--log] [--url URL]

  --payload JSON  the event (default: {})
  --async         invocation type Event: queue it and print the request id
  --log           print the last 4 KB of the invocation's logs to stderr
  --url URL       the gateway (default: $HEARTH_URL or http://127.0.0.1:8080)
  --api-key KEY   the caller's API key (default: $HEARTH_API_KEY)`;

export async function invokeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      payload: { type: 'string', default: '{}' },
      async: { type: 'boolean', default: false },
      log: { type: 'boolean', default: false },
      url: { type: 'string', default: process.env.HEARTH_URL ?? 'http://127.0.0.1:8080' },
      'api-key': { type: 'string', default: process.env.HEARTH_API_KEY },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const name = positionals[0];
  if (values.help || !name) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-amz-invocation-type': values.async ? 'Event' : 'RequestResponse',
  };
  if (values.log) headers['x-amz-log-type'] = 'Tail';
  if (values['api-key']) headers.authorization = `Bearer ${values['api-key']}`;
  const res = await request(`${values.url.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
    method: 'POST',
    headers,
    body: values.payload,
  });
  const body = await res.body.text();
  const requestId = String(res.headers['x-amzn-requestid'] ?? '');
  if (res.statusCode >= 400) {
    console.error(`${String(res.headers['x-amzn-errortype'] ?? 'Error')} (${res.statusCode}): ${body}`);
    return 1;
  }
  if (values.async) {
    console.log(requestId);
    return 0;
  }
  const log = res.headers['x-amz-log-result'];
  if (typeof log === 'string') process.stderr.write(Buffer.from(log, 'base64').toString('utf8'));
  console.log(body);
  return res.headers['x-amz-function-error'] ? 1 : 0;
}
