// Values a pod may read about itself (downward API), shared by env and volumes.
import type { V1ObjectFieldSelector, V1Pod } from '@kubernetes/client-node';

export interface PodFacts {
  pod: V1Pod;
  podIp: string;
  hostIp: string;
}

function mapText(m: Record<string, string> | undefined): string {
  return Object.entries(m ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join('\n');
}

export function fieldValue(facts: PodFacts, ref: V1ObjectFieldSelector): string {
  const { pod } = facts;
  const path = ref.fieldPath;
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub !== null) {
    const map = sub[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[sub[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'metadata.labels':
      return mapText(pod.metadata?.labels);
    case 'metadata.annotations':
      return mapText(pod.metadata?.annotations);
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
      return facts.podIp;
    case 'status.hostIP':
    case 'status.hostIPs':
      return facts.hostIp;
    default:
      throw new Error(`unsupported fieldRef ${path}`);
  }
}
