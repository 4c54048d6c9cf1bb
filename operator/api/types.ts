// The EcrCredentialSync API (ecrsync.io/v1alpha1), as the CRDs in crds/ define it: the
// cluster-scoped EcrCredentialSync, and LocalEcrCredentialSync, its namespaced kind for one team's
// namespace (named as LocalSubjectAccessReview is beside SubjectAccessReview).

export const GROUP = 'ecrsync.io';
export const VERSION = 'v1alpha1';
export const KIND = 'EcrCredentialSync';
export const PLURAL = 'ecrcredentialsyncs';
export const LOCAL_KIND = 'LocalEcrCredentialSync';
export const LOCAL_PLURAL = 'localecrcredentialsyncs';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface AssumeRoleSpec {
  roleArn: string;
  externalId?: string;
  sessionName?: string;
}

/** A private ECR registry: an account's, in one region. */
export interface PrivateRegistrySpec {
  public?: false;
  accountId: string;
  region: string;
  hostnames?: string[];
  assumeRole?: AssumeRoleSpec;
}

/** Amazon ECR Public (public.ecr.aws): one registry for every account, its token API in us-east-1 only. */
export interface PublicRegistrySpec {
  public: true;
  /** us-east-1 or nothing: ECR Public has no other region. */
  region?: string;
  assumeRole?: AssumeRoleSpec;
  accountId?: never;
  hostnames?: never;
}

export type RegistrySpec = PrivateRegistrySpec | PublicRegistrySpec;

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface NamespaceSelection {
  names?: string[];
  selector?: LabelSelector;
  exclude?: string[];
}

export interface WebIdentitySpec {
  roleArn: string;
  tokenFile?: string;
}

export interface ServiceAccountRefSpec {
  namespace: string;
  name: string;
  audience?: string;
  roleArn?: string;
}

export interface IdentitySpec {
  webIdentity?: WebIdentitySpec;
  serviceAccountRef?: ServiceAccountRefSpec;
  assumeRole?: AssumeRoleSpec;
}

export interface SecretTemplate {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EcrCredentialSyncSpec {
  registries: RegistrySpec[];
  namespaces: NamespaceSelection;
  secretName?: string;
  secretTemplate?: SecretTemplate;
  identity?: IdentitySpec;
  serviceAccounts?: string[];
  schedule?: string;
  refreshBefore?: string;
  suspend?: boolean;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/**
 * Where the credentials at the start of a token's identity chain came from: the operator's web
 * identity from its environment (IRSA, ROSA) or a spec's webIdentity; a ServiceAccount token from
 * TokenRequest; or, without either, the AWS SDK's default chain: EKS Pod Identity (container
 * credentials with a token file), other container credentials (ECS), static keys in the
 * environment, the shared config files, a credential_process, or instance metadata.
 */
export const CREDENTIAL_SOURCES = [
  'WebIdentity',
  'ServiceAccountToken',
  'PodIdentity',
  'ContainerCredentials',
  'Environment',
  'SharedConfig',
  'Process',
  'InstanceMetadata',
] as const;
export type CredentialSource = (typeof CREDENTIAL_SOURCES)[number];

export interface TokenStatus {
  /** us-east-1 for an ECR Public token (see `public`). */
  region: string;
  /** True for the ECR Public token (public.ecr.aws); absent for a private registry's. */
  public?: boolean;
  identity: string;
  expiresAt: string;
  /** 16 hex digits of the SHA-256 of the token's password. */
  fingerprint?: string;
  credentialSource?: CredentialSource;
}

export interface NamespaceFailure {
  namespace: string;
  reason: string;
  message: string;
}

/** Why no token fetch is tried before `nextAttemptTime`: the last ones failed. */
export interface BackoffStatus {
  /** Failed fetch attempts in a row, for this generation. */
  failures: number;
  /** No AWS call before this time, unless the spec changes. */
  nextAttemptTime: string;
  /** False when trying again cannot help without a change (AccessDenied, a missing ServiceAccount). */
  retryable: boolean;
  observedGeneration?: number;
  message: string;
}

export interface EcrCredentialSyncStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastRefreshTime?: string;
  tokenExpiresAt?: string;
  nextRefreshTime?: string;
  tokens?: TokenStatus[];
  namespaces?: { targeted: number; synced: number; failed: number };
  failures?: NamespaceFailure[];
  backoff?: BackoffStatus;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  /** Set on a LocalEcrCredentialSync only. */
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * A sync as the pipeline sees it. A LocalEcrCredentialSync reaches it in this shape too
 * (core/local-sync.ts): kind LOCAL_KIND, its namespace as the only target and as the namespace of
 * its ServiceAccount.
 */
export interface EcrCredentialSync {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND | typeof LOCAL_KIND;
  metadata: ObjectMeta;
  spec: EcrCredentialSyncSpec;
  status?: EcrCredentialSyncStatus;
}

/** A ServiceAccount of the sync's own namespace: there is no namespace to name. */
export interface LocalServiceAccountRefSpec {
  name: string;
  audience?: string;
  roleArn?: string;
}

export interface LocalIdentitySpec {
  serviceAccountRef?: LocalServiceAccountRefSpec;
  assumeRole?: AssumeRoleSpec;
}

export interface LocalEcrCredentialSyncSpec extends Omit<EcrCredentialSyncSpec, 'namespaces' | 'identity'> {
  identity?: LocalIdentitySpec;
}

/** The namespaced kind as stored: it writes its secret into its own namespace only. */
export interface LocalEcrCredentialSync {
  apiVersion: typeof API_VERSION;
  kind: typeof LOCAL_KIND;
  metadata: ObjectMeta & { namespace: string };
  spec: LocalEcrCredentialSyncSpec;
  status?: EcrCredentialSyncStatus;
}
