// The memory requests and limits the project ships (the Deployment in manifests/, the Helm chart's
// values when there is a chart), beside a measured peak: does each limit leave the headroom asked?
import { TARGETS } from './config.ts';
import { chartMemory, manifestMemory, type MemorySetting, quantityBytes } from './image-runtime.ts';
import { fmtMiB, round } from './report.ts';
import type { Run } from './run.ts';

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
      measured: r.headroom === null ? 'no limit' : `${Math.round(r.headroom * 100)} % over the peak (${fmtMiB(peakBytes)})`,
      target: `limit ≥ ${fmtMiB(need)} (peak + ${TARGETS.limitHeadroom * 100} %)`,
      result: r.enough ? 'pass' : 'miss',
    });
  }
}
