// Which web-identity token files a sync may name. A spec's tokenFile is read by the operator and
// sent to STS, so it may only point into directories where such tokens live: a path anywhere
// else (/dev/zero, another pod's secret mount) would exhaust memory or leak a file's content.
import { posix } from 'node:path';

/** Where EKS (IRSA) and OpenShift (ROSA STS) project web-identity tokens into a pod. */
export const DEFAULT_TOKEN_DIRS = ['/var/run/secrets/eks.amazonaws.com/serviceaccount', '/var/run/secrets/openshift/serviceaccount'];

/** A web-identity token is a JWT of a few KiB; anything larger is not one. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** Whether `path` (already resolved: absolute, no `..`, no symlinks) lies inside one of `dirs`. */
export function underAllowedDir(path: string, dirs: readonly string[]): boolean {
  const normal = posix.normalize(path);
  return posix.isAbsolute(normal) && dirs.some((dir) => {
    const d = posix.normalize(dir).replace(/\/+$/, '');
    return d !== '' && normal.startsWith(`${d}/`);
  });
}
