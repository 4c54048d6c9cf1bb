// buildah against the project's own storage (.cache/containers, git-ignored), never the
// machine's: building the image neither needs nor disturbs /var/lib/containers.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk } from './run.ts';
import { PROJECT_ROOT } from './stack.ts';

export type Log = (line: string) => void;

export const CONTAINERS_DIR = join(PROJECT_ROOT, '.cache', 'containers');
const STORAGE = join(CONTAINERS_DIR, 'storage');
const RUNROOT = join(CONTAINERS_DIR, 'run');
const DRIVER = process.env.STORAGE_DRIVER ?? 'overlay';

/** The global options that point buildah at the project's storage. */
export function storageArgs(): string[] {
  mkdirSync(STORAGE, { recursive: true });
  mkdirSync(RUNROOT, { recursive: true });
  return ['--root', STORAGE, '--runroot', RUNROOT, '--storage-driver', DRIVER];
}

/** The same storage as a skopeo/containers-image reference. */
export const storageRef = (image: string) => `containers-storage:[${DRIVER}@${STORAGE}+${RUNROOT}]${image}`;

/**
 * buildah itself runs with the caller's environment (it pulls nothing: --pull=never); a build's
 * RUN steps get none of its proxy variables (`bud --http-proxy=false`) and no network.
 */
const env = (): NodeJS.ProcessEnv => ({ ...process.env, BUILDAH_LAYERS: 'true' });

export const buildah = (args: string[]) => runOk('buildah', [...storageArgs(), ...args], { env: env() });
export const buildahTry = (args: string[]) => run('buildah', [...storageArgs(), ...args], { env: env() });

/** Whether the storage holds `image` (a name or ID). */
export async function hasImage(image: string): Promise<boolean> {
  return (await buildahTry(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', image])).code === 0;
}

export async function imageId(image: string): Promise<string> {
  return (await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', image])).trim();
}

/**
 * Removes the working containers a killed build or base image left in the project's storage
 * (they would pile up under .cache/containers). Images and the layer cache stay.
 */
export async function removeLeftovers(log: Log): Promise<void> {
  const left = (await buildah(['containers', '--quiet'])).split('\n').filter(Boolean);
  if (left.length === 0) return;
  log(`removing ${left.length} working container(s) an interrupted build left`);
  await buildah(['umount', '--all']);
  await buildah(['rm', '--all']);
}

export const seconds = (started: number) => `${((Date.now() - started) / 1000).toFixed(1)}s`;

/**
 * Runs a long buildah command, passing its step lines to `log` with the seconds since it began,
 * and keeping the rest of its output for the error should it fail.
 */
export function buildahLogged(args: string[], log: Log, show: (line: string) => boolean): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('buildah', [...storageArgs(), ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    const take = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (show(line)) log(`${line.trim()} (${seconds(started)})`);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`buildah ${args.slice(0, 2).join(' ')} exited ${code}:\n${[...tail, partial].join('\n')}`));
    });
  });
}
