// npm run soak: the promise measured. A sync over 50 namespaces and three registries, tokens
// that live 2 minutes, ≈20 minutes of rotations with a restart, a failover, throttling and a
// removed repository policy, every secret used against its registry every 5 s and a kubelet
// pull every 30 s. Runs on a stack of its own (.stack-soak; SOAK_KEEP=1 leaves it up), prints
// the figures and writes bench-results/soak-<timestamp>.json and soak-latest.json. Figures,
// never a failed assertion: it exits 0 unless the soak itself breaks.
//
//   SOAK_SECONDS=1200  SOAK_NAMESPACES=50  SOAK_TTL_SECONDS=120  SOAK_REFRESH_BEFORE=90s
//   SOAK_CHECK_SECONDS=5  SOAK_POD_SECONDS=30
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../e2e/support.ts';
import { nodeUnsupportedReason } from '../stack/node/capable.ts';
import { down, up } from '../stack/stack.ts';
import { formatReport, summarize } from './report.ts';
import { runSoak } from './run.ts';
import { fullSoak } from './scenario.ts';

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<number> {
  const unsupported = nodeUnsupportedReason();
  if (unsupported) {
    log(`cannot soak here: ${unsupported}`);
    return 1;
  }
  const dir = join(ROOT, '.stack-soak');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const results = join(ROOT, 'bench-results');
  mkdirSync(results, { recursive: true });
  const env = await up({ dir, node: true, log: (line) => log(`stack: ${line}`) });
  Object.assign(process.env, env);
  try {
    const config = fullSoak();
    const run = await runSoak(config, { logDir: join(results, `soak-${stamp}-logs`), log });
    const report = summarize(run);
    process.stdout.write(`${formatReport(report)}\n`);
    const json = JSON.stringify({ when: new Date().toISOString(), report, config }, null, 2);
    writeFileSync(join(results, `soak-${stamp}.json`), json);
    writeFileSync(join(results, 'soak-latest.json'), json);
    log(`wrote bench-results/soak-${stamp}.json`);
    return 0;
  } finally {
    if (process.env.SOAK_KEEP !== '1') await down({ dir, log: (line) => log(`stack: ${line}`) });
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log(`soak failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
