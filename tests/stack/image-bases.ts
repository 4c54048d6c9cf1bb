// Local stand-ins for the Containerfile's public base images, made from this machine's own files
// with `buildah from scratch`, so that building the image needs no registry:
// - build: like node:24-bookworm-slim for what the build stages do (Node 24 from the `node`
//   devDependency, the machine's npm CLI, /bin/sh and /usr/bin/env with their libraries; npm set
//   offline, for the build mounts the machine's npm cache);
// - runtime: like distroless nodejs24 nonroot: /nodejs/bin/node with exactly the shared
//   libraries it links, /etc/passwd and /etc/group with nonroot 65532, CA certificates, /tmp;
//   no shell, no package manager.
// Each is tagged with a hash of what went into it, and made again only when that changes.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runOk } from './run.ts';
import { buildah, hasImage, type Log, seconds } from './buildah.ts';
import { PROJECT_ROOT } from './stack.ts';

/** Bump when what the bases hold changes in a way their inputs' hash would not show. */
const RECIPE = 'bases-1';
const NODE_BINARY = join(PROJECT_ROOT, 'node_modules', 'node', 'bin', 'node');
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export interface BaseImages {
  build: string;
  runtime: string;
}

/** The shared libraries `binary` loads, as ldd names them (absolute paths). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await runOk('ldd', [binary]);
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]!);
  }
  if (libs.size === 0) throw new Error(`ldd found no libraries for ${binary}:\n${out}`);
  return [...libs].sort();
}

/** The machine's npm CLI package (lib/node_modules/npm), found from the `npm` on PATH. */
export async function npmPackageDir(): Promise<string> {
  const script = realpathSync((await runOk('sh', ['-c', 'command -v npm'])).trim());
  const dir = dirname(dirname(script));
  if (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== 'npm') {
    throw new Error(`the npm on PATH (${script}) is not inside an npm package directory`);
  }
  return dir;
}

const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Placed {
  from: string;
  to: string;
  mode?: number;
}

/** Copies host files (symlinks followed) into a mounted root, creating parent directories 0755. */
function place(root: string, files: readonly Placed[]): void {
  for (const { from, to, mode } of files) {
    const dest = join(root, to);
    mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
    const source = realpathSync(from);
    if (lstatSync(source).isDirectory()) cpSync(source, dest, { recursive: true });
    else copyFileSync(source, dest);
    if (mode !== undefined) chmodSync(dest, mode);
  }
}

function writeEtc(root: string, users: Array<[string, number, string]>): void {
  mkdirSync(join(root, 'etc'), { recursive: true, mode: 0o755 });
  const passwd = users.map(([name, id, home]) => `${name}:x:${id}:${id}:${name}:${home}:/sbin/nologin\n`).join('');
  const group = users.map(([name, id]) => `${name}:x:${id}:\n`).join('');
  writeFileSync(join(root, 'etc', 'passwd'), passwd, { mode: 0o644 });
  writeFileSync(join(root, 'etc', 'group'), group, { mode: 0o644 });
  writeFileSync(join(root, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n', { mode: 0o644 });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
}

/** from scratch → fill the mounted root → config → commit as `name`. */
async function makeImage(name: string, fill: (root: string) => Promise<void> | void, config: string[]): Promise<void> {
  const container = (await buildah(['from', 'scratch'])).trim();
  try {
    const root = (await buildah(['mount', container])).trim();
    chmodSync(root, 0o755);
    await fill(root);
    await buildah(['umount', container]);
    await buildah(['config', ...config, container]);
    await buildah(['commit', '--quiet', '--timestamp', '0', container, name]);
  } finally {
    await buildah(['rm', container]).catch(() => {});
  }
}

async function buildBase(libraries: string[], npmDir: string): Promise<(root: string) => void> {
  return (root) => {
    place(root, [
      { from: NODE_BINARY, to: 'usr/local/bin/node', mode: 0o755 },
      { from: npmDir, to: 'usr/local/lib/node_modules/npm' },
      { from: '/bin/dash', to: 'bin/dash', mode: 0o755 },
      { from: '/usr/bin/env', to: 'usr/bin/env', mode: 0o755 },
      ...libraries.map((lib) => ({ from: lib, to: lib.slice(1), mode: 0o755 })),
    ]);
    symlinkSync('dash', join(root, 'bin', 'sh'));
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    writeEtc(root, [['root', 0, '/root'], ['nobody', 65534, '/nonexistent']]);
    mkdirSync(join(root, 'root'), { mode: 0o700 });
  };
}

function runtimeBase(libraries: string[]): (root: string) => void {
  return (root) => {
    place(root, [
      { from: NODE_BINARY, to: 'nodejs/bin/node', mode: 0o755 },
      { from: CA_BUNDLE, to: 'etc/ssl/certs/ca-certificates.crt', mode: 0o644 },
      ...libraries.map((lib) => ({ from: lib, to: lib.slice(1), mode: 0o755 })),
    ]);
    writeEtc(root, [['root', 0, '/root'], ['nobody', 65534, '/nonexistent'], ['nonroot', 65532, '/home/nonroot']]);
    mkdirSync(join(root, 'home', 'nonroot'), { recursive: true, mode: 0o755 });
  };
}

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Makes the two base images unless the storage has them already; returns their names. */
export async function ensureBaseImages(log: Log): Promise<BaseImages> {
  if (!existsSync(NODE_BINARY)) throw new Error(`${NODE_BINARY} is missing: run npm ci first`);
  const nodeLibs = await sharedLibraries(NODE_BINARY);
  const shellLibs = [...(await sharedLibraries('/bin/dash')), ...(await sharedLibraries('/usr/bin/env'))];
  const buildLibs = [...new Set([...nodeLibs, ...shellLibs])].sort();
  const npmDir = await npmPackageDir();
  const npmVersion = JSON.parse(readFileSync(join(npmDir, 'package.json'), 'utf8')).version as string;
  const node = fileHash(NODE_BINARY);
  const libHashes = (libs: string[]) => libs.map((lib) => `${lib}=${fileHash(lib)}`);
  const key = (parts: string[]) => createHash('sha256').update([RECIPE, ...parts].join('\n')).digest('hex').slice(0, 16);
  const build = `localhost/ecr-credential-sync-base/build:${key([`node=${node}`, `npm=${npmVersion}`, ...libHashes(buildLibs), fileHash('/bin/dash'), fileHash('/usr/bin/env')])}`;
  const runtime = `localhost/ecr-credential-sync-base/runtime:${key([`node=${node}`, ...libHashes(nodeLibs), fileHash(CA_BUNDLE)])}`;

  if (!(await hasImage(build))) {
    const started = Date.now();
    log(`making the build base image ${build} (Node ${await nodeVersion()}, npm ${npmVersion})`);
    await makeImage(build, await buildBase(buildLibs, npmDir), [
      '--env', PATH_ENV,
      // The build mounts the machine's npm cache here; npm must take everything from it.
      '--env', 'npm_config_cache=/root/.npm', '--env', 'npm_config_offline=true', '--env', 'npm_config_update_notifier=false',
      '--workingdir', '/', '--cmd', 'node',
    ]);
    log(`made ${build} (${seconds(started)})`);
  }
  if (!(await hasImage(runtime))) {
    const started = Date.now();
    log(`making the runtime base image ${runtime}`);
    await makeImage(runtime, runtimeBase(nodeLibs), [
      '--env', PATH_ENV, '--env', `SSL_CERT_FILE=${CA_BUNDLE}`,
      '--user', '65532:65532', '--workingdir', '/home/nonroot', '--entrypoint', '["/nodejs/bin/node"]',
    ]);
    log(`made ${runtime} (${seconds(started)})`);
  }
  return { build, runtime };
}

async function nodeVersion(): Promise<string> {
  return (await runOk(NODE_BINARY, ['--version'])).trim();
}
