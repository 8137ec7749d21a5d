// `hearth publish NAME`: publishes a version of the function through the
// gateway (Lambda's PublishVersion) and prints its number, so a script can
// take it: `V=$(hearth publish orders) && hearth alias orders live "$V"`.
import { answerJson, callGateway, describeErrorAnswer, GATEWAY_HELP, oneFunction, parseGatewayCommand } from './gateway-client.js';

const HELP = `usage: hearth publish NAME [--description TEXT] [--url URL] [--api-key KEY]

Takes an immutable, numbered snapshot of the function's code and
configuration and prints the version's number. A function unchanged since
its latest version is not published again: that version's number is
printed, and stderr says so.

  --description TEXT  what this version is (at most 256 characters)
${GATEWAY_HELP}`;

export async function publishCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('publish', argv, { description: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const name = oneFunction('publish', positionals, HELP);
  if (name === undefined) return 2;
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
