// The soak's figures: failed pulls (and those a fault was meant to cause), the shortest remaining
// token lifetime seen, AWS calls and secret writes per rotation (both counted by what the emulator
// and the API server saw, not by the operator's own word), and what a restart or failover cost.
import { parseDuration } from '../../operator/core/duration.ts';
import { percentile } from '../bench/support.ts';
import type { SoakRun } from './run.ts';

/** After a kill, the next leader waits out the dead one's lease before it acts. */
const LEASE_MS = 15_000;
/** Token calls within this long of a rotation's first call belong to it. */
const ROTATION_SPAN_MS = 10_000;
/** A refresh is planned from the moment its reconcile began, a little before its calls go out. */
const FETCH_SLACK_S = 1;
/** How long a kubelet pull may take, so a pull that began before a policy was removed may still meet the removal. */
const POD_PULL_MS = 60_000;

export interface TakeoverFigures {
  kind: string;
  /** Seconds from the kill to the refresh the dead leader had planned. */
  windowS: number;
  recovered: boolean;
  tokenCalls: number;
  secretWrites: number;
}

export interface SoakReport {
  durationS: number;
  namespaces: number;
  registries: number;
  tokenGroups: number;
  ttlS: number;
  refreshBeforeS: number;
  checks: { total: number; ok: number; failed: number; expectedFailures: number; failedSamples: string[] };
  minRemainingS: { overall: number | null; outsideFaults: number | null; target: number };
  rotations: number;
  /** The shortest time between two rotations, and the least the schedule allows (TTL − refreshBefore − jitter): an extra fetch shows as a shorter gap. */
  rotationGapS: { shortest: number | null; expectedAtLeast: number };
  awsCalls: { success: number; refused: number; perRotation: number | null };
  secretWrites: { total: number; perRotation: number | null };
  takeovers: TakeoverFigures[];
  podPulls: { total: number; pulled: number; failed: number; expectedFailures: number; p50Ms: number | null; maxMs: number | null; failedSamples: string[] };
  faults: Array<{ name: string; atS: number; forS: number; registry?: string }>;
}

export function summarize(run: SoakRun): SoakReport {
  const { config } = run;
  const checkMs = config.checkEveryS * 1000;
  const refreshBeforeS = (parseDuration(config.refreshBefore) ?? 0) / 1000;
  const maxBackoffMs = parseDuration(config.maxBackoff) ?? 0;
  const policyWindows = run.faults.filter((f) => f.name === 'policy-removed');
  // A 403 is expected from a registry whose policy is gone, for checks sent within a check interval of
  // the window (a round is stamped when it starts) and for pulls begun up to a pull's time before it.
  const expected = (at: number, registry: string, status: number | 'pod', before = checkMs) =>
    (status === 403 || status === 'pod') && policyWindows.some((w) => w.registry === registry && at >= w.start - before && at <= w.end + checkMs);
  const disturbed = (at: number) =>
    run.faults.some((f) => {
      const tail = f.name === 'throttle' ? maxBackoffMs + checkMs : f.name === 'restart' || f.name === 'failover' ? LEASE_MS + checkMs : 0;
      return at >= f.start && at <= f.end + tail;
    });
  const refused = run.checks.filter((c) => c.status !== 200);
  const failed = refused.filter((c) => !expected(c.at, c.registry, c.status));
  const remaining = run.checks.filter((c) => c.remainingS !== undefined);
  const min = (values: number[]) => (values.length ? Math.round(Math.min(...values) * 10) / 10 : null);
  const successes = run.calls.filter((c) => c.result === 'success').sort((a, b) => a.at - b.at);
  const starts: number[] = [];
  for (const c of successes) if (!starts.length || c.at - starts[starts.length - 1]! > ROTATION_SPAN_MS) starts.push(c.at);
  const rotations = starts.length;
  const gaps = starts.slice(1).map((at, i) => (at - starts[i]!) / 1000);
  const jitterS = Math.min(300, refreshBeforeS / 10);
  const per = (n: number) => (rotations ? Math.round((n / rotations) * 100) / 100 : null);
  const writeTimes = run.writes.map((w) => Date.parse(w.requestReceivedTimestamp));
  const pulledPods = run.pods.filter((p) => p.pulled);
  const refusedPods = run.pods.filter((p) => !p.pulled);
  const failedPods = refusedPods.filter((p) => !(/\b403\b/.test(p.message ?? '') && expected(p.at, p.registry, 'pod', POD_PULL_MS)));
  return {
    durationS: Math.round((run.endedAt - run.startedAt) / 1000),
    namespaces: config.namespaces,
    registries: new Set(run.checks.map((c) => c.registry)).size,
    tokenGroups: run.groups,
    ttlS: config.ttlS,
    refreshBeforeS,
    checks: {
      total: run.checks.length,
      ok: run.checks.length - refused.length,
      failed: failed.length,
      expectedFailures: refused.length - failed.length,
      failedSamples: failed.slice(0, 5).map((c) => `${new Date(c.at).toISOString()} ${c.namespace} ${c.registry} ${c.status}${c.missing ? ` (${c.missing} missing)` : ''}`),
    },
    minRemainingS: {
      overall: min(remaining.map((c) => c.remainingS!)),
      outsideFaults: min(remaining.filter((c) => !disturbed(c.at)).map((c) => c.remainingS!)),
      target: refreshBeforeS - config.checkEveryS,
    },
    rotations,
    rotationGapS: { shortest: gaps.length ? Math.round(Math.min(...gaps) * 10) / 10 : null, expectedAtLeast: Math.round((config.ttlS - refreshBeforeS - jitterS - FETCH_SLACK_S) * 10) / 10 },
    awsCalls: { success: successes.length, refused: run.calls.length - successes.length, perRotation: per(successes.length) },
    secretWrites: { total: run.writes.length, perRotation: per(run.writes.length) },
    takeovers: run.takeovers.map((t) => ({
      kind: t.kind,
      windowS: Math.round((t.dueAt - t.killedAt) / 1000),
      recovered: t.recovered,
      tokenCalls: successes.filter((c) => c.at >= t.killedAt && c.at < t.dueAt).length,
      secretWrites: writeTimes.filter((at) => at >= t.killedAt && at < t.dueAt).length,
    })),
    podPulls: {
      total: run.pods.length,
      pulled: pulledPods.length,
      failed: failedPods.length,
      expectedFailures: refusedPods.length - failedPods.length,
      p50Ms: percentile(pulledPods.map((p) => p.ms), 50) ?? null,
      maxMs: pulledPods.length ? Math.max(...pulledPods.map((p) => p.ms)) : null,
      failedSamples: failedPods.slice(0, 5).map((p) => `${new Date(p.at).toISOString()} ${p.namespace} ${p.registry}: ${p.message ?? ''}`),
    },
    faults: run.faults.map((f) => ({ name: f.name, atS: Math.round((f.start - run.startedAt) / 1000), forS: Math.round((f.end - f.start) / 1000), ...(f.registry ? { registry: f.registry } : {}) })),
  };
}

export function formatReport(r: SoakReport): string {
  const rows: Array<[string, string, string]> = [
    ['registry checks', `${r.checks.ok}/${r.checks.total} accepted, ${r.checks.failed} failed`, 'failed = 0'],
    ['refused by design (policy removed)', String(r.checks.expectedFailures), 'counted apart'],
    ['shortest remaining token lifetime', `${r.minRemainingS.outsideFaults ?? 'n/a'} s outside faults, ${r.minRemainingS.overall ?? 'n/a'} s overall`, `≥ ${r.minRemainingS.target} s`],
    ['rotations', `${r.rotations}, shortest gap ${r.rotationGapS.shortest ?? 'n/a'} s`, `gap ≥ ${r.rotationGapS.expectedAtLeast} s (TTL ${r.ttlS} s − refreshBefore ${r.refreshBeforeS} s − jitter)`],
    ['GetAuthorizationToken per rotation', `${r.awsCalls.perRotation ?? 'n/a'} (${r.awsCalls.success} ok, ${r.awsCalls.refused} refused)`, `= ${r.tokenGroups} (chain × region)`],
    ['secret writes per rotation (audit log)', `${r.secretWrites.perRotation ?? 'n/a'} (${r.secretWrites.total} in all)`, `= ${r.namespaces}`],
    ...r.takeovers.map((t): [string, string, string] => [
      `${t.kind}: until the planned refresh (${t.windowS} s)`,
      `${t.tokenCalls} token calls, ${t.secretWrites} secret writes; tokens learned from the secrets: ${t.recovered ? 'yes' : 'no'}`,
      '0 and 0',
    ]),
    ['kubelet pulls', `${r.podPulls.pulled}/${r.podPulls.total} pulled, ${r.podPulls.failed} failed, ${r.podPulls.expectedFailures} refused by design; p50 ${r.podPulls.p50Ms ?? 'n/a'} ms, max ${r.podPulls.maxMs ?? 'n/a'} ms`, 'failed = 0'],
  ];
  const width = Math.max(...rows.map(([a]) => a.length));
  const lines = rows.map(([a, b, c]) => `  ${a.padEnd(width)}  ${b}   [target ${c}]`);
  const faults = r.faults.map((f) => `  t+${f.atS}s ${f.name}${f.forS ? ` for ${f.forS}s` : ''}${f.registry ? ` (${f.registry})` : ''}`);
  const samples = [...r.checks.failedSamples, ...r.podPulls.failedSamples].map((s) => `  ! ${s}`);
  return [`soak: ${r.durationS}s, ${r.namespaces} namespaces × ${r.registries} registries`, ...lines, 'faults:', ...faults, ...samples].join('\n');
}
