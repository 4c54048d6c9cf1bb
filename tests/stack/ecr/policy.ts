// ECR repository policies, evaluated as AWS does for the parts the stack models: Allow and
// Deny statements (an explicit Deny wins, and no matching Allow denies), principals and
// actions with wildcards. The stack models no IAM identity policies: a registry's repository
// policy alone decides who may pull and push.

export type Principal = '*' | { AWS: string | string[] };

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal: Principal;
  Action: string | string[];
}

export interface PolicyDocument {
  Version?: string;
  Statement: Statement[];
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

export class PolicyError extends Error {}

const asList = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

interface Arn {
  service: string;
  account: string;
  resource: string;
}

function parseArn(arn: string): Arn | undefined {
  const match = /^arn:aws:([a-z0-9-]+):[a-z0-9-]*:(\d{12}):(.+)$/.exec(arn);
  return match ? { service: match[1]!, account: match[2]!, resource: match[3]! } : undefined;
}

/**
 * Whether a policy's principal names the caller. `arn:aws:iam::<acct>:root` (or the bare account id)
 * is every principal of that account; an IAM role is every session of it, whose ARN is
 * `arn:aws:sts::<acct>:assumed-role/<role name>/<session>` (the role's path is not part of it).
 */
export function principalMatches(pattern: string, caller: string): boolean {
  if (pattern === '*' || pattern === caller) return true;
  const callerArn = parseArn(caller);
  if (!callerArn) return false;
  if (/^\d{12}$/.test(pattern)) return callerArn.account === pattern;
  const named = parseArn(pattern);
  if (!named || named.account !== callerArn.account) return false;
  if (named.service === 'iam' && named.resource === 'root') return true;
  if (named.service === 'iam' && named.resource.startsWith('role/') && callerArn.service === 'sts') {
    const roleName = named.resource.split('/').pop();
    const [kind, sessionRole] = callerArn.resource.split('/');
    return kind === 'assumed-role' && sessionRole === roleName;
  }
  return false;
}

/** IAM action matching: case-insensitive, with `*` and `?` wildcards. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(action);
}

function statementApplies(statement: Statement, caller: string, action: string): boolean {
  const principals = statement.Principal === '*' ? ['*'] : asList(statement.Principal.AWS);
  return principals.some((p) => principalMatches(p, caller)) && asList(statement.Action).some((a) => actionMatches(a, action));
}

export function evaluatePolicy(policy: PolicyDocument | undefined, caller: string, action: string): Decision {
  const applying = (policy?.Statement ?? []).filter((s) => statementApplies(s, caller, action));
  if (applying.some((s) => s.Effect === 'Deny')) return 'explicit-deny';
  return applying.some((s) => s.Effect === 'Allow') ? 'allow' : 'implicit-deny';
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringOrList = (value: unknown): value is string | string[] =>
  isString(value) || (Array.isArray(value) && value.length > 0 && value.every(isString));

/** Checks a policy's shape (as SetRepositoryPolicy would), refusing what the stack does not model. */
export function parsePolicy(value: unknown): PolicyDocument {
  const doc = (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new PolicyError('the policy must be a JSON object');
  const raw = doc.Statement;
  const statements = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : undefined;
  if (!statements) throw new PolicyError('the policy needs a Statement');
  return {
    ...(isString(doc.Version) ? { Version: doc.Version } : {}),
    Statement: statements.map((s: Record<string, unknown>, i) => {
      const where = `Statement[${i}]`;
      const unknown = Object.keys(s).filter((k) => !['Sid', 'Effect', 'Principal', 'Action'].includes(k));
      if (unknown.length > 0) throw new PolicyError(`${where}: ${unknown.join(', ')} is not modelled by the stack`);
      if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${where}: Effect must be Allow or Deny`);
      const principal = s.Principal as unknown;
      const validPrincipal = principal === '*' || (typeof principal === 'object' && principal !== null && isStringOrList((principal as { AWS?: unknown }).AWS));
      if (!validPrincipal) throw new PolicyError(`${where}: Principal must be "*" or {"AWS": ARN or list of ARNs}`);
      if (!isStringOrList(s.Action)) throw new PolicyError(`${where}: Action must be a string or a list of strings`);
      return {
        ...(isString(s.Sid) ? { Sid: s.Sid } : {}),
        Effect: s.Effect,
        Principal: principal === '*' ? '*' : { AWS: (principal as { AWS: string | string[] }).AWS },
        Action: s.Action,
      };
    }),
  };
}
