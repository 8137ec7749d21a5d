import { describe, expect, it } from 'vitest';
import { onlineReplicas, requiredAcks } from './replica-acks.js';
import { switchedTo } from './sentinel-failover.js';

const info = (...replicas: string[]): string =>
  ['# Replication', 'role:master', `connected_slaves:${replicas.length}`, ...replicas.map((r, i) => `slave${i}:${r}`), 'master_repl_offset:1234', ''].join('\r\n');

describe('replicas a master has online (INFO replication)', () => {
  it.each([
    ['none', info(), 0],
    ['one online', info('ip=10.0.0.2,port=6379,state=online,offset=1234,lag=0'), 1],
    ['one still syncing: it cannot acknowledge', info('ip=10.0.0.2,port=6379,state=wait_bgsave,offset=0,lag=0'), 0],
    ['two, one online', info('ip=10.0.0.2,port=6379,state=send_bulk,offset=0,lag=0', 'ip=10.0.0.3,port=6379,state=online,offset=1234,lag=1'), 1],
    ['a replica itself', '# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_link_status:up\r\n', 0],
  ])('%s', (_what, text, n) => {
    expect(onlineReplicas(text)).toBe(n);
  });
});

describe('acknowledgements an enqueue waits for', () => {
  const hold = 10_000;
  it.each([
    ['never counted: none', [], 0],
    ['no replica: no WAIT (a single Redis pays nothing)', [{ at: 0, online: 0 }], 0],
    ['two online: both, whichever Sentinel promotes', [{ at: 0, online: 2 }], 2],
    ['one of two just left (promoted, the master still up): still two, so the WAIT fails', [{ at: 0, online: 2 }, { at: 1000, online: 1 }], 2],
    ['the only one just left: still one', [{ at: 0, online: 1 }, { at: 1000, online: 0 }], 1],
    ['gone longer than the hold (a replica restarting): the ones online now', [{ at: 0, online: 2 }, { at: 5000, online: 1 }, { at: 11_000, online: 1 }], 1],
    ['the latest count holds however old', [{ at: 0, online: 1 }], 1],
    ['one more joined: at once', [{ at: 0, online: 1 }, { at: 1000, online: 2 }], 2],
  ])('%s', (_what, samples, want) => {
    const now = samples.at(-1)?.at ?? 0;
    expect(requiredAcks(samples, now === 0 ? 20_000 : now, hold)).toBe(want);
  });
});

describe('+switch-master announcements', () => {
  it.each([
    ['this master', 'hearth 10.0.0.1 6379 10.0.0.2 6379', '10.0.0.2:6379'],
    ['another master', 'other 10.0.0.1 6379 10.0.0.2 6379', undefined],
    ['a prefix of the name is another master', 'hearth-2 10.0.0.1 6379 10.0.0.2 6379', undefined],
    ['malformed', 'hearth 10.0.0.1', undefined],
  ])('%s', (_what, message, want) => {
    expect(switchedTo(message, 'hearth')).toBe(want);
  });
});
