// manifests/05-admission-policy.yaml names the operator's event reasons: the list must be the code's.
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { EventReason } from './constants.ts';

const policies = loadAll(readFileSync(new URL('../../manifests/05-admission-policy.yaml', import.meta.url), 'utf8')) as Array<{
  kind: string;
  metadata: { name: string };
  spec: { validations?: Array<{ expression: string }> };
}>;

it('the events policy admits exactly the reasons the operator records', () => {
  const policy = policies.find((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name === 'ecr-credential-sync-events')!;
  const list = /in \[([^\]]*)\]/.exec(policy.spec.validations![0]!.expression)![1]!;
  const reasons = list.split(',').map((r) => r.trim().replace(/^'|'$/g, ''));
  expect(reasons.sort()).toEqual(Object.values(EventReason).sort());
});
