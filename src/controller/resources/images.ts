// Which image runs what. Every image is a flag of the controller, so a
// cluster can mirror them; the defaults follow the release's version.
import type { FunctionSpec, Runtime } from '../../api/function.js';

export interface Images {
  agent: string;
  python: string;
  nodejs: string;
  go: string;
  /** Runs /var/task/bootstrap from a package (runtime provided). */
  provided: string;
}

export const DEFAULT_IMAGE_VERSION = '0.1.0';

export function defaultImages(version: string = DEFAULT_IMAGE_VERSION): Images {
  return {
    agent: `ghcr.io/hearth-dev/agent:${version}`,
    python: `ghcr.io/hearth-dev/runtime-python:${version}`,
    nodejs: `ghcr.io/hearth-dev/runtime-nodejs:${version}`,
    go: `ghcr.io/hearth-dev/runtime-go:${version}`,
    provided: `ghcr.io/hearth-dev/runtime-provided:${version}`,
  };
}

function runtimeFamily(runtime: Runtime): keyof Omit<Images, 'agent'> | undefined {
  if (runtime.startsWith('python')) return 'python';
  if (runtime.startsWith('nodejs')) return 'nodejs';
  if (runtime === 'go') return 'go';
  return 'provided';
}

/** The runtime container's image: the user's own for code.image, else the runtime's; undefined when there is none to run. */
export function runtimeImage(spec: FunctionSpec, images: Images): string | undefined {
  if (spec.code.image !== undefined) return spec.code.image;
  const family = runtimeFamily(spec.runtime);
  return family === undefined ? undefined : images[family];
}
