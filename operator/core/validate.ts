// Checks the operator makes itself: what CEL cannot say (cron ranges as node-cron reads them),
// and everything again for objects that reached it without the CRD's schema.
import type { AssumeRoleSpec, EcrCredentialSyncSpec } from '../api/types.ts';
import {
  ANNOTATION_DATA_HASH,
  ANNOTATION_EXPIRES_AT,
  ANNOTATION_REGISTRIES,
  ANNOTATION_TEMPLATE_KEYS,
  DEFAULT_REFRESH_BEFORE,
  DEFAULT_SCHEDULE,
  LABEL_MANAGED_BY,
  LABEL_SYNC,
  MANAGER_NAME,
} from '../api/constants.ts';
import { parseCron } from './cron.ts';
import { ECR_PUBLIC_HOST, ECR_PUBLIC_REGION, registryHosts } from './dockerconfig.ts';
import { parseDuration } from './duration.ts';
import { ECR_HOSTNAME_PATTERNS, hostAllowed } from './hostnames.ts';

const ACCOUNT = /^[0-9]{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$/;
const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
const MIN_REFRESH_BEFORE_MS = 60_000;
const MAX_REFRESH_BEFORE_MS = 11 * 3_600_000;

const isString = (v: unknown): v is string => typeof v === 'string';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const OPERATORS: readonly unknown[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** A label selector that matchesSelector can evaluate: string labels, and well-formed expressions. */
function isLabelSelector(v: unknown): boolean {
  if (!isRecord(v)) return false;
  const { matchLabels, matchExpressions } = v;
  if (matchLabels !== undefined && (!isRecord(matchLabels) || !Object.values(matchLabels).every(isString))) return false;
  if (matchExpressions === undefined) return true;
  return (
    Array.isArray(matchExpressions) &&
    matchExpressions.every(
      (r) => isRecord(r) && isString(r.key) && OPERATORS.includes(r.operator) && (r.values === undefined || (Array.isArray(r.values) && r.values.every(isString))),
    )
  );
}

function checkRole(where: string, role: AssumeRoleSpec | undefined, problems: string[]): void {
  if (role === undefined) return;
  if (!isRecord(role) || !isString(role.roleArn) || !ROLE_ARN.test(role.roleArn)) {
    problems.push(`${where}.roleArn must be an IAM role ARN`);
  }
}

export interface ValidateOptions {
  /** Host globs (--allowed-hostnames) that extra hostnames may match besides ECR's own domains. */
  allowedHostnames?: readonly string[];
}

/** Hostnames outside ECR's domains and the allowlist, as one problem per registry. */
function refusedHosts(where: string, hostnames: readonly string[], allowed: readonly string[]): string | undefined {
  const refused = hostnames.filter((h) => !hostAllowed(h, allowed));
  if (refused.length === 0) return undefined;
  const hosts = refused.map((h) => `"${h}"`).join(', ');
  return (
    `${where}: ${hosts} ${refused.length === 1 ? 'is not an ECR host' : 'are not ECR hosts'} (${ECR_HOSTNAME_PATTERNS.join(', ')}) ` +
    `and not allowed by the operator's --allowed-hostnames (${allowed.length > 0 ? allowed.join(',') : 'not set'}); every pull from a listed host would receive the ECR token`
  );
}

function privateProblems(where: string, r: Record<string, unknown>, seen: Set<string>, options: ValidateOptions, problems: string[]): void {
  if (!isString(r.accountId) || !ACCOUNT.test(r.accountId)) problems.push(`${where}.accountId must be exactly 12 digits`);
  if (!isString(r.region) || !REGION.test(r.region)) problems.push(`${where}.region must be an AWS region code such as us-east-1`);
  if (isString(r.accountId) && isString(r.region)) {
    const id = `${r.accountId}/${r.region}`;
    if (seen.has(id)) problems.push(`${where} repeats accountId ${r.accountId} in ${r.region}`);
    seen.add(id);
  }
  const hostnames = r.hostnames as unknown;
  if (hostnames !== undefined && (!Array.isArray(hostnames) || !hostnames.every((h) => isString(h) && HOST.test(h)))) {
    problems.push(`${where}.hostnames must be host or host:port entries`);
  } else if (hostnames !== undefined) {
    if ((hostnames as string[]).some(isPublicHost)) problems.push(`${where}.hostnames must not name ${ECR_PUBLIC_HOST}: list a registry with public: true for ECR Public`);
    const refused = refusedHosts(`${where}.hostnames`, hostnames as string[], options.allowedHostnames ?? []);
    if (refused) problems.push(refused);
  }
}

/** ECR Public: one registry for every account, its token fetched in us-east-1 only, written for public.ecr.aws alone. */
function publicProblems(where: string, r: Record<string, unknown>, problems: string[]): void {
  if (r.accountId !== undefined) problems.push(`${where}.accountId must not be set with public: true (ECR Public serves every account at ${ECR_PUBLIC_HOST})`);
  if (r.region !== undefined && r.region !== ECR_PUBLIC_REGION) problems.push(`${where}.region must be ${ECR_PUBLIC_REGION} or left out with public: true (ECR Public's API is in ${ECR_PUBLIC_REGION} only)`);
  if (r.hostnames !== undefined) problems.push(`${where}.hostnames must not be set with public: true (its one host is ${ECR_PUBLIC_HOST})`);
}

const isPublicHost = (host: string) => host === ECR_PUBLIC_HOST || host.startsWith(`${ECR_PUBLIC_HOST}:`);

/** Human-readable problems; empty when the spec can be acted on. */
export function validateSpec(spec: EcrCredentialSyncSpec | undefined, options: ValidateOptions = {}): string[] {
  const problems: string[] = [];
  if (!isRecord(spec)) return ['spec is missing'];
  const registries = spec.registries as unknown;
  if (!Array.isArray(registries) || registries.length === 0) {
    problems.push('registries must list at least one registry');
  } else {
    const seen = new Set<string>();
    registries.forEach((r: unknown, i) => {
      if (!isRecord(r)) return problems.push(`registries[${i}] must be an object`);
      if (r.public !== undefined && typeof r.public !== 'boolean') problems.push(`registries[${i}].public must be true or false`);
      if (r.public === true) publicProblems(`registries[${i}]`, r, problems);
      else privateProblems(`registries[${i}]`, r, seen, options, problems);
      checkRole(`registries[${i}].assumeRole`, r.assumeRole as AssumeRoleSpec | undefined, problems);
      return undefined;
    });
    if (registries.filter((r: unknown) => isRecord(r) && r.public === true).length > 1) {
      problems.push(`registries may hold one public registry at most: ECR Public has one host, ${ECR_PUBLIC_HOST}`);
    }
  }
  const ns = spec.namespaces as unknown;
  if (!isRecord(ns) || (ns.names === undefined && ns.selector === undefined)) {
    problems.push('namespaces needs names, a selector, or both');
  } else {
    if (ns.names !== undefined && (!Array.isArray(ns.names) || !ns.names.every((n) => isString(n) && DNS_LABEL.test(n)))) {
      problems.push('namespaces.names must be namespace names');
    }
    if (ns.selector !== undefined && !isLabelSelector(ns.selector)) problems.push('namespaces.selector must be a label selector');
    if (ns.exclude !== undefined && (!Array.isArray(ns.exclude) || !ns.exclude.every(isString))) {
      problems.push('namespaces.exclude must be a list of names or globs');
    }
  }
  const secretName = spec.secretName as unknown;
  if (secretName !== undefined && (!isString(secretName) || secretName.length > 253 || !DNS_SUBDOMAIN.test(secretName))) {
    problems.push('secretName must be a DNS subdomain name such as regcred');
  }
  const schedule = (spec.schedule as unknown) ?? DEFAULT_SCHEDULE;
  if (!isString(schedule)) problems.push('schedule must be a cron expression');
  else {
    const cron = parseCron(schedule);
    if (!cron.ok) problems.push(cron.message);
  }
  const refreshBefore = (spec.refreshBefore as unknown) ?? DEFAULT_REFRESH_BEFORE;
  const ms = isString(refreshBefore) ? parseDuration(refreshBefore) : undefined;
  if (ms === undefined) problems.push('refreshBefore must be a positive duration such as 1h or 30m');
  else if (ms < MIN_REFRESH_BEFORE_MS || ms > MAX_REFRESH_BEFORE_MS) problems.push('refreshBefore must be between 1m and 11h');
  const identity = spec.identity as unknown;
  if (identity !== undefined) {
    if (!isRecord(identity)) problems.push('identity must be an object');
    else {
      if (identity.webIdentity && identity.serviceAccountRef) problems.push('identity: set webIdentity or serviceAccountRef, not both');
      if (identity.webIdentity !== undefined) checkRole('identity.webIdentity', identity.webIdentity as AssumeRoleSpec, problems);
      const sa = identity.serviceAccountRef as unknown;
      if (sa !== undefined && (!isRecord(sa) || !isString(sa.namespace) || !isString(sa.name))) {
        problems.push('identity.serviceAccountRef needs namespace and name');
      }
      checkRole('identity.assumeRole', identity.assumeRole as AssumeRoleSpec | undefined, problems);
    }
  }
  const serviceAccounts = spec.serviceAccounts as unknown;
  if (serviceAccounts !== undefined && (!Array.isArray(serviceAccounts) || !serviceAccounts.every((s) => isString(s) && (s === '*' || DNS_SUBDOMAIN.test(s))))) {
    problems.push('serviceAccounts must list ServiceAccount names or "*"');
  }
  if (problems.length === 0) problems.push(...sizeProblems(spec));
  return problems;
}

/** A safe bound under the API server's 1 MiB (1,048,576-byte) limit on a Secret. */
export const MAX_SECRET_BYTES = 1_000_000;
/** The API server's limit on the total size of an object's annotations. */
export const MAX_ANNOTATION_BYTES = 256 * 1024;
/**
 * The longest ECR password assumed. ECR's run to about 2,300–2,700 characters (the stack's
 * emulator mints 2,264); the margin keeps the estimate above any real secret.
 */
export const ASSUMED_PASSWORD_CHARS = 3072;
const ASSUMED_USERNAME_CHARS = 8; // ECR's is "AWS"
const MAX_SYNC_NAME_CHARS = 253;

const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);
const mapBytes = (map: unknown) => (isRecord(map) ? Object.entries(map).reduce((n, [k, v]) => n + k.length + (isString(v) ? v.length : 0), 0) : 0);

export interface SecretSize {
  /** Distinct registry hosts, one auth entry each. */
  hosts: number;
  /** Data (base64, as stored), labels and annotations, keys included. */
  bytes: number;
  annotationBytes: number;
}

/** An upper estimate of the secret a valid spec makes, from the spec alone (no token needed). */
export function secretSize(spec: EcrCredentialSyncSpec): SecretSize {
  const hosts = new Set(spec.registries.flatMap((r) => registryHosts(r)));
  const authChars = base64Length(ASSUMED_USERNAME_CHARS + 1 + ASSUMED_PASSWORD_CHARS);
  const entryOverhead = '"":{"username":"","password":"","auth":""},'.length + ASSUMED_USERNAME_CHARS + ASSUMED_PASSWORD_CHARS + authChars;
  const json = '{"auths":{}}'.length + [...hosts].reduce((n, h) => n + h.length + entryOverhead, 0);
  const data = '.dockerconfigjson'.length + base64Length(json);
  const template = isRecord(spec.secretTemplate) ? spec.secretTemplate : {};
  const labels = mapBytes(template.labels) + LABEL_MANAGED_BY.length + MANAGER_NAME.length + LABEL_SYNC.length + MAX_SYNC_NAME_CHARS;
  const templateKeys = [template.labels, template.annotations].reduce<number>((n, m) => n + (isRecord(m) ? Object.keys(m).reduce((k, key) => k + key.length + 3, 0) : 0), 0);
  const annotationBytes =
    mapBytes(template.annotations) +
    ANNOTATION_TEMPLATE_KEYS.length + '{"labels":[],"annotations":[]}'.length + templateKeys +
    ANNOTATION_EXPIRES_AT.length + '2006-01-02T15:04:05Z'.length +
    ANNOTATION_REGISTRIES.length + [...hosts].reduce((n, h) => n + h.length + 1, 0) +
    ANNOTATION_DATA_HASH.length + 64;
  return { hosts: hosts.size, bytes: data + labels + annotationBytes, annotationBytes };
}

/** A secret the API server would refuse is refused here, before any token is fetched or write tried. */
function sizeProblems(spec: EcrCredentialSyncSpec): string[] {
  const size = secretSize(spec);
  const advice = 'list fewer registries or hostnames, or split them across syncs';
  const problems: string[] = [];
  if (size.bytes > MAX_SECRET_BYTES) {
    problems.push(`the secret for ${size.hosts} registry hosts would take up to ${size.bytes} bytes, over the limit of ${MAX_SECRET_BYTES} (the API server stores at most 1 MiB per Secret): ${advice}`);
  }
  if (size.annotationBytes > MAX_ANNOTATION_BYTES) {
    problems.push(`the secret's annotations would take up to ${size.annotationBytes} bytes, over the API server's limit of ${MAX_ANNOTATION_BYTES}: ${advice}, or shorten secretTemplate.annotations`);
  }
  return problems;
}
