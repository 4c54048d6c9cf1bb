// The alert rules pass promtool's checks and their unit tests (monitoring/rules.test.yaml).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { promtool } from './promtool.ts';

const monitoring = fileURLToPath(new URL('../../monitoring/', import.meta.url));

describe('monitoring/rules.yaml with promtool', () => {
  it('passes promtool check rules', async () => {
    const result = await promtool(['check', 'rules', 'rules.yaml'], monitoring);
    expect({ code: result.code, output: result.stdout + result.stderr }).toMatchObject({ code: 0 });
  });

  it('passes its unit tests (each alert firing and not firing): promtool test rules rules.test.yaml', async () => {
    const result = await promtool(['test', 'rules', 'rules.test.yaml'], monitoring);
    expect({ code: result.code, output: result.stdout + result.stderr }).toMatchObject({ code: 0 });
  });

  it('reports a failing rule unit test (a wrong expectation does not pass unnoticed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-test-'));
    try {
      const wrong = {
        rule_files: [join(monitoring, 'rules.yaml')],
        evaluation_interval: '1m',
        tests: [{
          interval: '1m',
          input_series: [{ series: 'ecrsync_secrets_failed{sync="quota"}', values: '2x30' }],
          alert_rule_test: [{ eval_time: '20m', alertname: 'EcrSyncSecretsFailing', exp_alerts: [] }],
        }],
      };
      writeFileSync(join(dir, 'wrong.test.yaml'), dump(wrong));
      const result = await promtool(['test', 'rules', join(dir, 'wrong.test.yaml')]);
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('EcrSyncSecretsFailing');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
