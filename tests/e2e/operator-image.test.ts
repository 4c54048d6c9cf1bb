// The operator's container image as `npm run image` builds it: how it runs (user, entrypoint,
// read-only root, any UID as OpenShift assigns), what it holds (Node 24, no shell, everything
// world-readable), and that it goes into the stack's ECR registry and comes back out unchanged.
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageRuntime } from '../bench/image-runtime.ts';
import { DEFAULT_ECR_REGISTRY, ecrRegistry } from '../stack/ecr/registries.ts';
import { adminCreds } from '../stack/ecr/seed.ts';
import { imageConfig, runInImage, withImageRoot } from '../stack/image-run.ts';
import { ensureOperatorImage, type OperatorImage, pushOperatorImage } from '../stack/operator-image.ts';
import { run, runOk } from '../stack/run.ts';
import { stackEnv } from './support.ts';

let image: OperatorImage;
const logged: string[] = [];
const log = (line: string) => {
  logged.push(line);
  process.stderr.write(`[image] ${line}\n`);
};

beforeAll(async () => {
  image = await ensureOperatorImage(log);
}, 600_000);

/** Every path under `root` with its mode, without following links. */
function walk(root: string): Array<{ path: string; mode: number; kind: 'dir' | 'file' | 'link' }> {
  const out: Array<{ path: string; mode: number; kind: 'dir' | 'file' | 'link' }> = [];
  for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const stat = lstatSync(join(root, entry));
    out.push({ path: `/${entry}`, mode: stat.mode & 0o7777, kind: stat.isSymbolicLink() ? 'link' : stat.isDirectory() ? 'dir' : 'file' });
  }
  return out;
}

describe('the operator image', () => {
  it('runs the Containerfile entrypoint as the numeric nonroot user, with its environment', async () => {
    const config = await imageConfig(image.ref);
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(imageRuntime().entrypoint);
    expect(config.WorkingDir).toBe('/app');
    for (const [name, value] of Object.entries(imageRuntime().env)) expect(config.Env).toContain(`${name}=${value}`);
  });

  it('holds no shell and no package manager, and every file in it is readable by any user', async () => {
    const entries = await withImageRoot(image.ref, async (root) => walk(root));
    expect(entries.map((e) => e.path)).toContain('/nodejs/bin/node');
    expect(entries.map((e) => e.path)).toContain('/app/dist/operator/main.js');
    const names = entries.map((e) => e.path.split('/').at(-1));
    for (const tool of ['sh', 'bash', 'dash', 'busybox', 'apt', 'dpkg', 'npm', 'npx']) expect(names).not.toContain(tool);
    const unreadable = entries.filter((e) => e.kind !== 'link' && ((e.mode & 0o004) === 0 || (e.kind === 'dir' && (e.mode & 0o001) === 0)));
    expect(unreadable).toEqual([]);
  });

  it('has Node 24 and runs as 65532 by default, on a read-only root filesystem', async () => {
    const script = "let w; try { require('fs').writeFileSync('/app/x', '') ; w = 'written' } catch (e) { w = e.code } console.log(process.version, process.getuid(), process.getgid(), w)";
    const out = await runInImage(image.ref, { command: ['/nodejs/bin/node', '-e', script] });
    expect(out).toMatchObject({ code: 0, stderr: '' });
    expect(out.stdout.trim()).toMatch(/^v24\.\d+\.\d+ 65532 65532 EROFS$/);
  });

  it('starts the operator under an arbitrary UID with group 0 (as OpenShift runs it), read-only', async () => {
    const out = await runInImage(image.ref, { args: ['--help'], user: '1000680000:0' });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Usage: ecr-credential-sync \[flags\]/);
  });

  it('is reused, not rebuilt, while its inputs stay the same', async () => {
    logged.length = 0;
    const again = await ensureOperatorImage(log);
    expect(again).toEqual(image);
    expect(logged.some((line) => line.includes('is up to date'))).toBe(true);
    expect(logged.some((line) => line.startsWith('building'))).toBe(false);
  });

  it("goes into the stack's ECR registry and comes back out with the same digest", async () => {
    const registry = ecrRegistry(DEFAULT_ECR_REGISTRY.account, DEFAULT_ECR_REGISTRY.region);
    const endpoint = stackEnv('AWS_ENDPOINT_URL');
    const pushed = await pushOperatorImage(image, registry, endpoint, log);
    expect(pushed.pullRef).toBe(`${registry.host}/ecr-credential-sync:${image.tag}`);
    const { creds } = pushed;
    const digest = await runOk('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, '--format', '{{.Digest}}', `docker://${pushed.pullRef}`]);
    expect(digest.trim()).toBe(image.digest);
    // A full pull, layers and all, as the node would make it.
    const dir = mkdtempSync(join(tmpdir(), 'pulled-'));
    try {
      await runOk('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds, `docker://${pushed.digestRef}`, `oci:${dir}:pulled`]);
      expect(readdirSync(join(dir, 'blobs', 'sha256'))).toContain(image.digest.replace('sha256:', ''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Without credentials the registry refuses it, as ECR does.
    const anonymous = await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${pushed.pullRef}`]);
    expect(anonymous.code).not.toBe(0);
  }, 300_000);
});
