// Reads a web-identity token file that a sync's spec names, and refuses what is not one: a path
// outside the allowed directories (resolved, so no symlink or `..` leads out), anything but a
// regular file, or more than MAX_TOKEN_BYTES (read bounded, so /dev/zero cannot exhaust memory).
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { MAX_TOKEN_BYTES, underAllowedDir } from '../core/token-file.ts';
import { TokenFetchError } from './token-source.ts';

const refuse = (message: string) => new TokenFetchError('AssumeRoleWithWebIdentity', 'TokenFileRefused', message, false);

export async function readTokenFile(path: string, allowedDirs: readonly string[]): Promise<string> {
  const allowed = `allowed directories: ${allowedDirs.join(', ') || '(none)'}`;
  if (!underAllowedDir(path, allowedDirs)) throw refuse(`tokenFile ${path} is not in an allowed directory (${allowed}; see --web-identity-token-dirs)`);
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    throw new TokenFetchError('AssumeRoleWithWebIdentity', 'NoTokenFile', `tokenFile ${path}: ${(error as Error).message}`, true, { cause: error });
  }
  // The directories resolved too: in many images /var/run is a symlink to /run.
  const resolvedDirs = await Promise.all(allowedDirs.map((dir) => realpath(dir).catch(() => dir)));
  if (!underAllowedDir(real, resolvedDirs)) throw refuse(`tokenFile ${path} resolves to ${real}, outside the allowed directories (${allowed})`);
  // Non-blocking, so that a FIFO cannot hold a thread-pool thread; no symlink followed after the check.
  const file = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    if (!(await file.stat()).isFile()) throw refuse(`tokenFile ${path} is not a regular file`);
    const buffer = Buffer.alloc(MAX_TOKEN_BYTES + 1);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_TOKEN_BYTES) throw refuse(`tokenFile ${path} is larger than ${MAX_TOKEN_BYTES} bytes: not a web-identity token`);
    return buffer.subarray(0, bytesRead).toString('utf8').trim();
  } finally {
    await file.close();
  }
}
