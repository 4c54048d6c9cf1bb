// Runs an image from the project's buildah storage the way a kubelet would run its container:
// runc, the image's entrypoint, user and environment, a read-only root filesystem, all
// capabilities dropped, and a network namespace of its own (loopback only, so nothing leaves).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildah, CONTAINERS_DIR } from './buildah.ts';
import { run, type RunResult } from './run.ts';

export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
}

export async function imageConfig(ref: string): Promise<ImageConfig> {
  const inspected = JSON.parse(await buildah(['inspect', '--type', 'image', ref])) as { OCIv1: { config?: ImageConfig } };
  return inspected.OCIv1.config ?? {};
}

/** Mounts the image's root filesystem for `use`, then lets it go. */
export async function withImageRoot<T>(ref: string, use: (root: string) => Promise<T>): Promise<T> {
  const container = (await buildah(['from', '--pull=never', ref])).trim();
  try {
    const root = (await buildah(['mount', container])).trim();
    return await use(root);
  } finally {
    await buildah(['umount', container]).catch(() => {});
    await buildah(['rm', container]).catch(() => {});
  }
}

export interface RunInImageOptions {
  /** Appended to the entrypoint, as a pod's `args`. */
  args?: string[];
  /** Replaces the entrypoint, as a pod's `command`. */
  command?: string[];
  /** uid:gid, numeric; the image's USER otherwise. */
  user?: string;
  readOnlyRoot?: boolean;
}

function numericUser(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '0');
  if (!m) throw new Error(`the image's user ${JSON.stringify(user)} is not numeric uid[:gid]`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

/** The OCI runtime spec for one run: the kubelet's defaults that matter here, nothing more. */
export function runtimeSpec(root: string, config: ImageConfig, options: RunInImageOptions): object {
  const args = [...(options.command ?? config.Entrypoint ?? []), ...(options.args ?? (options.command ? [] : (config.Cmd ?? [])))];
  if (args.length === 0) throw new Error('nothing to run: the image has no entrypoint and no command was given');
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { ...numericUser(options.user ?? config.User), additionalGids: [] },
      args,
      env: config.Env ?? [],
      cwd: config.WorkingDir || '/',
      capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: root, readonly: options.readOnlyRoot ?? true },
    hostname: 'image-run',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

let runs = 0;

/** Runs the image once with runc and returns its exit code and output. */
export async function runInImage(ref: string, options: RunInImageOptions = {}): Promise<RunResult> {
  const config = await imageConfig(ref);
  return withImageRoot(ref, async (root) => {
    const bundle = mkdtempSync(join(tmpdir(), 'image-run-'));
    const state = join(CONTAINERS_DIR, 'runc');
    mkdirSync(state, { recursive: true });
    const id = `image-run-${process.pid}-${++runs}`;
    try {
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(runtimeSpec(root, config, options)));
      return await run('runc', ['--root', state, 'run', '--bundle', bundle, id]);
    } finally {
      await run('runc', ['--root', state, 'delete', '--force', id]);
      rmSync(bundle, { recursive: true, force: true });
    }
  });
}
