// Which extra registry hosts a sync may name: ECR's own, plus the patterns of the operator's
// --allowed-hostnames. Every pull from a host listed in the secret sends it the ECR token, so a
// typo (docker.io) or a foreign registry must not get one.
import { globMatch } from './glob.ts';

/** ECR's registry hosts: IPv4 (and FIPS) in the commercial and GovCloud partitions, China, and dual-stack (and its FIPS form). */
export const ECR_HOSTNAME_PATTERNS: readonly string[] = ['*.amazonaws.com', '*.amazonaws.com.cn', '*.dkr-ecr.*.on.aws', '*.dkr-ecr-fips.*.on.aws'];

/** A lower-case host glob (`*`, `?`), with an optional port that may be a glob too. */
const HOST_PATTERN = /^[a-z0-9.*?-]+(:[0-9*?]+)?$/;

export function isHostPattern(pattern: string): boolean {
  return HOST_PATTERN.test(pattern);
}

/**
 * Whether `host` (host or host:port) matches the glob. A pattern with a port matches host:port as a
 * whole; one without matches the host whatever its port, so `127.0.0.1` allows every registry on
 * that address and `mirror.corp:5000` only that one port.
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.includes(':')) return globMatch(pattern, host);
  const colon = host.indexOf(':');
  return globMatch(pattern, colon < 0 ? host : host.slice(0, colon));
}

/** Whether a sync may name `host` as an extra hostname: one of ECR's, or one `allowed` lets through. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return ECR_HOSTNAME_PATTERNS.some((p) => hostMatches(p, host)) || allowed.some((p) => hostMatches(p, host));
}
