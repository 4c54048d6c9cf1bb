// Against the real file system: a temporary directory stands in for the projected token volume.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTokenFile } from './token-file.ts';

const root = mkdtempSync(join(tmpdir(), 'token-file-'));
const allowed = join(root, 'serviceaccount');
mkdirSync(join(allowed, '..2026_11_24'), { recursive: true });
writeFileSync(join(allowed, '..2026_11_24', 'token'), 'eyJhbGciOi.jwt.sig\n');
symlinkSync(join(allowed, '..2026_11_24', 'token'), join(allowed, 'token'));
writeFileSync(join(root, 'elsewhere'), 'secret content');
symlinkSync(join(root, 'elsewhere'), join(allowed, 'escape'));
writeFileSync(join(allowed, 'huge'), 'x'.repeat(20_000));
mkdirSync(join(allowed, 'dir'));
// As in Debian-based images (distroless too), where /var/run is a symlink to /run.
mkdirSync(join(root, 'run', 'secrets'), { recursive: true });
writeFileSync(join(root, 'run', 'secrets', 'token'), 'eyJ.linked.sig');
symlinkSync(join(root, 'run'), join(root, 'var-run'));
execFileSync('mkfifo', [join(allowed, 'fifo')]);

describe('readTokenFile', () => {
  it('reads a token through the projected volume\'s symlink', async () => {
    await expect(readTokenFile(join(allowed, 'token'), [allowed])).resolves.toBe('eyJhbGciOi.jwt.sig');
  });

  it('reads a token when the allowed directory itself lies behind a symlink (/var/run -> /run)', async () => {
    await expect(readTokenFile(join(root, 'var-run', 'secrets', 'token'), [join(root, 'var-run', 'secrets')])).resolves.toBe('eyJ.linked.sig');
  });

  it('refuses a FIFO without waiting for a writer', async () => {
    await expect(readTokenFile(join(allowed, 'fifo'), [allowed])).rejects.toMatchObject({ code: 'TokenFileRefused', message: expect.stringMatching(/not a regular file/) });
  });

  it.each<[string, string, RegExp]>([
    ['/dev/zero, outside every allowed directory', '/dev/zero', /not in an allowed directory/],
    ['a symlink that leads out of the directory', join(allowed, 'escape'), /resolves to .*elsewhere, outside the allowed directories/],
    ['a file larger than any token', join(allowed, 'huge'), /larger than 16384 bytes/],
    ['a directory', join(allowed, 'dir'), /not a regular file/],
  ])('refuses %s, for good (not retryable)', async (_name, path, message) => {
    const error = await readTokenFile(path, [allowed]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TokenFileRefused', retryable: false, message: expect.stringMatching(message) });
  });

  it('refuses /dev/zero even when /dev is allowed, after reading no more than the cap', async () => {
    await expect(readTokenFile('/dev/zero', ['/dev'])).rejects.toMatchObject({ code: 'TokenFileRefused', message: expect.stringMatching(/not a regular file/) });
  });

  it('says a missing file is missing, which may change (retryable)', async () => {
    await expect(readTokenFile(join(allowed, 'absent'), [allowed])).rejects.toMatchObject({ code: 'NoTokenFile', retryable: true });
  });
});
