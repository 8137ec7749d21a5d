// The shutdown flags every serving command shares: what each command assumes
// when they are not given, and which values are refused.
import { describe, expect, it } from 'vitest';
import { GATEWAY_SHUTDOWN_DEFAULTS, parseGatewayArgs } from '../../src/cli/gateway.js';
import { checkServeFlags } from '../../src/cli/serve-flags.js';

const base = { host: '127.0.0.1', port: '0', 'no-auth': false };

describe('--shutdown-delay-seconds and --drain-timeout-seconds', () => {
  it('default to no delay and a 60 s drain for hearth up, a 5 s delay for hearth gateway', () => {
    expect(checkServeFlags(base)).toMatchObject({ shutdownDelayMs: 0, drainTimeoutMs: 60_000 });
    expect(checkServeFlags(parseGatewayArgs(['--no-auth']), GATEWAY_SHUTDOWN_DEFAULTS)).toMatchObject({ shutdownDelayMs: 5_000, drainTimeoutMs: 60_000 });
  });

  it.each([
    ['0', '0', 0, 0],
    ['1.5', '30', 1_500, 30_000],
    ['12', '900', 12_000, 900_000],
  ])('reads --shutdown-delay-seconds %s --drain-timeout-seconds %s', (delay, drain, delayMs, drainMs) => {
    expect(checkServeFlags({ ...base, 'shutdown-delay-seconds': delay, 'drain-timeout-seconds': drain })).toMatchObject({ shutdownDelayMs: delayMs, drainTimeoutMs: drainMs });
  });

  it.each([
    ['shutdown-delay-seconds', '-1'],
    ['shutdown-delay-seconds', 'soon'],
    ['shutdown-delay-seconds', ''],
    ['drain-timeout-seconds', '3601'],
    ['drain-timeout-seconds', 'Infinity'],
  ])('refuses --%s %j', (flag, value) => {
    expect(checkServeFlags({ ...base, [flag]: value })).toBe(`--${flag} must be a number of seconds between 0 and 3600, not ${value}`);
  });
});
