// The chart's optional PrometheusRule and dashboard ConfigMap read copies of monitoring/'s files
// (Helm reads only files inside the chart): one source, copied by npm run monitoring.
import { readFileSync } from 'node:fs';
import { CHART_COPIES, CHART_FILES } from '../scripts/prometheus-rule.ts';

describe('the chart monitoring files', () => {
  it.each(CHART_COPIES.map((f) => [f]))('files/%s is a byte-for-byte copy of monitoring/ (run npm run monitoring after editing it)', (file) => {
    expect(readFileSync(`${CHART_FILES}${file}`, 'utf8')).toBe(readFileSync(new URL(`../monitoring/${file}`, import.meta.url), 'utf8'));
  });
});
