// The process node's image table must say what the Dockerfiles say: the same
// ENTRYPOINT, CMD, ENV, WORKDIR and USER, and each image path it maps to the
// checkout must be a file the Dockerfile copies from that very place.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultImages } from '../../../src/controller/resources/images.js';
import { checkoutMountPoint, imageRepository, imageTable, inContainer, lookupImage, repoRoot, resolveProgram } from './images.js';

interface Stage {
  name: string | undefined;
  from: string;
  instructions: { op: string; args: string }[];
}

/** Dockerfile stages, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const op = (m[1] ?? '').toUpperCase();
    const args = (m[2] ?? '').trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ name: f?.[2], from: f?.[1] ?? '', instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op, args });
    }
  }
  return stages;
}

/** A stage's instructions with those of the stages it builds FROM first. */
function lineage(stages: Stage[], stage: Stage): Stage['instructions'] {
  const parent = stages.find((s) => s.name !== undefined && s.name === stage.from);
  return [...(parent === undefined ? [] : lineage(stages, parent)), ...stage.instructions];
}

function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S+)/g)) out[m[1] ?? ''] = m[3] ?? m[2] ?? '';
  return out;
}

function execForm(args: string): string[] {
  return JSON.parse(args) as string[];
}

describe('process node image table', () => {
  for (const entry of imageTable.filter((e) => e.dockerfile !== undefined)) {
    it(`${entry.repository} matches ${entry.dockerfile?.path ?? ''}${entry.dockerfile?.target === undefined ? '' : ` (target ${entry.dockerfile.target})`}`, () => {
      const df = entry.dockerfile;
      if (df === undefined) throw new Error('unreachable');
      const stages = parseDockerfile(readFileSync(join(repoRoot, df.path), 'utf8'));
      const stage = df.target === undefined ? stages.at(-1) : stages.find((s) => s.name === df.target);
      expect(stage, `stage ${df.target ?? '(last)'}`).toBeDefined();
      const ins = lineage(stages, stage as Stage);
      const last = (op: string): string | undefined => ins.filter((i) => i.op === op).at(-1)?.args;
      const entrypoint = last('ENTRYPOINT');
      const cmd = last('CMD');
      expect(entry.entrypoint).toEqual(entrypoint === undefined ? [] : execForm(entrypoint));
      expect(entry.cmd).toEqual(cmd === undefined ? [] : execForm(cmd));
      expect(entry.workingDir).toBe(last('WORKDIR'));
      const user = last('USER');
      expect(entry.user === undefined ? undefined : `${entry.user.uid}:${entry.user.gid}`).toBe(user);
      const env = Object.assign({}, ...ins.filter((i) => i.op === 'ENV').map((i) => parseEnv(i.args))) as Record<string, string>;
      for (const [k, v] of Object.entries(env)) expect(entry.env[k], `ENV ${k}`).toBe(v);
      // Every COPY from the build context into the image: image path → checkout path.
      const copied = new Map<string, string>();
      for (const i of ins.filter((x) => x.op === 'COPY' && !x.args.includes('--from='))) {
        const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        const dest = words.at(-1) ?? '';
        for (const src of words.slice(0, -1)) copied.set(dest.endsWith('/') ? `${dest}${basename(src)}` : dest, src);
      }
      for (const [imagePath, local] of Object.entries(entry.paths)) {
        expect(existsSync(local), `${local} exists in the checkout`).toBe(true);
        const src = copied.get(imagePath);
        if (src !== undefined) expect(relative(repoRoot, local)).toBe(src);
        // Otherwise it is built in the image (dist/ from tsc): the stage must put it there.
        else expect(ins.some((x) => x.args.includes(imagePath)), `${imagePath} appears in the Dockerfile`).toBe(true);
      }
    });
  }

  it('knows every image the controller gives function pods, and the chart\'s Redis', () => {
    for (const image of Object.values(defaultImages())) expect(lookupImage(image), image).toBeDefined();
    for (const c of ['gateway', 'controller']) expect(lookupImage(`ghcr.io/hearth-dev/${c}:0.1.0`)).toBeDefined();
    expect(lookupImage('redis:7-alpine')?.cmd).toEqual(['redis-server']);
  });

  it('normalises image references as a registry would', () => {
    expect(imageRepository('redis:7-alpine')).toBe('docker.io/library/redis');
    expect(imageRepository('bitnami/redis:7')).toBe('docker.io/bitnami/redis');
    expect(imageRepository('ghcr.io/hearth-dev/agent:0.1.0@sha256:abc')).toBe('ghcr.io/hearth-dev/agent');
    expect(imageRepository('localhost:5000/x:1')).toBe('localhost:5000/x');
    expect(lookupImage('ghcr.io/somebody/else:1')).toBeUndefined();
  });

  it('gives containers checkout paths under their node\'s mount point, and leaves other words alone', () => {
    const at = checkoutMountPoint('/var/lib/hearth-process-node/hearth-hearth-node-42');
    expect(at).toBe('/run/hearth-checkout-hearth-hearth-node-42');
    const gateway = lookupImage('ghcr.io/hearth-dev/gateway:0.1.0');
    if (gateway === undefined) throw new Error('no gateway image');
    const argv = resolveProgram(gateway, [...gateway.entrypoint, ...gateway.cmd]).map((w) => inContainer(w, at));
    expect(argv).toEqual(['node', `${at}/dist/cli/main.js`, 'gateway']);
    expect(inContainer(repoRoot, at)).toBe(at);
    expect(inContainer(`${repoRoot}-other/x`, at)).toBe(`${repoRoot}-other/x`);
  });
});
