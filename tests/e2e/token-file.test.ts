// spec.identity.webIdentity.tokenFile is read by the operator and sent to STS: only a token file
// in an allowed directory is, never /dev/zero (which exhausted memory) or another file's content.
import { dirname } from 'node:path';
import { applySync, createNamespace, deleteSync, ecrControl, eventually, getSync, installCrds, kube, operatorRssKiB, readSecret, stackEnv, stackSpec, startOperator, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

it('refuses tokenFile /dev/zero for good, reading nothing of it, and still uses a token file in an allowed directory', async () => {
  const operator = await startOperator();
  const control = ecrControl();
  const id = uniqueName('token-file');
  const [zero, good] = [`${id}-zero`, `${id}-good`];
  const role = stackEnv('AWS_ROLE_ARN');
  try {
    for (const ns of [zero, good]) await createNamespace(core, ns);
    // Warm: the operator has reconciled something before memory is compared.
    await applySync(custom, good, stackSpec([good], { identity: { webIdentity: { roleArn: role, tokenFile: stackEnv('AWS_WEB_IDENTITY_TOKEN_FILE') } } }));
    await eventually('a secret from the allowed token file', () => readSecret(core, good, 'regcred'));
    const before = operatorRssKiB(operator);
    const since = Date.now();
    await applySync(custom, zero, stackSpec([zero], { identity: { webIdentity: { roleArn: role, tokenFile: '/dev/zero' } } }));
    const refused = await eventually('refused', async () => (await getSync(custom, zero))?.status?.backoff);
    expect(refused).toMatchObject({ retryable: false, message: expect.stringContaining(`tokenFile /dev/zero is not in an allowed directory`) });
    expect(refused.message).toContain(dirname(stackEnv('AWS_WEB_IDENTITY_TOKEN_FILE')));
    expect(await readSecret(core, zero, 'regcred')).toBeUndefined();
    expect((await control.calls(since)).length).toBe(0);
    const after = operatorRssKiB(operator);
    process.stderr.write(`[token-file] operator RSS ${Math.round(before / 1024)} MiB before, ${Math.round(after / 1024)} MiB after /dev/zero\n`);
    expect(after - before).toBeLessThan(10 * 1024);
  } finally {
    await deleteSync(custom, zero);
    await deleteSync(custom, good);
    expect(await operator.stop()).toBe(0);
  }
});
