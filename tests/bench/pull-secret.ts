// Registry passwords and pull secrets: what the workload role gets from ECR, what makes a P1
// secret valid, and whether its token is one the emulator minted for that role.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { V1Secret } from '@kubernetes/client-node';
import { EcrControl } from '../stack/ecr/control.ts';
import { passwordExpiry } from '../stack/ecr/tokens.ts';
import { WORKLOAD_ACCOUNT } from '../stack/stack.ts';
import { P1_HOST, REGION } from './config.ts';

/** Every distinct password seen in a P1 secret; checked against the emulator once P1 is done. */
export const P1_PASSWORDS = new Set<string>();

/** A registry password as the workload role gets it: the default chain, configured by .stack/env. */
export async function workloadPassword(): Promise<string> {
  const ecr = new ECRClient({ region: REGION, maxAttempts: 2 });
  try {
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    const token = Buffer.from(out.authorizationData?.[0]?.authorizationToken ?? '', 'base64').toString('utf8');
    return token.slice(token.indexOf(':') + 1);
  } finally {
    ecr.destroy();
  }
}

/** Why these passwords are not tokens the emulator minted for the workload role in REGION, or undefined. */
export async function notMintedForWorkload(passwords: Iterable<string>): Promise<string | undefined> {
  const control = new EcrControl();
  for (const password of passwords) {
    const info = await control.lookupToken(password);
    if (!info) return 'a password the emulator never minted';
    if (!info.principal.startsWith(`arn:aws:sts::${WORKLOAD_ACCOUNT}:`) || info.region !== REGION) return `a token of ${info.principal} in ${info.region}`;
  }
  return undefined;
}

export function dockerConfigJson(host: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return JSON.stringify({ auths: { [host]: { username, password, auth } } });
}

/** Why a P1 secret is not a usable pull secret for the P1 registry, or undefined when it is. */
export function validP1Secret(secret: V1Secret): string | undefined {
  if (secret.type !== 'kubernetes.io/dockerconfigjson') return `type is ${secret.type}`;
  const raw = secret.data?.['.dockerconfigjson'];
  if (!raw) return 'no .dockerconfigjson';
  try {
    const config = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as { auths?: Record<string, { username?: string; password?: string; auth?: string }> };
    const entry = config.auths?.[P1_HOST];
    if (!entry) return `no entry for ${P1_HOST}`;
    if (entry.username !== 'AWS' || !entry.password) return 'wrong username or no password';
    if (Buffer.from(entry.auth ?? '', 'base64').toString('utf8') !== `AWS:${entry.password}`) return 'auth does not match username:password';
    // Whether the emulator minted it for the workload role is asked once per password, after P1.
    const expiry = passwordExpiry(entry.password);
    if (expiry === undefined) return 'the password is not an ECR token';
    if (expiry <= Date.now()) return 'the token has expired';
    P1_PASSWORDS.add(entry.password);
  } catch {
    return '.dockerconfigjson is not JSON';
  }
  return undefined;
}
