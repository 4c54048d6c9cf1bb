// The principal the operator's own credentials stand for on the AWS SDK's default chain (EKS Pod
// Identity, static keys, a profile, an instance role), as STS GetCallerIdentity names it, made
// stable across pods and sessions: a status written by one pod vouches for its tokens to the next.
// An assumed role's session name changes with every pod (Pod Identity puts the pod's UID in it, an
// instance role the instance id) while its rights are the role's, so it is dropped.

/** arn:partition:service:region:account:resource, with IAM's name characters (and the path's slashes) in the resource. */
const ARN = /^arn:(aws(?:-[a-z]+)*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}):([\w+=,.@/:-]+)$/;
/** Role and session names: IAM's characters, no slash (an assumed role's ARN carries no role path). */
const NAME = /^[\w+=,.@-]{1,64}$/;
const MAX_ARN_LENGTH = 2048;

/**
 * The ARN of the principal behind GetCallerIdentity's answer, without an assumed role's session
 * name: `arn:aws:sts::123456789012:assumed-role/Role/session` → `arn:aws:sts::123456789012:assumed-role/Role`.
 * An IAM user, the account's root, or another principal, as it is. Undefined for anything that is no such ARN.
 */
export function stablePrincipal(arn: string): string | undefined {
  if (arn.length > MAX_ARN_LENGTH) return undefined;
  const match = ARN.exec(arn);
  if (!match) return undefined;
  const [, partition, service, region, account, resource] = match as unknown as [string, string, string, string, string, string];
  if (service !== 'sts' || !resource.startsWith('assumed-role/')) return arn;
  const [, role, session, ...rest] = resource.split('/');
  if (region !== '' || rest.length > 0 || !role || !session || !NAME.test(role) || !NAME.test(session)) return undefined;
  return `arn:${partition}:sts::${account}:assumed-role/${role}`;
}
