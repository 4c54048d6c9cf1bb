// What the benchmark writes: its progress on stderr, the figures' formats, the results' shape,
// and at the end bench-results/bench-<timestamp>.json, latest.json and the table on stdout.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './config.ts';

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const fmtMs = (ms: number | undefined | null) => (ms === undefined || ms === null || !Number.isFinite(ms) ? 'n/a' : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`);
export const fmtMiB = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
export const fmtDuration = (ms: number) => (ms < 60_000 ? fmtMs(ms) : ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`);
export const round = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits);

export type Result = 'pass' | 'miss' | 'reported' | 'error';

export interface SummaryRow {
  id: string;
  figure: string;
  measured: string;
  target: string;
  result: Result;
}

export interface Results {
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number | null;
  config: Record<string, unknown>;
  environment: Record<string, unknown>;
  phases: Record<string, number>;
  figures: Record<string, unknown>;
  summary: SummaryRow[];
  notes: string[];
  errors: string[];
}

/** Writes the results as bench-<stamp>.json and latest.json, then prints the table. */
export function writeResults(results: Results, stamp: string): void {
  const file = join(RESULTS_DIR, `bench-${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  printReport(results, file);
}

function printReport(results: Results, file: string): void {
  const out: string[] = [];
  const c = results.config;
  out.push('');
  out.push(`ecr-credential-sync benchmark: N=${c.namespaces} namespaces, write concurrency ${c.writeConcurrency}, idle window ${c.idleSeconds} s`);
  out.push(
    `Kubernetes ${results.environment.kubernetes ?? '?'}, Node ${results.environment.node}, ${results.environment.cpus} CPUs, load average ${(results.environment.loadAverageAtStart as number[]).join(' ')} at start; run took ${fmtDuration((results.durationSeconds ?? 0) * 1000)}`,
  );
  out.push('');

  const f = results.figures as Record<string, Record<string, unknown> | undefined>;
  const details: string[] = [];
  if (f.floor) {
    const cn = f.floor.clientNode as { ms: number; perNamespaceMs: number; requestP50Ms: number } | undefined;
    details.push(`floor       bare loop over one reused connection, ${c.namespaces} secrets (${f.floor.payloadBytes} B dockerconfigjson), ${c.writeConcurrency} in flight: ${fmtMs(f.floor.ms as number)} (${f.floor.perNamespaceMs} ms/namespace, request p50 ${fmtMs(f.floor.requestP50Ms as number)})`);
    if (cn) details.push(`            reference: client-node as is (a TLS connection per request) ${fmtMs(cn.ms)} (${cn.perNamespaceMs} ms/namespace, request p50 ${fmtMs(cn.requestP50Ms)})${f.p1?.ms ? `; P1 is ${((f.p1.ms as number) / cn.ms).toFixed(2)}× it` : ''}`);
  }
  if (f.p1) {
    details.push(`P1          operator ${f.p1.perNamespaceMs ?? 'n/a'} ms/namespace; first secret after ${fmtMs(f.p1.firstSecretMs as number)}; status says synced after ${fmtMs(f.p1.statusReportsSyncedMs as number)} (polled)`);
    details.push(`            operator API writes ${f.p1.operatorApiWritesAttributed} (audit log: ${f.p1.auditOperatorWrites ?? 'n/a'}), reads ${f.p1.operatorApiReadsAttributed}; secret write requests ${JSON.stringify(f.p1.secretWriteRequestsByVerbAndCode)}; reconciles ${JSON.stringify(f.p1.reconciles)}; GetAuthorizationToken ${f.p1.getAuthorizationTokenCalls}`);
  }
  if (f.shellLoop) {
    const s = f.shellLoop;
    details.push(`shell loop  ${s.namespaces} namespaces in ${fmtMs(s.ms as number)}: ${fmtMs(s.perNamespaceMs as number)}/namespace → ${fmtDuration(s.extrapolatedToNMs as number)} for ${c.namespaces} (operator: ${f.p1?.perNamespaceMs ?? 'n/a'} ms/namespace, ${fmtMs(f.p1?.ms as number)} in all)`);
    details.push(`            token: ${s.mode}; ${s.validSecrets}/${s.namespaces} valid secrets`);
  }
  if (f.p2) details.push(`P2          AWS calls over the initial sync: ${JSON.stringify(f.p2.awsCalls)}`);
  if (f.p3) {
    details.push(`P3          all API server writes in the window: ${f.p3.apiserverWritesAll} ${JSON.stringify(f.p3.apiserverWriteBreakdown)}`);
    details.push(`            on the operator's resources ${f.p3.apiserverWritesOnOperatorResources}; operator reads ${f.p3.operatorApiReads}; reconciles ${JSON.stringify(f.p3.reconcilesDelta)}`);
    if (f.p3.auditWritesByUser) details.push(`            audit log, writes by user: ${JSON.stringify(f.p3.auditWritesByUser)}`);
  }
  if (f.p4) details.push(`P4          min ${fmtMs(f.p4.minMs as number)}, mean ${fmtMs(f.p4.meanMs as number)}; namespace create request p50 ${fmtMs(f.p4.namespaceCreateRequestP50Ms as number)}; ${f.p4.pauseBetweenMs} ms between namespaces`);
  if (f.p5Peak) details.push(`P5 peak     ${f.p5Peak.sampledPeakMiB} MiB sampled (${f.p5Peak.samples} samples over ${fmtMs(f.p5Peak.windowMs as number)}, largest gap ${fmtMs(f.p5Peak.maxGapMs as number)}); VmHWM ${f.p5Peak.vmHwmMiB} MiB`);
  if (f.operatorMemory) details.push(`memory      the first operator's lifetime peak: VmHWM ${f.operatorMemory.vmHwmMiB} MiB; sampled ${f.operatorMemory.sampledPeakMiB} MiB, in "${f.operatorMemory.sampledPeakInPhase}"`);
  if (f.memoryLimits) {
    for (const m of f.memoryLimits.settings as Array<{ source: string; request?: string; limit?: string; headroom: number | null }>) {
      details.push(`limits      ${m.source}: request ${m.request ?? 'none'}, limit ${m.limit ?? 'none'}${m.headroom !== null ? ` = peak (${f.memoryLimits.peakMiB} MiB) + ${Math.round(m.headroom * 100)} %` : ''}`);
    }
  }
  if (f.p5) details.push(`P5          RSS after convergence ${f.p5.rssAfterConvergenceMiB} MiB, max in window ${f.p5.rssMaxInWindowMiB} MiB; heap used ${f.p5.heapUsedMiB} of ${f.p5.heapTotalMiB} MiB, external ${f.p5.externalMiB} MiB`);
  if (f.startup) details.push(`startup     first log line ${fmtMs(f.startup.toFirstLogLineMs as number)}; informer lists ${fmtMs(f.startup.informerListsMs as number)}; "reconciling" ${fmtMs(f.startup.toReconcilingMs as number)}`);
  if (f.p5b) details.push(`P5b         ${f.p5b.measuredAfter}: heap used ${f.p5b.heapUsedMiB} of ${f.p5b.heapTotalMiB} MiB; restart ${JSON.stringify(f.p5b.restart)}`);
  if (f.scale) {
    for (const p of (f.scale.points ?? []) as Array<Record<string, number | null>>) {
      details.push(`scale N=${String(p.n).padEnd(5)} operator ${fmtMs(p.operatorMs)} (${p.operatorPerNamespaceMs} ms/ns) vs floor ${fmtMs(p.floorMs)} (${p.floorPerNamespaceMs} ms/ns) = ${p.ratio}×; peak RSS ${p.peakRssMiB} MiB (VmHWM ${p.vmHwmMiB} MiB, ${p.rssSamples} samples); status synced ${fmtMs(p.statusSyncedMs)}; clean-up ${fmtMs(p.cleanupMs)}`);
    }
  }
  if (f.manySyncs) {
    const m = f.manySyncs;
    details.push(`many syncs  ${m.syncs} × ${m.namespacesPerSync}: converged in ${fmtMs(m.convergeMs as number)}, statuses ${fmtMs(m.allStatusesSyncedMs as number)}, peak RSS ${m.peakRssMiB} MiB`);
    details.push(`            ${m.movedNamespace} moved ${m.from} → ${m.to}: new secret ${fmtMs(m.secretAppearedMs as number)}, old gone ${fmtMs(m.secretGoneMs as number)}; reconciles in ${fmtMs(m.windowMs as number)}: ${JSON.stringify(m.reconcilesBySync)}`);
  }
  if (f.operatorLog) details.push(`operator    ${f.operatorLog.warnings} warnings, ${f.operatorLog.reconcileFailures} failed reconciles, ${f.operatorLog.watchRestarts} watch restarts; log: ${f.operatorLog.file}`);
  out.push(...details);
  if (results.notes.length) {
    out.push('');
    for (const n of results.notes) out.push(`note: ${n}`);
  }
  if (results.errors.length) {
    out.push('');
    for (const e of results.errors) out.push(`error: ${e}`);
  }
  out.push('');
  out.push(`phases (s): ${Object.entries(results.phases).map(([k, v]) => `${k.split(':')[0]} ${v}`).join('; ')}`);
  out.push(`results: ${file} (and ${join(RESULTS_DIR, 'latest.json')})${f.plot ? `; plot: ${f.plot.png} (and latest.png)` : ''}`);
  out.push('');
  const header = ['', 'figure', 'measured', 'target', 'result'];
  const rows = results.summary.map((r) => [r.id, r.figure, r.measured, r.target, r.result]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  out.push(line(header));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) out.push(line(r));
  out.push(`pass ${results.summary.filter((r) => r.result === 'pass').length}, miss ${results.summary.filter((r) => r.result === 'miss').length}, error ${results.summary.filter((r) => r.result === 'error').length}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
