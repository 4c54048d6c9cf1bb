// A spec whose secret could not be stored (the API server keeps at most 1 MiB per Secret) is
// refused at admission, never left to fail at write time and retry: before, 50 registries × 20
// hostnames (~10 MB of auth entries) was admitted. The operator's own estimate of a secret's
// size is checked against a real one with emulator-minted tokens.
import type { EcrCredentialSyncSpec } from '../../operator/api/types.ts';
import { secretSize } from '../../operator/core/validate.ts';
import { applySync, createNamespace, deleteSync, dockerConfig, eventually, dryRunCreateSync, installCrds, kube, readSecret, stackSpec, startOperator, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

const create = (spec: EcrCredentialSyncSpec) => dryRunCreateSync(custom, spec, uniqueName('size'));

const REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'eu-west-1'];
function registries(count: number, hostnames: number): EcrCredentialSyncSpec['registries'] {
  return Array.from({ length: count }, (_, r) => {
    const [accountId, region] = [String(100000000000 + r), REGIONS[r % REGIONS.length]!];
    return { accountId, region, hostnames: Array.from({ length: hostnames }, (_, h) => `${accountId}.dkr-ecr-${h}.${region}.amazonaws.com`) };
  });
}

const namespaces = { names: ['team-a'] };

it('refuses 50 registries × 20 hostnames at admission, naming the limit', async () => {
  const refused = await create({ registries: registries(50, 20), namespaces });
  expect(refused.code).toBe(422);
  expect(refused.message).toMatch(/registries and their hostnames must name at most 64 hosts in all.*1 MiB/);
});

it.each<[string, number, number, boolean]>([
  ['admits 64 hosts (16 registries with 3 hostnames each)', 16, 3, true],
  ['refuses 65 hosts (13 registries with 4 hostnames each)', 13, 4, false],
  ['admits 50 registries without hostnames', 50, 0, true],
])('%s', async (_name, count, hostnames, admitted) => {
  const result = await create({ registries: registries(count, hostnames), namespaces });
  if (admitted) expect(result).toEqual({ message: 'accepted' });
  else expect(result).toMatchObject({ code: 422, message: expect.stringMatching(/at most 64 hosts/) });
});

it("estimates a real secret's size from above and within half again of it", async () => {
  const operator = await startOperator();
  const name = uniqueName('size');
  try {
    await createNamespace(core, name);
    const spec = stackSpec([name]);
    await applySync(custom, name, spec);
    const secret = await eventually('the secret', () => readSecret(core, name, 'regcred'));
    const bytes = (m: Record<string, string> | undefined) => Object.entries(m ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0);
    const real = bytes(secret.data) + bytes(secret.metadata?.labels) + bytes(secret.metadata?.annotations);
    const estimate = secretSize(spec);
    const passwords = Object.values(dockerConfig(secret).auths).map((a) => a.password.length);
    process.stderr.write(`[bounded-size] ${estimate.hosts} hosts, emulator password ${passwords.join('/')} characters: secret ${real} bytes, estimate ${estimate.bytes}\n`);
    expect(estimate.bytes).toBeGreaterThanOrEqual(real);
    expect(estimate.bytes).toBeLessThan(real * 1.5);
  } finally {
    await deleteSync(custom, name);
    expect(await operator.stop()).toBe(0);
  }
});
