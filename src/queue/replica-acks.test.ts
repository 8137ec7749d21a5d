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
  it.each([
    ['no replica, none seen: no WAIT (a single Redis pays nothing)', 0, 0, 0],
    ['a replica online', 0, 1, 1],
    ['several online: one is enough, Sentinel promotes the most up-to-date', 0, 3, 1],
    ['the replica gone on a connection that had one: still one (refuse rather than accept what nobody else holds)', 1, 0, 1],
  ])('%s', (_what, before, online, want) => {
    expect(requiredAcks(before, online)).toBe(want);
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
