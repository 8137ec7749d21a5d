// The process node behaves as a kubelet would for the pod features Hearth's
// pods and chart use: env and volumes of every kind, the service-account
// token (in-cluster calls work), security context, memory limits, init
// containers and native sidecars, probes, restarts with back-off, image
// pulls of unknown images, graceful deletion and preStop hooks.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ctx, isReady, kubectl, tool, until, api, type PodView } from './cluster.js';

const NS = 'node-e2e';
const IMAGE = 'docker.io/library/redis:7';

async function apply(...docs: object[]): Promise<void> {
  await tool('kubectl', ['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
}

function pod(name: string, spec: object): object {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } }, spec };
}

async function getPod(name: string): Promise<PodView | undefined> {
  return api().getOrUndefined<PodView>(`/api/v1/namespaces/${NS}/pods/${name}`);
}

/** The node keeps container output under logs/pods/<ns>_<pod>_<uid>/<container>.log. */
function podLog(name: string, container: string): string {
  const dir = join(ctx().logsDir, 'pods');
  const match = readdirSync(dir).filter((d) => d.startsWith(`${NS}_${name}_`));
  return match.map((d) => readFileSync(join(dir, d, `${container}.log`), 'utf8')).join('');
}

async function phase(name: string, want: string, timeoutMs = 60_000): Promise<PodView> {
  return until(`pod ${name} ${want}`, async () => {
    const p = await getPod(name);
    return p?.status.phase === want ? p : undefined;
  }, timeoutMs);
}

const INSPECT = `
import json, os, ssl, urllib.request
out = {'uid': os.getuid(), 'groups': sorted(os.getgroups()), 'env': {k: os.environ.get(k) for k in ['POD_IP', 'POD_NAME', 'POD_NS', 'SECRET', 'CM', 'FROM_CM_a', 'EXPANDED']}}
try:
    open('/should-fail', 'w')
    out['rootWritable'] = True
except OSError:
    out['rootWritable'] = False
open('/tmp/ok', 'w').write('x')
out['files'] = {p: open(p).read() for p in ['/etc/cm/a', '/etc/secret/s', '/etc/info/name', '/var/run/secrets/kubernetes.io/serviceaccount/namespace']}
sa = '/var/run/secrets/kubernetes.io/serviceaccount'
req = urllib.request.Request('https://kubernetes.default.svc/api/v1/namespaces/${NS}/pods', headers={'Authorization': 'Bearer ' + open(sa + '/token').read()})
try:
    urllib.request.urlopen(req, context=ssl.create_default_context(cafile=sa + '/ca.crt'))
    out['api'] = 200
except urllib.error.HTTPError as e:
    out['api'] = e.code
out['hostname'] = [open('/etc/hostname').read().strip(), os.uname().nodename]
print(json.dumps(out))
`;

describe.runIf(inject('e2e') !== undefined).sequential('the process node runs pods as a kubelet would', () => {
  beforeAll(async () => {
    await kubectl('create', 'namespace', NS);
    await until('default ServiceAccount', async () => ((await api().getOrUndefined(`/api/v1/namespaces/${NS}/serviceaccounts/default`)) === undefined ? undefined : true));
    await apply(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: NS }, data: { a: 'from-configmap' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec', namespace: NS }, stringData: { s: 'from-secret' } },
    );
  }, 60_000);

  it('env (valueFrom, envFrom, $(VAR)), every volume kind, the service-account token in-cluster, runAsUser and a read-only root', async () => {
    await apply(pod('inspect', {
      restartPolicy: 'Never',
      securityContext: { runAsUser: 1234, runAsGroup: 1234, fsGroup: 2345, runAsNonRoot: true },
      containers: [{
        name: 'main', image: IMAGE, command: ['python3', '-c', INSPECT],
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'SECRET', valueFrom: { secretKeyRef: { name: 'sec', key: 's' } } },
          { name: 'CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'a' } } },
          { name: 'EXPANDED', value: '$(POD_NAME)-x' },
        ],
        envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'FROM_CM_' }],
        volumeMounts: [
          { name: 'tmp', mountPath: '/tmp' },
          { name: 'cm', mountPath: '/etc/cm', readOnly: true },
          { name: 'sec', mountPath: '/etc/secret', readOnly: true },
          { name: 'info', mountPath: '/etc/info' },
        ],
      }],
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'cm', configMap: { name: 'cm' } },
        { name: 'sec', secret: { secretName: 'sec', defaultMode: 0o440 } },
        { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
      ],
    }));
    const p = await phase('inspect', 'Succeeded');
    const out = JSON.parse(podLog('inspect', 'main').trim().split('\n').at(-1) ?? '{}') as {
      uid: number; groups: number[]; env: Record<string, string>; rootWritable: boolean; files: Record<string, string>; api: number; hostname: string[];
    };
    expect(out.uid).toBe(1234);
    expect(out.groups).toContain(2345);
    expect(out.env).toEqual({ POD_IP: p.status.podIP, POD_NAME: 'inspect', POD_NS: NS, SECRET: 'from-secret', CM: 'from-configmap', FROM_CM_a: 'from-configmap', EXPANDED: 'inspect-x' });
    expect(out.rootWritable).toBe(false);
    expect(out.files).toEqual({ '/etc/cm/a': 'from-configmap', '/etc/secret/s': 'from-secret', '/etc/info/name': 'inspect', '/var/run/secrets/kubernetes.io/serviceaccount/namespace': NS });
    // Authenticated through kube-proxy's ClusterIP and cluster DNS; the default ServiceAccount may not list pods.
    expect(out.api).toBe(403);
    expect(out.hostname).toEqual(['inspect', 'inspect']);
    expect(p.status.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  }, 90_000);

  it('refuses to run a container as root under runAsNonRoot (CreateContainerConfigError)', async () => {
    await apply(pod('root', { securityContext: { runAsNonRoot: true, runAsUser: 0 }, containers: [{ name: 'main', image: IMAGE, command: ['sleep', '60'] }] }));
    const s = await until('CreateContainerConfigError', async () => {
      const st = (await getPod('root'))?.status.containerStatuses?.[0];
      return st?.state?.waiting?.reason === 'CreateContainerConfigError' ? st : undefined;
    });
    expect(s.state?.waiting?.message).toMatch(/runAsNonRoot/);
  }, 60_000);

  it('enforces the memory limit through the cgroup and reports OOMKilled', async () => {
    await apply(pod('hog', {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: IMAGE, command: ['python3', '-c', 'x = bytearray(300 * 1024 * 1024); import time; time.sleep(30)'], resources: { limits: { memory: '64Mi' } } }],
    }));
    const p = await phase('hog', 'Failed');
    expect(p.status.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  }, 60_000);

  it('restarts a crashing container with CrashLoopBackOff and counts restarts', async () => {
    await apply(pod('crash', { containers: [{ name: 'main', image: IMAGE, command: ['sh', '-c', 'exit 3'] }] }));
    const s = await until('CrashLoopBackOff after two restarts', async () => {
      const st = (await getPod('crash'))?.status.containerStatuses?.[0];
      return st !== undefined && st.restartCount >= 2 && st.state?.waiting?.reason === 'CrashLoopBackOff' ? st : undefined;
    }, 60_000);
    expect(s.lastState?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  }, 90_000);

  it('runs init containers first, keeps a native sidecar up, and lets an exec readiness probe decide Ready', async () => {
    await apply(pod('init', {
      volumes: [{ name: 'shared', emptyDir: {} }],
      initContainers: [
        { name: 'prepare', image: IMAGE, command: ['sh', '-c', 'echo prepared > /shared/order'], volumeMounts: [{ name: 'shared', mountPath: '/shared' }] },
        {
          name: 'sidecar', image: IMAGE, restartPolicy: 'Always', command: ['python3', '-m', 'http.server', '8081'],
          startupProbe: { tcpSocket: { port: 8081 }, periodSeconds: 1, failureThreshold: 30 },
        },
      ],
      containers: [{
        name: 'main', image: IMAGE, volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
        command: ['sh', '-c', 'cat /shared/order; sleep 3; touch /shared/ready; exec sleep 600'],
        readinessProbe: { exec: { command: ['test', '-f', '/shared/ready'] }, periodSeconds: 1 },
      }],
    }));
    const started = await until('main running', async () => {
      const p = await getPod('init');
      return p?.status.containerStatuses?.[0]?.state?.running !== undefined ? p : undefined;
    });
    expect(isReady(started)).toBe(false);
    const ready = await until('Ready once the probe passes', async () => {
      const p = await getPod('init');
      return p !== undefined && isReady(p) ? p : undefined;
    }, 30_000);
    const init = ready.status.initContainerStatuses ?? [];
    expect(init.find((s) => s.name === 'prepare')?.state?.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(init.find((s) => s.name === 'sidecar')?.state?.running).toBeDefined();
    expect(podLog('init', 'main')).toContain('prepared');
  }, 90_000);

  it('restarts a container whose liveness probe fails', async () => {
    await apply(pod('live', { containers: [{ name: 'main', image: IMAGE, command: ['sleep', '600'], livenessProbe: { httpGet: { path: '/', port: 9999 }, periodSeconds: 1, failureThreshold: 2 } }] }));
    await until('a liveness restart', async () => ((((await getPod('live'))?.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1) ? true : undefined), 60_000);
  }, 90_000);

  it('gives an image it does not have ErrImagePull, then ImagePullBackOff', async () => {
    await apply(pod('nopull', { containers: [{ name: 'main', image: 'ghcr.io/nobody/nothing:1' }] }));
    const reasons = new Set<string>();
    await until('ImagePullBackOff', async () => {
      const r = (await getPod('nopull'))?.status.containerStatuses?.[0]?.state?.waiting?.reason;
      if (r !== undefined) reasons.add(r);
      return r === 'ImagePullBackOff' ? true : undefined;
    }, 30_000, 100);
    expect([...reasons]).toContain('ErrImagePull');
    expect((await getPod('nopull'))?.status.phase).toBe('Pending');
  }, 60_000);

  it('deletes with the grace period: SIGTERM first, then the pod is gone', async () => {
    await apply(pod('grace', {
      terminationGracePeriodSeconds: 20,
      containers: [{ name: 'main', image: IMAGE, command: ['python3', '-u', '-c', "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM'), sys.exit(0)))\nprint('up')\ntime.sleep(600)"] }],
    }));
    await phase('grace', 'Running');
    await until('process up', async () => (podLog('grace', 'main').includes('up') ? true : undefined));
    const began = Date.now();
    await kubectl('delete', 'pod', '--namespace', NS, 'grace', '--wait=true', '--timeout=60s');
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(podLog('grace', 'main')).toContain('got SIGTERM');
  }, 90_000);

  it('runs preStop hooks on deletion: httpGet to a named port before SIGTERM; a failing hook is a FailedPreStopHook Event and the deletion goes on', async () => {
    const server = [
      'import http.server, signal, sys',
      'class Hook(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      "        print('hook ' + self.path, flush=True)",
      '        self.send_response(200)',
      '        self.end_headers()',
      '    def log_message(self, *a):',
      '        pass',
      "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), sys.exit(0)))",
      "server = http.server.HTTPServer(('0.0.0.0', 8090), Hook)",
      "print('up', flush=True)",
      'server.serve_forever()',
    ].join('\n');
    await apply(pod('hooks', {
      terminationGracePeriodSeconds: 20,
      initContainers: [{ name: 'helper', image: IMAGE, restartPolicy: 'Always', command: ['sleep', '600'], lifecycle: { preStop: { exec: { command: ['sh', '-c', 'exit 3'] } } } }],
      containers: [{
        name: 'main', image: IMAGE, command: ['python3', '-u', '-c', server],
        ports: [{ name: 'admin', containerPort: 8090 }],
        lifecycle: { preStop: { httpGet: { path: '/drain', port: 'admin' } } },
      }],
    }));
    await phase('hooks', 'Running');
    await until('server up', async () => (podLog('hooks', 'main').includes('up') ? true : undefined));
    await kubectl('delete', 'pod', '--namespace', NS, 'hooks', '--wait=true', '--timeout=60s');
    const out = podLog('hooks', 'main');
    expect(out).toContain('hook /drain');
    expect(out.indexOf('hook /drain')).toBeLessThan(out.indexOf('got SIGTERM'));
    const events = await api().get<{ items: { reason: string; type: string; involvedObject: { fieldPath?: string } }[] }>(
      `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=hooks,reason=FailedPreStopHook')}`,
    );
    expect(events.items.map((e) => [e.type, e.involvedObject.fieldPath])).toEqual([['Warning', 'spec.initContainers{helper}']]);
  }, 90_000);
});
