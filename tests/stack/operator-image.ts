// The operator's container image, built from the project's Containerfile with buildah on base
// images made locally (image-bases.ts), with no network in its RUN steps. Tagged by a hash of
// what it is built from, so an unchanged tree reuses the image; exported as an OCI layout under
// .cache/images for skopeo, and pushed to the stack's ECR registries like any CI would.
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { buildah, buildahLogged, hasImage, type Log, removeLeftovers, seconds } from './buildah.ts';
import { contentHash, globalArgs, type HashInput } from './containerfile.ts';
import { cacheLacks, ensureNpmCache, forgetNpmCache } from './npm-cache.ts';
import { adminCreds } from './ecr/seed.ts';
import type { EcrRegistry } from './ecr/registries.ts';
import { ensureBaseImages } from './image-bases.ts';
import { ensurePackages, IMAGE_TOOLS, requirePackages } from './prerequisites.ts';
import { run, runOk } from './run.ts';
import { PROJECT_ROOT } from './stack.ts';

export const IMAGE_NAME = 'localhost/ecr-credential-sync';
export const IMAGES_DIR = join(PROJECT_ROOT, '.cache', 'images');
export const LATEST_JSON = join(IMAGES_DIR, 'latest.json');
/** The repository the image goes to in the stack's registries. */
export const STACK_REPOSITORY = 'ecr-credential-sync';
/** Bump when the build itself changes in a way the inputs' hash would not show. */
const BUILD_RECIPE = 'build-2';

/** The Containerfile's build arguments the local build sets to its own base images. */
export const BASE_IMAGE_ARGS = { build: 'BUILD_IMAGE', runtime: 'RUNTIME_IMAGE' } as const;

export interface OperatorImage {
  /** localhost/ecr-credential-sync:<version>-<hash> in the project's buildah storage. */
  ref: string;
  tag: string;
  /** An OCI image layout holding the image under `tag` (skopeo: `oci:<ociDir>:<tag>`). */
  ociDir: string;
  /** The manifest digest, which a registry serves it under after a push. */
  digest: string;
  /** Layers and config as pushed (gzip), and as unpacked on a node. */
  sizeBytes: number;
  uncompressedBytes: number;
}

/** The files the image is built from, as the Containerfile's COPY lines take them. */
export function imageInputs(root: string = PROJECT_ROOT): HashInput[] {
  const top = readdirSync(root).filter((f) => /^(Containerfile|\.containerignore|package\.json|package-lock\.json|LICENSE|tsconfig.*\.json)$/.test(f));
  const operator = readdirSync(join(root, 'operator'), { recursive: true, encoding: 'utf8' }).map((f) => join('operator', f));
  return [...top, ...operator]
    .filter((path) => statSync(join(root, path)).isFile())
    .map((path) => ({ path: path.split(sep).join('/'), content: readFileSync(join(root, path)) }));
}

/** Checks the Containerfile still takes the base images as the build arguments the local build sets. */
export function checkBaseArgs(containerfile: string): void {
  const args = globalArgs(containerfile);
  for (const name of Object.values(BASE_IMAGE_ARGS)) {
    if (!args.has(name)) throw new Error(`the Containerfile declares no ARG ${name} before its first FROM`);
  }
}

function readLayout(ociDir: string): { digest: string; sizeBytes: number } {
  const index = JSON.parse(readFileSync(join(ociDir, 'index.json'), 'utf8'));
  const digest = index.manifests[0].digest as string;
  const blob = (d: string) => join(ociDir, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(readFileSync(blob(digest), 'utf8'));
  const sizeBytes = [manifest.config, ...manifest.layers].reduce((sum: number, d: { size: number }) => sum + d.size, 0);
  return { digest, sizeBytes };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export interface ImageOptions {
  /**
   * May install buildah, skopeo and runc, and fetch what the npm cache lacks: `npm run image`.
   * In tests (the default) everything must be there already (the stack's setup installs the
   * tools, `npm ci` fills the cache); nothing is fetched in the middle of a test run.
   */
  mayFetch?: boolean;
}

/** Builds the image unless the storage and .cache/images have it for these inputs already. */
export async function ensureOperatorImage(log: Log, options: ImageOptions = {}): Promise<OperatorImage> {
  const started = Date.now();
  const mayFetch = options.mayFetch ?? false;
  if (mayFetch) await ensurePackages(IMAGE_TOOLS, log);
  else await requirePackages(IMAGE_TOOLS, 'the stack installs them with its node tools (npm test), or run `npm run image`');
  const containerfile = readFileSync(join(PROJECT_ROOT, 'Containerfile'), 'utf8');
  checkBaseArgs(containerfile);
  const version = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version as string;
  await removeLeftovers(log);
  const bases = await ensureBaseImages(log);
  const tag = `${version}-${contentHash(imageInputs(), [BUILD_RECIPE, bases.build, bases.runtime])}`;
  const ref = `${IMAGE_NAME}:${tag}`;
  const ociDir = join(IMAGES_DIR, `ecr-credential-sync-${tag}`);

  const built = !(await hasImage(ref));
  if (built) {
    try {
      await build(ref, bases, mayFetch, log);
    } catch (error) {
      const message = (error as Error).message;
      if (!/ENOTCACHED/.test(message)) throw error;
      // The check passed for this lock earlier, but someone has cleaned the cache since.
      forgetNpmCache();
      if (!mayFetch) throw cacheLacks(message);
      log('npm found a package missing from its cache (was it cleaned?): filling it again');
      await build(ref, bases, mayFetch, log);
    }
  }
  if (built || !existsSync(join(ociDir, 'index.json'))) {
    rmSync(ociDir, { recursive: true, force: true });
    mkdirSync(IMAGES_DIR, { recursive: true });
    await buildah(['push', '--quiet', ref, `oci:${ociDir}:${tag}`]);
  }
  await forgetOtherBuilds(tag, log);
  const known = existsSync(LATEST_JSON) ? (JSON.parse(readFileSync(LATEST_JSON, 'utf8')) as OperatorImage) : undefined;
  const { digest, sizeBytes } = readLayout(ociDir);
  if (known?.ref === ref && known.digest === digest && known.ociDir === ociDir) {
    log(`${ref} is up to date: ${mib(sizeBytes)} compressed, ${mib(known.uncompressedBytes)} unpacked (${seconds(started)})`);
    return known;
  }
  const uncompressedBytes = await unpackedSize(ociDir, digest);
  const image: OperatorImage = { ref, tag, ociDir, digest, sizeBytes, uncompressedBytes };
  writeFileSync(LATEST_JSON, `${JSON.stringify(image, null, 2)}\n`);
  log(`${ref} ${digest}: ${mib(sizeBytes)} compressed, ${mib(uncompressedBytes)} unpacked; OCI layout ${relative(PROJECT_ROOT, ociDir)} (${seconds(started)})`);
  return image;
}

async function build(ref: string, bases: { build: string; runtime: string }, mayFetch: boolean, log: Log): Promise<void> {
  const npmCache = await ensureNpmCache(log, { mayFetch });
  log(`building ${ref} from the Containerfile`);
  await buildahLogged(
    [
      'bud', '--network', 'none', '--http-proxy=false', '--pull=never', '--layers', '--force-rm', '--timestamp', '0', '--format', 'oci',
      '--build-arg', `${BASE_IMAGE_ARGS.build}=${bases.build}`,
      '--build-arg', `${BASE_IMAGE_ARGS.runtime}=${bases.runtime}`,
      // An overlay: npm reads the cache and writes nothing back.
      '--volume', `${npmCache}:/root/.npm:O`,
      '--file', join(PROJECT_ROOT, 'Containerfile'), '--tag', ref, PROJECT_ROOT,
    ],
    log,
    (line) => /^\[\d+\/\d+\] (STEP|COMMIT)|^added \d+ packages/.test(line),
  );
}

/** The layers' sizes as tar streams, which is what a node unpacks. */
async function unpackedSize(ociDir: string, digest: string): Promise<number> {
  const blob = (d: string) => join(ociDir, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(readFileSync(blob(digest), 'utf8')) as { layers: Array<{ digest: string; mediaType: string }> };
  let total = 0;
  for (const layer of manifest.layers) {
    if (!layer.mediaType.endsWith('+gzip')) throw new Error(`layer ${layer.digest} is ${layer.mediaType}, not gzip`);
    await pipeline(createReadStream(blob(layer.digest)), createGunzip(), async (tar: AsyncIterable<Buffer>) => {
      for await (const chunk of tar) total += chunk.length;
    });
  }
  return total;
}

/** Older builds and their OCI layouts go; the layers they share with the build cache stay. */
async function forgetOtherBuilds(tag: string, log: Log): Promise<void> {
  for (const entry of existsSync(IMAGES_DIR) ? readdirSync(IMAGES_DIR) : []) {
    if (entry.startsWith('ecr-credential-sync-') && entry !== `ecr-credential-sync-${tag}`) rmSync(join(IMAGES_DIR, entry), { recursive: true, force: true });
  }
  const names = (await buildah(['images', '--format', '{{.Name}}:{{.Tag}}', '--filter', `reference=${IMAGE_NAME}`])).split('\n').filter(Boolean);
  for (const name of names) {
    if (name !== `${IMAGE_NAME}:${tag}`) {
      await buildah(['rmi', name]);
      log(`removed the older build ${name}`);
    }
  }
}

export interface PushedImage {
  /** <registry host>/ecr-credential-sync:<tag>: what a pod's image field names (the node maps the host). */
  pullRef: string;
  /** The same image by digest. */
  digestRef: string;
  /** `AWS:<token>` of the RegistryAdmin it was pushed as, good for pulling it back. */
  creds: string;
}

/**
 * Pushes the image into one of the stack's registries as the registry account's RegistryAdmin
 * (like seed.ts does the test image), unless the registry has this digest already.
 * `endpoint` is the stack's AWS_ENDPOINT_URL.
 */
export async function pushOperatorImage(image: OperatorImage, registry: EcrRegistry, endpoint: string, log: Log): Promise<PushedImage> {
  const pullRef = `${registry.host}/${STACK_REPOSITORY}:${image.tag}`;
  const creds = await adminCreds(endpoint, registry);
  const pushed = { pullRef, digestRef: `${registry.host}/${STACK_REPOSITORY}@${image.digest}`, creds };
  const present = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, '--format', '{{.Digest}}', `docker://${pullRef}`]);
  if (present.code === 0 && present.stdout.trim() === image.digest) return pushed;
  const started = Date.now();
  await runOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${image.ociDir}:${image.tag}`, `docker://${pullRef}`]);
  log(`pushed ${pullRef} (${seconds(started)})`);
  return pushed;
}
