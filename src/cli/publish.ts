// `hearth publish NAME`: publishes a version of the function through the
// gateway (Lambda's PublishVersion) and prints its number, so a script can
// take it: `V=$(hearth publish orders) && hearth alias orders live "$V"`.
import { parseArgs } from 'node:util';
import { answerJson, callGateway, describeErrorAnswer, GATEWAY_HELP, gatewayOptions } from './gateway-client.js';

const HELP = `usage: hearth publish NAME [--description TEXT] [--url URL] [--api-key KEY]

Takes an immutable, numbered snapshot of the function's code and
configuration and prints the version's number. A function unchanged since
its latest version is not published again: that version's number is
printed, and stderr says so.

  --description TEXT  what this version is (at most 256 characters)
${GATEWAY_HELP}`;

export async function publishCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { description: { type: 'string' }, ...gatewayOptions(), help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    console.error(`hearth publish: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) {
    console.error(name === undefined ? HELP : `hearth publish: one function at a time, not ${positionals.join(' ')}\n\n${HELP}`);
    return 2;
  }
  if (values.description !== undefined && values.description.length > 256) {
    console.error(`hearth publish: --description may be at most 256 characters, not ${values.description.length}`);
    return 2;
  }
  const res = await callGateway(values, 'POST', `/2015-03-31/functions/${encodeURIComponent(name)}/versions`, {
    body: JSON.stringify(values.description !== undefined ? { Description: values.description } : {}),
  });
  if (res.status >= 400) {
    console.error(describeErrorAnswer(res));
    return 1;
  }
  const version = answerJson<{ Version?: string }>(res).Version;
  if (version === undefined) throw new Error(`the gateway answered ${res.status} without a version: ${res.text.slice(0, 200)}`);
  if (res.headers['x-hearth-version-created'] === 'false') console.error(`${name} has not changed since version ${version}: no new version published`);
  console.log(version);
  return 0;
}
