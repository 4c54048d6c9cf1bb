// What a user sees with the real kubectl: future times as timestamps, never `<invalid>`.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { run } from '../stack/run.ts';
import { applySync, createNamespace, deleteSync, eventually, getSync, installCrds, kube, type OperatorProcess, stackSpec, startOperator, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
const namespace = uniqueName('columns');
const sync = uniqueName('columns');
let operator: OperatorProcess;

beforeAll(async () => {
  await installCrds(kc);
  await createNamespace(core, namespace);
  operator = await startOperator();
  await applySync(custom, sync, stackSpec([namespace]));
  await eventually('status with a token expiry and a next refresh', async () => {
    const s = await getSync(custom, sync);
    return s?.status?.tokenExpiresAt && s.status.nextRefreshTime ? s : undefined;
  }, 60_000);
});

afterAll(async () => {
  await deleteSync(custom, sync);
  await operator?.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

async function kubectlTable(args: string[]): Promise<Record<string, string>> {
  const result = await run('kubectl', ['get', 'ecrsync', sync, ...args]);
  expect(result.code).toBe(0);
  const [header, row] = result.stdout.trimEnd().split('\n');
  // Columns are separated by at least two spaces, and no value here holds two spaces.
  const names = header!.trim().split(/\s{2,}/);
  const values = row!.trim().split(/\s{2,}/);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
}

test('kubectl get ecrsync prints the token expiry as the timestamp it is, not <invalid>', async () => {
  const status = (await getSync(custom, sync))!.status!;
  const table = await kubectlTable([]);
  expect(Object.values(table)).not.toContain('<invalid>');
  expect(table['TOKEN EXPIRES']).toBe(status.tokenExpiresAt);
  expect(Date.parse(table['TOKEN EXPIRES']!)).toBeGreaterThan(Date.now());
});

test('kubectl get ecrsync -o wide prints the next refresh as a timestamp and the last refresh as an age', async () => {
  const status = (await getSync(custom, sync))!.status!;
  const table = await kubectlTable(['-o', 'wide']);
  expect(Object.values(table)).not.toContain('<invalid>');
  expect(table['NEXT REFRESH']).toBe(status.nextRefreshTime);
  expect(table['LAST REFRESH']).toMatch(/^\d+(s|m\d*s?|h\d*m?)$/);
});
