// `hearth invoke NAME`: calls the gateway's Invoke API, as the AWS CLI would.
import { parseArgs } from 'node:util';
import { callGateway, describeErrorAnswer, GATEWAY_HELP, gatewayOptions } from './gateway-client.js';

const HELP = `usage: hearth invoke NAME[:QUALIFIER] [--payload JSON] [--async] [--log] [--url URL]

  --payload JSON  the event (default: {})
  --async         invocation type Event: queue it and print the request id
  --log           print the last 4 KB of the invocation's logs to stderr
${GATEWAY_HELP}`;

export async function invokeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      payload: { type: 'string', default: '{}' },
      async: { type: 'boolean', default: false },
      log: { type: 'boolean', default: false },
      ...gatewayOptions(),
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
  const res = await callGateway(values, 'POST', `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, { headers, body: values.payload });
  if (res.status >= 400) {
    console.error(describeErrorAnswer(res));
    return 1;
  }
  if (values.async) {
    console.log(String(res.headers['x-amzn-requestid'] ?? ''));
    return 0;
  }
  const log = res.headers['x-amz-log-result'];
  if (typeof log === 'string') process.stderr.write(Buffer.from(log, 'base64').toString('utf8'));
  console.log(res.text);
  return res.headers['x-amz-function-error'] ? 1 : 0;
}
