// Names the operator owns on the objects it writes, and the fixed reasons it reports.

export const MANAGER_NAME = 'ecr-credential-sync';
export const FIELD_MANAGER = 'ecr-credential-sync';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_SYNC = 'ecrsync.io/sync';
/** On the secret of a LocalEcrCredentialSync: its name (its namespace is the secret's). */
export const LABEL_LOCAL_SYNC = 'ecrsync.io/local-sync';

export const ANNOTATION_EXPIRES_AT = 'ecrsync.io/token-expires-at';
export const ANNOTATION_DATA_HASH = 'ecrsync.io/data-hash';
export const ANNOTATION_REGISTRIES = 'ecrsync.io/registries';
/** Which label and annotation keys came from spec.secretTemplate, so that keys removed there are removed. */
export const ANNOTATION_TEMPLATE_KEYS = 'ecrsync.io/template-keys';
/** On ServiceAccounts: which pull secrets each sync added, as JSON {"<sync>": "<secret>"}. */
export const ANNOTATION_PULL_SECRETS = 'ecrsync.io/image-pull-secrets';

export const FINALIZER = 'ecrsync.io/cleanup';

export const DEFAULT_SECRET_NAME = 'regcred';
export const DEFAULT_SCHEDULE = '0 */6 * * *';
export const DEFAULT_REFRESH_BEFORE = '1h';
export const DEFAULT_AUDIENCE = 'sts.amazonaws.com';
export const DEFAULT_SESSION_NAME = 'ecr-credential-sync';
export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';

/** ECR authorization tokens live 12 hours. */
export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

export const ConditionType = {
  Ready: 'Ready',
  TokenExpiryTrusted: 'TokenExpiryTrusted',
} as const;

export const Reason = {
  Synced: 'Synced',
  TokenFetchFailed: 'TokenFetchFailed',
  SecretConflict: 'SecretConflict',
  /** A secret of the sync is being deleted and held by someone's finalizer: it is written once it is gone. */
  SecretTerminating: 'SecretTerminating',
  SecretWriteFailed: 'SecretWriteFailed',
  InvalidSpec: 'InvalidSpec',
  NoTargetNamespaces: 'NoTargetNamespaces',
  Suspended: 'Suspended',
  ExpiryAsReported: 'ExpiryAsReported',
  ExpiryInPast: 'ExpiryInPast',
  ExpiryMissing: 'ExpiryMissing',
  ExpiryTooFar: 'ExpiryTooFar',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const EventReason = {
  TokenRefreshed: 'TokenRefreshed',
  TokenFetchFailed: 'TokenFetchFailed',
  SecretsSynced: 'SecretsSynced',
  SecretConflict: 'SecretConflict',
  SecretWriteFailed: 'SecretWriteFailed',
  InvalidSpec: 'InvalidSpec',
  SecretsRemoved: 'SecretsRemoved',
  SecretReplaced: 'SecretReplaced',
} as const;
