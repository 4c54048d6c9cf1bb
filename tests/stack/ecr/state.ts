// The emulator's state: tokens (kept in a file, so a restarted emulator still honours what it
// minted), the registries' policies (the stack's defaults at each start), the test switches (TTL,
// denied principals, throttling) and what happened (token calls and registry decisions).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { actionMatches, principalMatches, type PolicyDocument } from './policy.ts';
import { type EcrRegistryId, registryKey } from './registries.ts';
import { type TokenRecord, TokenStore } from './tokens.ts';

/** One GetAuthorizationToken call. */
export interface CallRecord {
  /** Epoch milliseconds. */
  at: number;
  api: 'GetAuthorizationToken' | 'ecr-public:GetAuthorizationToken';
  /** The service the request was signed for (its SigV4 scope): ecr or ecr-public. */
  signingName?: string;
  accessKeyId?: string;
  principal?: string;
  region?: string;
  /** 'success', or the error code AWS answered with. */
  result: string;
  /** The password minted (inside authorizationToken's base64 "AWS:<password>"). */
  token?: string;
  expiresAt?: number;
}

/** One decision of a registry's auth front. */
export interface RegistryRequestRecord {
  at: number;
  /** "111111111111-us-east-1", or "public.ecr.aws" */
  registry: string;
  principal?: string;
  method: string;
  path: string;
  repository?: string;
  action?: string;
  status: number;
  reason: string;
}

export interface DeniedEntry {
  principal: string;
  action?: string;
}

interface Persisted {
  tokens: Array<[string, TokenRecord]>;
}

const MAX_RECORDS = 20_000;
/** An expired token still answers "expired" (not "unknown") for a day, then is forgotten. */
const TOKEN_GRACE_MS = 24 * 3600_000;

export class EmulatorState {
  readonly tokens: TokenStore;
  ttlSeconds: number;
  /**
   * What the principals' identity policies would lack: a principal pattern, and the action it may
   * not perform (every action a token call needs, without one).
   */
  readonly denied: DeniedEntry[] = [];
  /** Epoch ms until which GetAuthorizationToken is throttled; Infinity for "until turned off". */
  throttledUntil = 0;
  readonly calls: CallRecord[] = [];
  readonly registryRequests: RegistryRequestRecord[] = [];
  private readonly policies: Map<string, PolicyDocument | undefined>;
  private readonly file: string;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(file: string, ttlSeconds: number, defaults: Array<[EcrRegistryId, PolicyDocument]>) {
    this.file = file;
    this.ttlSeconds = ttlSeconds;
    const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Persisted) : undefined;
    this.tokens = new TokenStore(saved?.tokens ?? []);
    this.tokens.prune(TOKEN_GRACE_MS);
    this.policies = new Map(defaults.map(([id, policy]) => [registryKey(id), policy]));
  }

  policy(id: EcrRegistryId): PolicyDocument | undefined {
    return this.policies.get(registryKey(id));
  }

  setPolicy(id: EcrRegistryId, policy: PolicyDocument | undefined): void {
    this.policies.set(registryKey(id), policy);
  }

  /** The first of `actions` the principal may not perform, if any. */
  deniedAction(principal: string, actions: readonly string[]): string | undefined {
    return actions.find((action) => this.denied.some((d) => principalMatches(d.principal, principal) && (d.action === undefined || actionMatches(d.action, action))));
  }

  isThrottled(): boolean {
    return Date.now() < this.throttledUntil;
  }

  record<T extends CallRecord | RegistryRequestRecord>(list: T[], entry: T): void {
    list.push(entry);
    if (list.length > MAX_RECORDS) list.splice(0, list.length - MAX_RECORDS);
  }

  /** Saves soon; many changes in a burst are written once. */
  changed(): void {
    this.saveTimer ??= setTimeout(() => this.save(), 200);
  }

  save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.tokens.prune(TOKEN_GRACE_MS);
    const persisted: Persisted = { tokens: this.tokens.entries() };
    writeFileSync(`${this.file}.tmp`, JSON.stringify(persisted), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }
}
