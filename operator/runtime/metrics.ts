// Prometheus metrics on a private registry, exposed as domain methods.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KIND, LOCAL_KIND } from '../api/types.ts';
import { countSyncStates, SYNC_STATES, type SyncObject } from '../core/sync-state.ts';

type Labels = Record<string, string>;
/** The sync objects of each kind, as the caches hold them now. */
export type SyncLister = () => Record<typeof KIND | typeof LOCAL_KIND, Iterable<SyncObject>>;
interface Removable {
  remove(labels: Labels): void;
}

export interface Metrics {
  tokenFetched(sync: string, region: string, expiresAt: Date, fetchedAt: Date): void;
  refreshCompleted(sync: string, result: 'success' | 'error', seconds: number): void;
  /** One token request of a sync (one identity in one region), by result. */
  tokenRequested(sync: string, result: 'success' | 'error'): void;
  /** A sync's token request answered by another sync's fetch for the same identity, service and region: no AWS call. */
  tokenShared(): void;
  /** Failed fetch attempts in a row (status.backoff.failures); 0 once fetches succeed. */
  fetchFailures(sync: string, failures: number): void;
  awsCall(api: string, result: 'success' | 'error'): void;
  secretsObserved(sync: string, managed: number, failed: number): void;
  secretWritten(verb: 'create' | 'update' | 'delete', result: 'success' | 'error'): void;
  reconciled(sync: string, result: 'success' | 'error', seconds: number): void;
  syncForgotten(sync: string): void;
  /** The regions a sync fetches tokens for now: series of its other regions are removed. */
  regionsInUse(sync: string, regions: readonly string[]): void;
  leader(isLeader: boolean): void;
  /** Where ecrsync_syncs finds the syncs it counts by state at each scrape; it has no series until then. */
  syncsFrom(list: SyncLister): void;
  /** A lease call failed; `reason` is bounded (an HTTP status, `network`, `other`). */
  leaderElectionError(reason: string): void;
}

export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private listSyncs: SyncLister | undefined;
  private readonly fetchedAt = new Map<string, { sync: string; region: string; at: number }>();
  /**
   * Every label set each per-sync metric was given, by sync: prom-client cannot list a metric's
   * series without an async collect, and removing them all is what keeps a deleted sync from
   * leaving series behind (a climbing token age would fire a false alert).
   */
  private readonly series = new Map<string, Map<Removable, Map<string, Labels>>>();
  private readonly tokenExpiry: Gauge;
  private readonly tokenAge: Gauge;
  private readonly refreshes: Counter;
  private readonly refreshDuration: Histogram;
  private readonly tokenRequests: Counter;
  private readonly tokenShares: Counter;
  private readonly fetchFailuresInARow: Gauge;
  private readonly awsCalls: Counter;
  private readonly secretsManaged: Gauge;
  private readonly secretsFailed: Gauge;
  private readonly secretWrites: Counter;
  private readonly reconciles: Counter;
  private readonly reconcileDuration: Histogram;
  private readonly isLeader: Gauge;
  private readonly leaderElectionErrors: Counter;
  private readonly syncs: Gauge;

  constructor(options: { now?: () => number; defaultMetrics?: boolean } = {}) {
    const now = options.now ?? Date.now;
    const registers = [this.registry];
    const fetchedAt = this.fetchedAt;
    this.tokenExpiry = new Gauge({
      name: 'ecrsync_token_expiry_timestamp_seconds',
      help: 'When the current ECR token expires, as ECR reported it (Unix seconds).',
      labelNames: ['sync', 'region'],
      registers,
    });
    this.tokenAge = new Gauge({
      name: 'ecrsync_token_age_seconds',
      help: 'Seconds since the current ECR token was fetched.',
      labelNames: ['sync', 'region'],
      registers,
      collect() {
        this.reset();
        for (const { sync, region, at } of fetchedAt.values()) this.set({ sync, region }, (now() - at) / 1000);
      },
    });
    this.refreshes = new Counter({
      name: 'ecrsync_refresh_total',
      help: 'Token refreshes by result.',
      labelNames: ['sync', 'result'],
      registers,
    });
    this.refreshDuration = new Histogram({
      name: 'ecrsync_refresh_duration_seconds',
      help: 'Time to fetch a sync\'s tokens and write its secrets.',
      labelNames: ['sync'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.awsCalls = new Counter({
      name: 'ecrsync_aws_api_calls_total',
      help: 'Calls to AWS APIs by API and result.',
      labelNames: ['api', 'result'],
      registers,
    });
    this.secretsManaged = new Gauge({
      name: 'ecrsync_secrets_managed',
      help: 'Secrets that hold the current token, per sync.',
      labelNames: ['sync'],
      registers,
    });
    this.secretsFailed = new Gauge({
      name: 'ecrsync_secrets_failed',
      help: 'Target namespaces whose secret could not be written, per sync.',
      labelNames: ['sync'],
      registers,
    });
    this.secretWrites = new Counter({
      name: 'ecrsync_secret_writes_total',
      help: 'Secret writes to the Kubernetes API by verb and result.',
      labelNames: ['verb', 'result'],
      registers,
    });
    this.reconciles = new Counter({
      name: 'ecrsync_reconcile_total',
      help: 'Reconciles by sync and result.',
      labelNames: ['sync', 'result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'ecrsync_reconcile_duration_seconds',
      help: 'Reconcile duration.',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers,
    });
    this.isLeader = new Gauge({
      name: 'ecrsync_leader',
      help: '1 when this replica holds the leader lease (or runs without leader election).',
      registers,
    });
    this.tokenRequests = new Counter({
      name: 'ecrsync_token_requests_total',
      help: 'Token requests (one per identity and region fetched) by sync and result, shared ones included; rate over 1h times 3600 is the requests a failing sync makes per hour.',
      labelNames: ['sync', 'result'],
      registers,
    });
    this.tokenShares = new Counter({
      name: 'ecrsync_token_shared_total',
      help: 'Token requests answered with a token another sync fetched for the same identity, service and region moments before (or was fetching): no AWS call.',
      registers,
    });
    this.fetchFailuresInARow = new Gauge({
      name: 'ecrsync_token_fetch_failures',
      help: 'Failed token fetch attempts in a row per sync (status.backoff.failures); 0 when fetches succeed.',
      labelNames: ['sync'],
      registers,
    });
    this.leaderElectionErrors = new Counter({
      name: 'ecrsync_leader_election_errors_total',
      help: 'Failed lease calls (get, create, update) by reason: the HTTP status, or network.',
      labelNames: ['reason'],
      registers,
    });
    // Counted from the caches at each scrape, on every replica: a leader that never reconciles still tells
    // whether there is anything to reconcile, and a deleted sync leaves no count behind.
    const listSyncs = () => this.listSyncs;
    this.syncs = new Gauge({
      name: 'ecrsync_syncs',
      help: 'Syncs in the informer caches by kind and state: suspended (spec.suspend), invalid (Ready reason InvalidSpec for the current spec; not requeued until it changes) or active.',
      labelNames: ['kind', 'state'],
      registers,
      collect() {
        this.reset();
        const list = listSyncs();
        if (!list) return;
        for (const [kind, syncs] of Object.entries(list())) {
          const counts = countSyncStates(syncs);
          for (const state of SYNC_STATES) this.set({ kind, state }, counts[state]);
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'ecrsync_' });
  }

  tokenFetched(sync: string, region: string, expiresAt: Date, fetchedAt: Date): void {
    if (!Number.isNaN(expiresAt.getTime())) this.tokenExpiry.set(this.perSync(this.tokenExpiry, { sync, region }), expiresAt.getTime() / 1000);
    this.fetchedAt.set(`${sync}\0${region}`, { sync, region, at: fetchedAt.getTime() });
  }

  refreshCompleted(sync: string, result: 'success' | 'error', seconds: number): void {
    this.refreshes.inc(this.perSync(this.refreshes, { sync, result }));
    this.refreshDuration.observe(this.perSync(this.refreshDuration, { sync }), seconds);
  }

  tokenRequested(sync: string, result: 'success' | 'error'): void {
    this.tokenRequests.inc(this.perSync(this.tokenRequests, { sync, result }));
  }

  tokenShared(): void {
    this.tokenShares.inc();
  }

  fetchFailures(sync: string, failures: number): void {
    this.fetchFailuresInARow.set(this.perSync(this.fetchFailuresInARow, { sync }), failures);
  }

  awsCall(api: string, result: 'success' | 'error'): void {
    this.awsCalls.inc({ api, result });
  }

  secretsObserved(sync: string, managed: number, failed: number): void {
    this.secretsManaged.set(this.perSync(this.secretsManaged, { sync }), managed);
    this.secretsFailed.set(this.perSync(this.secretsFailed, { sync }), failed);
  }

  secretWritten(verb: 'create' | 'update' | 'delete', result: 'success' | 'error'): void {
    this.secretWrites.inc({ verb, result });
  }

  reconciled(sync: string, result: 'success' | 'error', seconds: number): void {
    this.reconciles.inc(this.perSync(this.reconciles, { sync, result }));
    this.reconcileDuration.observe(seconds);
  }

  syncForgotten(sync: string): void {
    for (const [key, entry] of this.fetchedAt) if (entry.sync === sync) this.fetchedAt.delete(key);
    for (const [metric, sets] of this.series.get(sync) ?? []) for (const labels of sets.values()) metric.remove(labels);
    this.series.delete(sync);
  }

  regionsInUse(sync: string, regions: readonly string[]): void {
    const keep = new Set(regions);
    for (const [key, entry] of this.fetchedAt) if (entry.sync === sync && !keep.has(entry.region)) this.fetchedAt.delete(key);
    for (const [metric, sets] of this.series.get(sync) ?? []) {
      for (const [key, labels] of sets) {
        if (labels.region === undefined || keep.has(labels.region)) continue;
        metric.remove(labels);
        sets.delete(key);
      }
    }
  }

  /** Notes a per-sync label set, so `syncForgotten` can remove its series. */
  private perSync<L extends Labels & { sync: string }>(metric: Removable, labels: L): L {
    let metrics = this.series.get(labels.sync);
    if (!metrics) this.series.set(labels.sync, (metrics = new Map()));
    let sets = metrics.get(metric);
    if (!sets) metrics.set(metric, (sets = new Map()));
    sets.set(JSON.stringify(labels), labels);
    return labels;
  }

  leader(isLeader: boolean): void {
    this.isLeader.set(isLeader ? 1 : 0);
  }

  syncsFrom(list: SyncLister): void {
    this.listSyncs = list;
  }

  leaderElectionError(reason: string): void {
    this.leaderElectionErrors.inc({ reason });
  }
}
