// promtool (Debian's prometheus package), installed when missing, and run on files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { ensurePrometheus } from '../stack/prerequisites.ts';
import { run, type RunResult } from '../stack/run.ts';

export const PROMTOOL = '/usr/bin/promtool';

export async function promtool(args: string[], cwd?: string): Promise<RunResult> {
  await ensurePrometheus((line) => process.stderr.write(`${line}\n`));
  return run(PROMTOOL, args, { cwd });
}

/**
 * Parses PromQL expressions with promtool: they go into a temporary rule file as recording
 * rules, one group each so a failure names its expression. Returns promtool's result.
 */
export async function checkExpressions(expressions: readonly string[]): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'promql-'));
  try {
    const file = join(dir, 'expressions.yaml');
    const groups = expressions.map((expr, i) => ({ name: `expression-${i}`, rules: [{ record: `check:expression_${i}`, expr }] }));
    writeFileSync(file, dump({ groups }, { lineWidth: -1 }));
    return await promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
