import { describe, expect, it } from 'vitest';
import { runcHome } from './env.js';

const PASSWD = ['root:x:0:0:root:/root:/bin/bash', 'app:x:10001:10001::/home/app:/bin/sh', 'nohome:x:20:20::: /bin/sh', ''].join('\n');

describe('runcHome: HOME when neither the image nor the pod set one, as runc does', () => {
  it("is the user's home from /etc/passwd", () => {
    expect(runcHome(0, PASSWD)).toBe('/root');
    expect(runcHome(10001, PASSWD)).toBe('/home/app');
  });

  it('is / for a user with no entry (a bare runAsUser) or an empty home', () => {
    expect(runcHome(65532, PASSWD)).toBe('/');
    expect(runcHome(20, PASSWD)).toBe('/');
    expect(runcHome(10001, '')).toBe('/');
  });
});
