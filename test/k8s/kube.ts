import { inject } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import type { K8sContext } from '../cluster/global-setup.js';

export type { K8sContext };

/** The shared control plane started by test/cluster/global-setup.ts, or why there is none. */
export function k8sContext(): K8sContext {
  return inject('k8s');
}

export function kubeConfigFor(ctx: Extract<K8sContext, { available: true }>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(ctx.kubeconfigPath);
  return kc;
}
