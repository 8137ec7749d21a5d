// `npm run bench`: every benchmark prints its figures beside a baseline
// measured in the same run on the same machine. Pick some with
// `npm run bench -- agent gateway`.
import { formatTable, type Row } from './report.js';

type Bench = { title: string; run: () => Promise<Row[]> };

const BENCHES: Record<string, Bench> = {
  agent: { title: 'Agent: warm round trip and cold start per runtime', run: async () => (await import('./agent.js')).benchAgent() },
  gateway: { title: 'Gateway overhead and cold start from zero', run: async () => (await import('./gateway.js')).benchGateway() },
  queue: { title: 'Async queue on Redis Streams', run: async () => (await import('./queue.js')).benchQueue() },
  controller: { title: 'Controller: 500 Functions at once', run: async () => (await import('./controller.js')).benchControllerStandalone() },
  sandbox: { title: 'Sandboxed cold start beside a plain process', run: async () => (await import('./sandbox.js')).benchSandbox() },
  churn: { title: 'Embedded platform: calls while it changes, beside the same calls while nothing does', run: async () => (await import('./churn.js')).benchChurn() },
  cluster: { title: 'Warm invocation on Kubernetes (process-node cluster): through the gateway Service, beside straight to a gateway pod and to the agent', run: async () => (await import('./cluster-warm.js')).benchClusterWarm() },
  coldstart: { title: 'Cold start on Kubernetes (process-node cluster): pools on, pools off, and a plain Deployment', run: async () => (await import('./coldstart.js')).benchColdStart() },
  versions: { title: 'Warm invoke by qualifier: unqualified, a version number, an alias with 10 % to a second version', run: async () => (await import('./versions.js')).benchVersions() },
  streaming: { title: 'Response streaming: time to first byte and a 100 MiB stream, through the gateway beside straight from the agent', run: async () => (await import('./streaming.js')).benchStreaming() },
  'event-sources': { title: 'Kafka event-source mapping end to end (no-op Python function, batch size 100) beside Kafka\'s ConsumerPerformance on the same broker', run: async () => (await import('./event-sources.js')).benchEventSources() },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  let failed = false;
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) {
      console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}`);
      failed = true;
      continue;
    }
    const started = Date.now();
    try {
      const rows = await bench.run();
      console.log(formatTable(bench.title, rows));
      console.log(`\n(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      console.error(`benchmark ${name} failed: ${(err as Error).stack ?? String(err)}`);
      failed = true;
    }
  }
  process.exitCode = failed ? 1 : 0;
}

await main();

// Every bench closes what it opened, so the process ends by itself here. A
// handle some bench leaks would keep it alive (and `make bench` hanging)
// after the tables are out: name what is left, then exit anyway.
setTimeout(() => {
  console.error(`bench: still running 5 s after the last table, held by ${process.getActiveResourcesInfo().join(', ')}: a bench leaks a handle; exiting`);
  process.exit(process.exitCode ?? 1);
}, 5_000).unref();
