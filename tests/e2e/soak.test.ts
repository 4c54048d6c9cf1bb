// The short soak inside npm test: 10 namespaces, tokens living 120 s, a few rotations and one
// restart right after a rotation, every secret used against its registry every 2 s and a kubelet
// pull every 20 s.
import { expect, test } from '@jest/globals';
import { join } from 'node:path';
import { formatReport, summarize } from '../soak/report.ts';
import { runSoak } from '../soak/run.ts';
import { shortSoak } from '../soak/scenario.ts';
import { describeOnNode } from './on-node.ts';
import { ROOT } from './support.ts';

const describeNode = describeOnNode('soak.test.ts');

describeNode('short soak', () => {
  test('every secret keeps working through rotations and a restart, with one AWS call per token group and no restart writes', async () => {
    const config = shortSoak();
    const run = await runSoak(config, {
      logDir: join(process.env.STACK_DIR ?? join(ROOT, '.stack-test'), 'soak-logs'),
      log: (line) => process.stderr.write(`[soak] ${line}\n`),
    });
    const report = summarize(run);
    process.stderr.write(`${formatReport(report)}\n`);
    expect(report.checks.failedSamples).toEqual([]);
    expect(report.checks.failed).toBe(0);
    expect(report.checks.total).toBeGreaterThan(0);
    expect(report.rotations).toBeGreaterThanOrEqual(3);
    // No rotation came sooner than the schedule allows.
    expect(report.rotationGapS.shortest).toBeGreaterThanOrEqual(report.rotationGapS.expectedAtLeast - 1);
    expect(report.awsCalls.perRotation).toBe(report.tokenGroups);
    // One write per namespace and rotation, counted from the API server's audit log.
    expect(report.secretWrites.perRotation).toBeGreaterThanOrEqual(config.namespaces);
    expect(report.secretWrites.perRotation).toBeLessThanOrEqual(config.namespaces * 1.05);
    expect(report.takeovers).toHaveLength(1);
    expect(report.takeovers[0]).toMatchObject({ kind: 'restart', recovered: true, tokenCalls: 0, secretWrites: 0 });
    expect(report.podPulls.failedSamples).toEqual([]);
    expect(report.podPulls.pulled).toBeGreaterThan(0);
    expect(report.minRemainingS.overall).toBeGreaterThan(0);
  }, 300_000);
});
