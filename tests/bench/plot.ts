// The plot of P1 at scale: convergence time (operator and floor) and peak RSS against N, two panels,
// drawn by gnuplot (Debian: apt-get install gnuplot-nox) into bench-results/bench-<ts>.png and
// latest.png. Without gnuplot the plot is skipped with a note; no other figure depends on it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR, TARGETS } from './config.ts';
import type { ScalePoint } from './phases/scale.ts';
import { log } from './report.ts';
import type { Run } from './run.ts';

const INSTALL = 'apt-get update && apt-get install -y gnuplot-nox';

export function writePlot(run: Run, points: readonly ScalePoint[]): void {
  const usable = points.filter((p) => p.operatorMs !== null);
  if (usable.length === 0) return;
  const probe = spawnSync('gnuplot', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const note = `no plot: gnuplot is not installed (${INSTALL})`;
    log(note);
    run.results.notes.push(note);
    return;
  }
  const data = join(RESULTS_DIR, `scale-${run.stamp}.dat`);
  const png = join(RESULTS_DIR, `bench-${run.stamp}.png`);
  const rows = usable.map((p) => [p.n, (p.operatorMs ?? Number.NaN) / 1000, (p.floorMs ?? Number.NaN) / 1000, p.peakRssMiB ?? Number.NaN, p.vmHwmMiB ?? Number.NaN].join(' '));
  writeFileSync(data, `# N operator_s floor_s peak_rss_mib vmhwm_mib\n${rows.join('\n').replace(/NaN/g, '?')}\n`);
  const when = run.startedAt.toISOString().slice(0, 16).replace('T', ' ');
  const script = `
set terminal pngcairo size 900,900 font 'sans,11'
set output '${png}'
set datafile missing '?'
set key top left
set grid
set xlabel 'target namespaces (N)'
set xrange [0:*]
set format x '%.0f'
set multiplot layout 2,1 title 'ecr-credential-sync, P1 at scale (${when} UTC)'
set ylabel 'time to converge (s)'
set yrange [0:*]
plot '${data}' using 1:2 with linespoints lw 2 pt 7 title 'operator (CR applied → N-th secret)', \\
     '' using 1:3 with linespoints lw 2 pt 5 title 'floor (bare loop, one reused connection)', \\
     '' using 1:($3*${TARGETS.p1RatioMax}) with lines dt 2 lc rgb 'gray40' title 'target: ${TARGETS.p1RatioMax}× floor'
set ylabel 'operator RSS (MiB)'
set yrange [0:*]
plot '${data}' using 1:4 with linespoints lw 2 pt 7 title 'peak RSS during the initial sync (100 ms samples)', \\
     '' using 1:5 with linespoints lw 1 pt 6 dt 3 title 'VmHWM (lifetime peak)', \\
     ${TARGETS.p5PeakMaxBytes / 1048576} with lines dt 2 lc rgb 'gray40' title 'P5 peak target at N=1000 (${TARGETS.p5PeakMaxBytes / 1048576} MiB)'
unset multiplot
`;
  const res = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
  if (res.status !== 0) {
    run.results.errors.push(`gnuplot exited ${res.status}: ${res.stderr.trim().slice(0, 300)}`);
    return;
  }
  copyFileSync(png, join(RESULTS_DIR, 'latest.png'));
  run.results.figures.plot = { png, latest: join(RESULTS_DIR, 'latest.png'), data };
  log(`plot: ${png} (and latest.png)`);
}
