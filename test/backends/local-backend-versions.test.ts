// Versions of one function side by side on the local backend, with Hearth's
// real Node runtime: the UnitCatalog drives the backend as hearth up does,
// the dispatcher sends each call to its unit. Version 1 and $LATEST run
// different inline code in instances of their own, each told its own
// version; both write the function's one log.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { UnitCatalog } from '../../src/versions/unit-catalog.js';
import { silent } from '../agent/helpers.js';
import { functionOf, versionOf } from '../helpers/hand-versions.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-local-versions-'));
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** Node code answering `answer` and what Lambda's environment told it, logging one line. */
function code(answer: string): FunctionSpecInput['code'] {
  return {
    inline: {
      'index.mjs': [
        'export const handler = async (_e, ctx) => {',
        `  console.log('ran ${answer}');`,
        `  return { answer: ${JSON.stringify(answer)}, name: process.env.AWS_LAMBDA_FUNCTION_NAME, version: process.env.AWS_LAMBDA_FUNCTION_VERSION, stream: process.env.AWS_LAMBDA_LOG_STREAM_NAME, arn: ctx.invokedFunctionArn };`,
        '};',
      ].join('\n'),
    },
  };
}

type Answer = { answer: string; name: string; version: string; stream: string; arn: string };

async function platform() {
  const catalog = new MemoryCatalog();
  const units = new UnitCatalog(catalog);
  const backend = new LocalBackend({ cacheDir, logger: silent, warmPoolSize: 1 });
  const applied: string[] = [];
  const applying = new Set<Promise<void>>();
  const unsubscribe = units.onChange((key) => {
    applied.push(key);
    const unit = units.get(key);
    const work = unit ? backend.upsert(unit) : backend.remove(key);
    applying.add(work);
    void work.finally(() => applying.delete(work));
  });
  const dispatcher = new Dispatcher({ catalog, units, backend });
  closers.push(async () => {
    dispatcher.close();
    unsubscribe();
    units.close();
    await backend.close();
  });
  const settled = async () => {
    while (applying.size > 0) await Promise.all([...applying]);
  };
  let seq = 0;
  const invoke = async (qualifier?: string) => {
    const r = await dispatcher.invoke({ functionName: 'twin', requestId: `r${++seq}`, payload: Buffer.from('{}'), type: 'sync', ...(qualifier !== undefined ? { qualifier } : {}) });
    expect(r.outcome).toBe('success');
    return { ...(JSON.parse(r.payload.toString()) as Answer), executed: r.executedVersion };
  };
  return { catalog, backend, applied, settled, invoke };
}

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:twin';

describe('LocalBackend: versions of a function side by side', () => {
  it('runs version 1 and $LATEST with their own code in their own instances, each told its version, both logging to the function\'s log', async () => {
    const { catalog, backend, applied, settled, invoke } = await platform();
    catalog.set(functionOf('twin', { code: code('latest') }, [{ name: 'live', version: '1' }]));
    catalog.setVersions('twin', [versionOf('twin', '1', { code: code('one') })]);
    await settled();
    expect(applied).toEqual(['twin', 'twin:1']);
    // Nothing runs before the first call: each unit starts from zero.
    expect(backend.instances('twin')).toHaveLength(0);
    expect(backend.instances('twin:1')).toHaveLength(0);

    const [latest, one, live] = await Promise.all([invoke(), invoke('1'), invoke('live')]);
    expect(latest).toMatchObject({ answer: 'latest', name: 'twin', version: '$LATEST', arn: ARN, executed: '$LATEST' });
    expect(one).toMatchObject({ answer: 'one', name: 'twin', version: '1', arn: `${ARN}:1`, executed: '1' });
    expect(live).toMatchObject({ answer: 'one', name: 'twin', version: '1', arn: `${ARN}:live`, executed: '1' });
    expect(latest.stream).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(one.stream).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[1\][0-9a-f]{32}$/);
    const latestIds = backend.instances('twin').map((i) => i.id);
    const oneIds = backend.instances('twin:1').map((i) => i.id);
    expect(latestIds.length).toBeGreaterThanOrEqual(1);
    expect(oneIds.length).toBeGreaterThanOrEqual(1);
    expect(latestIds.filter((id) => oneIds.includes(id))).toEqual([]);

    // Editing $LATEST replaces its instances only; version 1 keeps running what it was published with.
    applied.length = 0;
    catalog.set(functionOf('twin', { code: code('latest-2') }, [{ name: 'live', version: '1' }]));
    await settled();
    expect(applied).toEqual(['twin']);
    expect((await invoke()).answer).toBe('latest-2');
    expect(await invoke('1')).toMatchObject({ answer: 'one', version: '1' });
    expect(backend.instances('twin:1').map((i) => i.id)).toEqual(oneIds);

    // Moving the alias changes no unit: nothing is redeployed or restarted.
    catalog.set(functionOf('twin', { code: code('latest-2') }, [{ name: 'live', version: '$LATEST' }]));
    await settled();
    expect(applied).toEqual(['twin']);
    expect(await invoke('live')).toMatchObject({ answer: 'latest-2', version: '$LATEST', arn: `${ARN}:live` });

    // hearth logs twin reads twin.log: every version's lines, version 1's marked [1].
    await backend.close();
    const log = readFileSync(join(cacheDir, 'logs', 'twin.log'), 'utf8');
    expect(log).toMatch(/^\S+Z (?!\[1\]).*ran latest$/m);
    expect(log).toMatch(/^\S+Z \[1\] .*ran one$/m);
    // No file the backend made is named by a unit key: NAME:N never reaches a path.
    expect(readdirSync(cacheDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.includes(':'))).toEqual([]);
  });
});
