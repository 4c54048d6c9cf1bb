// The Helm chart ships the CRDs of crds/ unchanged: one source, copied by npm run crds (Helm reads
// only files inside the chart).
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CHART_CRDS, CLUSTER_CRD, LOCAL_CRD } from '../scripts/local-crd.ts';

describe('the chart CRDs', () => {
  it('are the files of crds/, and only those', () => {
    expect(readdirSync(CHART_CRDS).sort()).toEqual(readdirSync(dirname(CLUSTER_CRD)).sort());
  });

  it.each([CLUSTER_CRD, LOCAL_CRD].map((f) => basename(f)))('%s is a byte-for-byte copy (run npm run crds after editing crds/)', (file) => {
    expect(readFileSync(join(CHART_CRDS, file), 'utf8')).toBe(readFileSync(join(dirname(CLUSTER_CRD), file), 'utf8'));
  });
});
