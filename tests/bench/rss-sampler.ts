// An operator's resident memory sampled every RSS_SAMPLE_MS from /proc/<pid>/status (VmRSS), by a
// worker thread, so that a main thread busy with 10,000 watch events does not skip samples.
import { Worker } from 'node:worker_threads';
import { RSS_SAMPLE_MS } from './config.ts';

const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const tick = () => {
  try {
    const status = readFileSync('/proc/' + workerData.pid + '/status', 'utf8');
    const kb = /^VmRSS:\\s+(\\d+) kB/m.exec(status);
    if (kb) parentPort.postMessage({ at: performance.timeOrigin + performance.now(), rss: Number(kb[1]) * 1024 });
  } catch {
    clearInterval(timer);
  }
};
const timer = setInterval(tick, workerData.everyMs);
tick();
`;

export interface RssSample {
  /** Epoch ms (performance.timeOrigin + performance.now()). */
  at: number;
  rss: number;
}

export interface RssWindow {
  peakBytes: number | undefined;
  samples: number;
  /** The longest gap between two samples in the window, in ms. */
  maxGapMs: number | undefined;
}

/** The epoch-ms clock the samples use, for windows. */
export const epochNow = () => performance.timeOrigin + performance.now();

export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly worker: Worker;

  constructor(pid: number, everyMs = RSS_SAMPLE_MS) {
    this.worker = new Worker(SAMPLER, { eval: true, workerData: { pid, everyMs } });
    this.worker.on('message', (s: RssSample) => this.samples.push(s));
    this.worker.on('error', () => {});
    this.worker.unref();
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  /** The highest sample between two epoch-ms times (the whole run without them). */
  window(from = 0, to = Number.POSITIVE_INFINITY): RssWindow {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to);
    let maxGap: number | undefined;
    for (let i = 1; i < inside.length; i++) maxGap = Math.max(maxGap ?? 0, inside[i]!.at - inside[i - 1]!.at);
    return { peakBytes: inside.length ? Math.max(...inside.map((s) => s.rss)) : undefined, samples: inside.length, maxGapMs: maxGap };
  }
}
