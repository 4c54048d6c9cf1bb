// Small OCI images made by hand: the test image the registries serve and the node's pod
// sandbox (pause) image. Both run one static binary built from node/pause.c.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { run, runOk } from './run.ts';

const here = dirname(fileURLToPath(import.meta.url));
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface ImageFile {
  name: string;
  content: Buffer;
  mode: number;
}

export interface ImageSpec {
  files: ImageFile[];
  entrypoint: string[];
  cmd?: string[];
  /** The tag, as the index's ref name. */
  tag: string;
  /** A full name (registry/repo:tag) for `ctr images import`. */
  name?: string;
}

/** A ustar archive of regular files at the root; enough for a layer. */
export function tarFiles(files: readonly ImageFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const { name, content, mode } of files) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write(mode.toString(8).padStart(7, '0') + '\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    content.copy(body);
    parts.push(header, body);
  }
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

/** Writes an OCI image layout for `spec` into `dir` (replacing what was there); returns `dir`. */
export function writeOciLayout(dir: string, spec: ImageSpec): string {
  rmSync(dir, { recursive: true, force: true });
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const tar = tarFiles(spec.files);
  const layer = put(gzipSync(tar));
  const config = put(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: spec.entrypoint, ...(spec.cmd ? { Cmd: spec.cmd } : {}) },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    }),
  );
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const annotations: Record<string, string> = { 'org.opencontainers.image.ref.name': spec.tag };
  if (spec.name) annotations['io.containerd.image.name'] = spec.name;
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations }] }),
  );
  return dir;
}

/** Compiles node/pause.c statically into the stack folder, once. */
export async function pauseBinary(stackDir: string): Promise<Buffer> {
  const out = join(stackDir, 'image', 'pause');
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    await runOk('cc', ['-static', '-Os', '-s', '-o', out, join(here, 'node', 'pause.c')]);
  }
  return readFileSync(out);
}

export async function testImageSpec(stackDir: string): Promise<ImageSpec> {
  return {
    files: [
      { name: 'hello', content: await pauseBinary(stackDir), mode: 0o755 },
      { name: 'hello.txt', content: Buffer.from('hello from the ecr-credential-sync test stack\n'), mode: 0o644 },
    ],
    entrypoint: ['/hello'],
    cmd: ['hello from the ecr-credential-sync test stack'],
    tag: '1.0',
  };
}

export function testImageLayout(stackDir: string): string {
  return join(stackDir, 'image', 'test');
}

/** Pushes the test image unless the registry already serves it. `creds` is `user:password`. */
export async function ensureTestImage(stackDir: string, image: string, creds: string): Promise<void> {
  const present = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${image}`]);
  if (present.code === 0) return;
  const layout = testImageLayout(stackDir);
  if (!existsSync(join(layout, 'index.json'))) writeOciLayout(layout, await testImageSpec(stackDir));
  await runOk('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:1.0`, `docker://${image}`]);
}

export function readImageDigest(stackDir: string): string {
  const index = JSON.parse(readFileSync(join(testImageLayout(stackDir), 'index.json'), 'utf8'));
  return index.manifests[0].digest as string;
}
