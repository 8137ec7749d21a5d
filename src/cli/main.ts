#!/usr/bin/env node
// The `hearth` command. Each subcommand lives in its own file and is loaded
// only when used, so `hearth validate` does not pay for the gateway's imports.

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: { summary: 'run the whole platform on this machine (embedded default)', load: async () => (await import('./up.js')).upCommand },
  gateway: { summary: 'run the gateway in a cluster', load: async () => (await import('./gateway.js')).gatewayCommand },
  controller: { summary: 'run the Kubernetes controller', load: async () => (await import('./controller.js')).controllerCommand },
  agent: { summary: 'run the Runtime API agent (pod sidecar)', load: async () => (await import('./agent.js')).agentCommand },
  invoke: { summary: 'invoke a function through the gateway', load: async () => (await import('./invoke.js')).invokeCommand },
  ls: { summary: 'list the functions (Lambda ListFunctions), with --versions their latest version and aliases', load: async () => (await import('./ls.js')).lsCommand },
  get: { summary: "show one function's configuration, code location, concurrency and tags (GetFunction)", load: async () => (await import('./get.js')).getCommand },
  init: { summary: 'write a ready function directory (handler + YAML) for a runtime, like sam init', load: async () => (await import('./init.js')).initCommand },
  publish: { summary: "publish a version of a function's code and configuration", load: async () => (await import('./publish.js')).publishCommand },
  alias: { summary: 'point an alias at a version, with an optional weighted second version', load: async () => (await import('./alias.js')).aliasCommand },
  versions: { summary: "list a function's versions and aliases", load: async () => (await import('./versions.js')).versionsCommand },
  logs: { summary: "print a function's log lines, --follow for new ones (hearth up or a cluster, through the gateway)", load: async () => (await import('./logs.js')).logsCommand },
  validate: { summary: 'check Function YAML files', load: async () => (await import('./validate.js')).validateCommand },
  cost: { summary: 'show the cost model C = k·t + p·n per function', load: async () => (await import('./cost.js')).costCommand },
  dlq: { summary: 'list or redrive dead-lettered events', load: async () => (await import('./dlq.js')).dlqCommand },
  package: { summary: 'build a ZIP deployment package from a directory', load: async () => (await import('./package.js')).packageCommand },
  deploy: { summary: 'publish Functions and their packages (functions directory or cluster)', load: async () => (await import('./deploy.js')).deployCommand },
  unpack: { summary: 'unpack ZIP packages safely into a directory (pod init container)', load: async () => (await import('./unpack.js')).unpackCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: hearth <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'hearth <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`hearth: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await cmd.load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`hearth: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
