// The registry passwords the emulator has minted: each bound to a principal and a region, valid
// until it expires or is revoked.
import { randomBytes } from 'node:crypto';
import { principalMatches } from './policy.ts';

/** A token for private ECR registries, or for ECR Public (which no private registry accepts). */
export type TokenKind = 'ecr' | 'ecr-public';

export interface TokenRecord {
  principal: string;
  region: string;
  kind: TokenKind;
  /** Epoch milliseconds. */
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export type TokenState = 'valid' | 'expired' | 'revoked';

export interface TokenInfo extends TokenRecord {
  state: TokenState;
}

export interface TokenFilter {
  /** A principal ARN, or a pattern as policies write it (`arn:aws:iam::<acct>:root`, a role ARN). */
  principal?: string;
  /** One password. */
  token?: string;
}

/** Shaped like ECR's: base64 of a JSON envelope around an encrypted payload and data key. */
function newPassword(expiresAt: number): string {
  const envelope = {
    payload: randomBytes(1024).toString('base64'),
    datakey: randomBytes(184).toString('base64'),
    version: '2',
    type: 'DATA_KEY',
    expiration: Math.floor(expiresAt / 1000),
  };
  return Buffer.from(JSON.stringify(envelope)).toString('base64');
}

/** The expiry (epoch ms) written inside an emulator-minted password, or undefined if it is not one. */
export function passwordExpiry(password: string): number | undefined {
  try {
    const envelope = JSON.parse(Buffer.from(password, 'base64').toString('utf8')) as { type?: unknown; expiration?: unknown };
    return envelope.type === 'DATA_KEY' && typeof envelope.expiration === 'number' ? envelope.expiration * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class TokenStore {
  private readonly tokens: Map<string, TokenRecord>;
  private readonly now: () => number;

  constructor(entries: Iterable<[string, TokenRecord]> = [], now: () => number = Date.now) {
    this.tokens = new Map(entries);
    this.now = now;
  }

  mint(principal: string, region: string, kind: TokenKind, ttlSeconds: number): { password: string; record: TokenRecord } {
    const issuedAt = this.now();
    const record: TokenRecord = { principal, region, kind, issuedAt, expiresAt: issuedAt + ttlSeconds * 1000, revoked: false };
    const password = newPassword(record.expiresAt);
    this.tokens.set(password, record);
    return { password, record };
  }

  lookup(password: string): TokenInfo | undefined {
    const record = this.tokens.get(password);
    if (!record) return undefined;
    const state: TokenState = record.revoked ? 'revoked' : record.expiresAt <= this.now() ? 'expired' : 'valid';
    return { ...record, state };
  }

  /** Makes the matching tokens expire now; returns how many were still valid. */
  expire(filter: TokenFilter = {}): number {
    return this.update(filter, (record) => (record.expiresAt = this.now()));
  }

  revoke(filter: TokenFilter = {}): number {
    return this.update(filter, (record) => (record.revoked = true));
  }

  /** Forgets tokens that stopped working more than `graceMs` ago. */
  prune(graceMs: number): void {
    const cutoff = this.now() - graceMs;
    for (const [password, record] of this.tokens) if (record.expiresAt < cutoff) this.tokens.delete(password);
  }

  entries(): Array<[string, TokenRecord]> {
    return [...this.tokens];
  }

  private update(filter: TokenFilter, change: (record: TokenRecord) => void): number {
    let changed = 0;
    for (const [password, record] of this.tokens) {
      if (filter.token !== undefined && password !== filter.token) continue;
      if (filter.principal !== undefined && !principalMatches(filter.principal, record.principal)) continue;
      if (this.lookup(password)?.state !== 'valid') continue;
      change(record);
      changed++;
    }
    return changed;
  }
}
