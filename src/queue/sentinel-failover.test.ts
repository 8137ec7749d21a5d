import { describe, expect, it } from 'vitest';
import { switchAction } from './sentinel-failover.js';

describe('what a client does when Sentinel announces a new master (by its ioredis status)', () => {
  it.each([
    ['ready on the old master: reconnect through the sentinels', 'ready', false, 'reconnect'],
    ['ready on the new master already: keep it, and its blocked reads', 'ready', true, 'keep'],
    ['mid-handshake with the old (perhaps frozen) master: reconnect', 'connect', false, 'reconnect'],
    ['mid-handshake with the new master: keep', 'connect', true, 'keep'],
    ['monitoring elsewhere: reconnect', 'monitoring', false, 'reconnect'],
    // disconnect(true) while a sentinel's answer is pending ends an ioredis client for good.
    ['asking the sentinels: leave it, check once ready', 'connecting', false, 'recheck'],
    ['waiting to reconnect: leave it, check once ready', 'reconnecting', false, 'recheck'],
    ['just closed: leave it, check once ready', 'close', false, 'recheck'],
    ['never connected (lazy): nothing to do', 'wait', false, 'keep'],
    ['ended: nothing to do', 'end', false, 'keep'],
  ])('%s', (_what, status, onNewMaster, want) => {
    expect(switchAction(status, onNewMaster)).toBe(want);
  });
});
