// Leader election on a coordination.k8s.io/v1 Lease, in the manner of client-go's:
// acquire when the lease is free or expired, renew well within its duration, and give up
// (stop leading) if renewal fails for longer than the renew deadline.
import { setTimeout as delay } from 'node:timers/promises';
import type { V1Lease } from '@kubernetes/client-node';
import type { KubeApi } from '../kube/api-client.ts';
import { isStatus, KubeError } from '../kube/gateway.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Why the last round of lease calls failed: `reason` is short and bounded (an HTTP status, `network`, `other`). */
export interface LeaseError {
  reason: string;
  message: string;
}

export class LeaderElector {
  private readonly api: KubeApi;
  private readonly options: Required<LeaderElectionOptions>;
  private readonly log: Logger;
  private readonly metrics: Pick<Metrics, 'leaderElectionError'> | undefined;
  private leading = false;
  private error: LeaseError | undefined;
  /** Whether the current run of failures was logged at warn, so its end is logged too. */
  private warned = false;
  private lastRenewAt = 0;
  /** The holder's record as last seen, and when this replica saw it change (its own clock). */
  private observed = { record: '', at: 0 };

  constructor(api: KubeApi, options: LeaderElectionOptions, log: Logger, metrics?: Pick<Metrics, 'leaderElectionError'>) {
    this.api = api;
    this.metrics = metrics;
    this.options = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    this.log = log.child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * True only while the lease was renewed within the renew deadline. Checked before every write:
   * a leader that was paused (SIGSTOP, a long GC, a frozen VM) and wakes up after a standby took
   * over must not write even once before its renew loop notices.
   */
  holdsFreshLease(): boolean {
    return this.leading && Date.now() - this.lastRenewAt < this.options.renewDeadlineMs;
  }

  /** The failure of the last round of lease calls, until a round succeeds (whether or not it wins the lease). */
  lastError(): LeaseError | undefined {
    return this.error;
  }

  /** Counts every failure; warns on the first of a run and when the reason changes, so a standing 403 is said once. */
  private failed(error: unknown): void {
    const reason = error instanceof KubeError ? (error.status === 0 ? 'network' : String(error.status)) : 'other';
    const message = (error as Error).message;
    this.metrics?.leaderElectionError(reason);
    const changed = this.error?.reason !== reason;
    this.error = { reason, message };
    // Replicas racing for the lease conflict now and then (409): that alone is no news.
    if (changed && reason !== '409') {
      this.warned = true;
      this.log.warn({ reason, err: message }, 'lease call failed');
    } else {
      this.log.debug({ reason, err: message }, 'lease call failed');
    }
  }

  private succeeded(): void {
    if (this.warned) this.log.info({ reason: this.error?.reason }, 'lease calls succeed again');
    this.error = undefined;
    this.warned = false;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const now = microTime();
    const path = leasePath(namespace, name);
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.request<V1Lease>('get lease', 'GET', path);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: now,
    };
    if (!lease) {
      await this.api.request('create lease', 'POST', leasePath(namespace), {
        body: { apiVersion: LEASE_API, kind: 'Lease', metadata: { name, namespace }, spec: { ...spec, acquireTime: now, leaseTransitions: 0 } },
      });
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    // As client-go does: judge expiry by when this replica saw the record change, on its own
    // clock, so clock skew between pods cannot shorten the lease.
    const record = `${holder ?? ''}|${String(lease.spec?.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
    if (record !== this.observed.record) this.observed = { record, at: Date.now() };
    const held = holder && holder !== identity && this.observed.at + duration > Date.now();
    if (held) return false;
    const takeover = holder !== identity;
    await this.api.request('update lease', 'PUT', path, {
      body: {
        apiVersion: LEASE_API,
        kind: 'Lease',
        metadata: { ...lease.metadata, name, namespace },
        spec: {
          ...lease.spec,
          ...spec,
          ...(takeover ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
        },
      },
    });
    return true;
  }

  /**
   * Resolves once this replica leads. Keeps renewing afterwards; calls `onLost` if leadership
   * cannot be kept. Returns early (false) when the signal fires first.
   */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    const sleep = (ms: number) => delay(ms, undefined, { signal }).catch(() => undefined);
    while (!signal.aborted) {
      try {
        const attempt = Date.now();
        const acquired = await this.tryAcquireOrRenew();
        this.succeeded();
        if (acquired) {
          this.lastRenewAt = attempt;
          break;
        }
      } catch (error) {
        this.failed(error);
      }
      await sleep(retryPeriodMs);
    }
    if (signal.aborted) return false;
    this.leading = true;
    this.log.info('became leader');
    void (async () => {
      while (!signal.aborted) {
        await sleep(retryPeriodMs);
        if (signal.aborted) break;
        // The guard counts from before the request: a slow round trip must not stretch it.
        const attempt = Date.now();
        let renewed: boolean | undefined;
        try {
          renewed = await this.tryAcquireOrRenew();
          this.succeeded();
        } catch (error) {
          this.failed(error);
        }
        if (renewed) this.lastRenewAt = attempt;
        else if (Date.now() - this.lastRenewAt > renewDeadlineMs) {
          this.leading = false;
          this.log.error({ err: renewed === false ? 'lease taken by another replica' : this.error?.message }, 'lost leadership');
          onLost();
          return;
        }
      }
    })();
    return true;
  }

  /** Frees the lease on a clean shutdown, so a standby takes over at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const { namespace, name, identity } = this.options;
    try {
      const path = leasePath(namespace, name);
      const lease = await this.api.request<V1Lease>('get lease', 'GET', path);
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.request('release lease', 'PUT', path, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime() } },
      });
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not release lease');
    }
  }
}

const LEASE_API = 'coordination.k8s.io/v1';
const leasePath = (namespace: string, name?: string) => `/apis/${LEASE_API}/namespaces/${namespace}/leases${name ? `/${name}` : ''}`;

/** A MicroTime as the API server parses it (RFC 3339 with exactly six fractional digits). */
export function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
