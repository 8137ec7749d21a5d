// The connection flags every serving command shares reach the gateway: from
// the command line through checkServeFlags, and from the embedded platform's
// options through startServing to the server a real socket meets.
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { checkServeFlags } from '../../src/cli/serve-flags.js';
import { startPlatform } from '../helpers/platform.js';

const base = { host: '127.0.0.1', port: '0', 'no-auth': false };

describe('connection flags', () => {
  it('are read by hearth up and hearth gateway into the settings; unset ones are left to the gateway', () => {
    expect(checkServeFlags(base)).toMatchObject({ connections: {} });
    const up = checkServeFlags({ ...base, 'max-connections': '900', 'max-connections-per-address': '8', 'headers-timeout-seconds': '5', 'body-timeout-seconds': '20' });
    expect(up).toMatchObject({ connections: { maxConnections: 900, maxConnectionsPerAddress: 8, headersTimeoutMs: 5_000, bodyTimeoutMs: 20_000 } });
    const gw = checkServeFlags(parseGatewayArgs(['--no-auth', '--max-connections-per-address=1024', '--body-timeout-seconds=2.5']));
    expect(gw).toMatchObject({ connections: { maxConnectionsPerAddress: 1024, bodyTimeoutMs: 2_500 } });
    expect(checkServeFlags({ ...base, 'max-connections': 'many' })).toBe('--max-connections must be a positive integer, not many');
  });
});

describe('the embedded platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  afterAll(async () => {
    await platform?.close();
  });

  it('applies its connection options to the server it listens with', async () => {
    platform = await startPlatform({}, { connections: { maxConnectionsPerAddress: 2 } });
    const port = Number(new URL(platform.url).port);
    const opened = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<{ closedSoon: Promise<boolean>; destroy: () => void }>((resolve) => {
            const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.7' });
            s.on('error', () => {});
            const closedSoon = new Promise<boolean>((r) => {
              const t = setTimeout(() => r(false), 1_500);
              s.once('close', () => {
                clearTimeout(t);
                r(true);
              });
            });
            s.once('connect', () => resolve({ closedSoon, destroy: () => s.destroy() }));
          }),
      ),
    );
    const closed = await Promise.all(opened.map((o) => o.closedSoon));
    for (const o of opened) o.destroy();
    // Exactly the one over the cap of 2 from this address.
    expect(closed.filter(Boolean)).toHaveLength(1);
  });
});
