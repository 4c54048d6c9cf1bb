// The memory requests and limits the project ships (the Deployment in manifests/, the Helm chart's
// values when there is a chart), beside a measured peak: does each limit leave the headroom asked?
// The peak held against them is the larger of the P5 peak (the initial sync) and the highest RSS
// of the operator's whole life up to the end of P3 (VmHWM, and the samples: where it fell).
import { TARGETS } from './config.ts';
import { chartMemory, manifestMemory, type MemorySetting, quantityBytes } from './image-runtime.ts';
import type { OperatorProcess } from './operator-process.ts';
import { fmtMiB, round } from './report.ts';
import type { Run } from './run.ts';

/** Before the operator stops: its lifetime peak, then the limits held against it. */
export async function reportOperatorMemory(run: Run, op: OperatorProcess): Promise<void> {
  const hwm = op.memory()?.hwm;
  const sampler = run.operatorSampler;
  await sampler?.stop();
  const top = sampler?.samples.reduce((a, b) => (b.rss > a.rss ? b : a), { at: 0, rss: 0 });
  run.results.figures.operatorMemory = {
    vmHwmMiB: round((hwm ?? Number.NaN) / 1048576),
    sampledPeakMiB: top?.rss ? round(top.rss / 1048576) : null,
    sampledPeakInPhase: top?.rss ? (run.phaseAt(top.at) ?? null) : null,
    samples: sampler?.samples.length ?? 0,
    measuredAs: 'the first operator from its start to the end of P3 (startup, P2, P1, P4, the idle window)',
  };
  const peak = Math.max(run.p5PeakBytes ?? 0, hwm ?? 0, top?.rss ?? 0);
  if (peak > 0) reportMemoryLimits(run, peak);
}

export function reportMemoryLimits(run: Run, peakBytes: number): void {
  let settings: MemorySetting[];
  try {
    const chart = chartMemory();
    settings = [...manifestMemory(), ...(chart ? [chart] : [])];
  } catch (error) {
    run.figureError('limits', 'memory limits in manifests/ and the chart', `≥ ${TARGETS.limitHeadroom * 100} % over the peak`, error);
    return;
  }
  const need = peakBytes * (1 + TARGETS.limitHeadroom);
  const rows = settings.map((s) => {
    const limit = quantityBytes(s.limit);
    return { ...s, limitBytes: limit ?? null, requestBytes: quantityBytes(s.request) ?? null, headroom: limit !== undefined ? round(limit / peakBytes - 1, 3) : null, enough: limit !== undefined && limit >= need };
  });
  run.results.figures.memoryLimits = { peakBytes, peakMiB: round(peakBytes / 1048576), neededLimitMiB: round(need / 1048576), settings: rows };
  for (const r of rows) {
    run.results.summary.push({
      id: 'limit',
      figure: `memory ${r.source}: request ${r.request ?? 'none'}, limit ${r.limit ?? 'none'}`,
      measured: r.headroom === null ? 'no limit' : `${Math.round(r.headroom * 100)} % over the peak (${fmtMiB(peakBytes)}, P5 peak or lifetime)`,
      target: `limit ≥ ${fmtMiB(need)} (peak + ${TARGETS.limitHeadroom * 100} %)`,
      result: r.enough ? 'pass' : 'miss',
    });
  }
}
