// A tiny OCI image made by hand and pushed to the stack's registry with skopeo.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run, runOk } from './run.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A one-file ustar archive; enough for a layer. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
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
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

function writeOciLayout(dir: string): string {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const tar = tarOneFile('hello.txt', Buffer.from('hello from the ecr-credential-sync test stack\n'));
  const layer = put(gzipSync(tar));
  const config = put(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
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
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': '1.0' },
        },
      ],
    }),
  );
  return dir;
}

/** Pushes the test image unless the registry already serves it. */
export async function ensureTestImage(stackDir: string, image: string, password: string): Promise<void> {
  const creds = `AWS:${password}`;
  const present = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${image}`]);
  if (present.code === 0) return;
  const layout = writeOciLayout(join(stackDir, 'image'));
  await runOk('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:1.0`, `docker://${image}`]);
}

export function readImageDigest(stackDir: string): string {
  const index = JSON.parse(readFileSync(join(stackDir, 'image', 'index.json'), 'utf8'));
  return index.manifests[0].digest as string;
}
