// Identity chains and token groups: one GetAuthorizationToken call per distinct
// (identity chain, service, region), shared by every registry of that region; ECR Public's token
// (service ecr-public, always us-east-1) is a group of its own.
import type { AssumeRoleSpec, EcrCredentialSyncSpec, RegistrySpec } from '../api/types.ts';
import { DEFAULT_AUDIENCE } from '../api/constants.ts';
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGION, isPublicRegistry } from './dockerconfig.ts';

export type BaseIdentity =
  | { kind: 'environment' }
  | { kind: 'webIdentity'; roleArn: string; tokenFile?: string }
  | { kind: 'serviceAccount'; namespace: string; name: string; audience: string; roleArn?: string };

export interface IdentityChain {
  base: BaseIdentity;
  assumeRole?: AssumeRoleSpec;
}

/** Which API mints a token: ECR's, for the private registries of a region, or ECR Public's. */
export type TokenService = 'ecr' | 'ecr-public';

export interface TokenGroup {
  /** Stable key of (chain, service, region); the unit of token caching and of AWS calls. */
  key: string;
  chain: IdentityChain;
  service: TokenService;
  /** Where the token is fetched: the registries' region, or us-east-1 for ECR Public. */
  region: string;
  registries: RegistrySpec[];
}

/**
 * What a group's token is for, in metrics' region label and in events: its region, or
 * public.ecr.aws for ECR Public (whose token is fetched in us-east-1 too, but is not that region's).
 */
export function tokenScope(group: Pick<TokenGroup, 'service' | 'region'>): string {
  return group.service === 'ecr-public' ? ECR_PUBLIC_HOST : group.region;
}

export function baseIdentity(spec: EcrCredentialSyncSpec): BaseIdentity {
  const id = spec.identity;
  if (id?.serviceAccountRef) {
    const ref = id.serviceAccountRef;
    return {
      kind: 'serviceAccount',
      namespace: ref.namespace,
      name: ref.name,
      audience: ref.audience ?? DEFAULT_AUDIENCE,
      ...(ref.roleArn ? { roleArn: ref.roleArn } : {}),
    };
  }
  if (id?.webIdentity) {
    return { kind: 'webIdentity', roleArn: id.webIdentity.roleArn, ...(id.webIdentity.tokenFile ? { tokenFile: id.webIdentity.tokenFile } : {}) };
  }
  return { kind: 'environment' };
}

export function chainKey(chain: IdentityChain): string {
  const b = chain.base;
  const base =
    b.kind === 'environment'
      ? 'env'
      : b.kind === 'webIdentity'
        ? `web:${b.roleArn}:${b.tokenFile ?? ''}`
        : `sa:${b.namespace}/${b.name}:${b.audience}:${b.roleArn ?? ''}`;
  const ar = chain.assumeRole;
  return ar ? `${base}>${ar.roleArn}:${ar.externalId ?? ''}:${ar.sessionName ?? ''}` : base;
}

/**
 * A readable chain for status and logs: role ARNs joined by ' -> '. Holds no secrets. The first
 * link names the role it stands for (the operator's own, or the ServiceAccount's), so that a
 * status written under one role does not vouch for a token after a restart under another. The
 * operator's own identity without a web identity is the AWS SDK's default chain (Pod Identity,
 * static keys, instance metadata...): it names the principal STS said its credentials stand for,
 * or none while STS has not said.
 */
export function describeChain(chain: IdentityChain, operator: Pick<RuntimeRoles, 'environment' | 'defaultChain'>): string {
  const b = chain.base;
  const role = (arn: string | undefined) => (arn ? ` (${arn})` : '');
  const first =
    b.kind === 'environment'
      ? operator.environment
        ? `operator web identity${role(operator.environment)}`
        : `operator default credentials${role(operator.defaultChain)}`
      : b.kind === 'webIdentity'
        ? b.roleArn
        : `serviceaccount ${b.namespace}/${b.name}${role(b.roleArn)}`;
  return chain.assumeRole ? `${first} -> ${chain.assumeRole.roleArn}` : first;
}

/** What the operator learns at run time about the roles chains start from. */
export interface RuntimeRoles {
  /** The operator's own role, AWS_ROLE_ARN, when it has a web identity (undefined on the default chain). */
  environment: string | undefined;
  /**
   * Without a web identity, the principal the default chain's credentials stand for, as STS
   * GetCallerIdentity named it without a session (core/principal.ts); undefined until STS has said.
   */
  defaultChain?: string | undefined;
  /** The eks.amazonaws.com/role-arn annotation of each ServiceAccount, by `namespace/name`. */
  serviceAccounts: ReadonlyMap<string, string>;
}

/** A token group as it is fetched now: `chain` with its role resolved, and `identity` describing it. */
export interface ResolvedGroup extends TokenGroup {
  identity: string;
  /**
   * False for the operator's own identity on the default chain (Pod Identity, an instance profile,
   * static keys) while STS has not named its principal: `identity` then reads the same under any
   * role, so the status vouches for no token.
   */
  roleKnown: boolean;
}

/** Fills in a ServiceAccount's role from its annotation where the spec names none; keys stay the spec's. */
export function resolveGroups(groups: readonly TokenGroup[], roles: RuntimeRoles): ResolvedGroup[] {
  return groups.map((group) => {
    const b = group.chain.base;
    const annotated = b.kind === 'serviceAccount' && !b.roleArn ? roles.serviceAccounts.get(`${b.namespace}/${b.name}`) : undefined;
    const chain = annotated && b.kind === 'serviceAccount' ? { ...group.chain, base: { ...b, roleArn: annotated } } : group.chain;
    const roleKnown = chain.base.kind !== 'environment' || Boolean(roles.environment || roles.defaultChain);
    return { ...group, chain, identity: describeChain(chain, roles), roleKnown };
  });
}

export function tokenGroups(spec: EcrCredentialSyncSpec): TokenGroup[] {
  const base = baseIdentity(spec);
  const groups = new Map<string, TokenGroup>();
  for (const registry of spec.registries) {
    const assumeRole = registry.assumeRole ?? spec.identity?.assumeRole;
    const chain: IdentityChain = assumeRole ? { base, assumeRole } : { base };
    const service: TokenService = isPublicRegistry(registry) ? 'ecr-public' : 'ecr';
    const region = isPublicRegistry(registry) ? ECR_PUBLIC_REGION : registry.region;
    const key = `${chainKey(chain)}@${tokenScope({ service, region })}`;
    const group = groups.get(key);
    if (group) group.registries.push(registry);
    else groups.set(key, { key, chain, service, region, registries: [registry] });
  }
  return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
