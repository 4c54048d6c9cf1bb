// R3: SIGKILL the operator 20 times while it syncs 1000 namespaces, restarting it each time:
// half at a random moment after it starts reconciling (often while it rewrites the secrets already
// there with its own new token, which leaves their count as it was), half once it has created a
// random number of secrets (part-way, whatever the machine's speed). It converges, and every
// secret is valid.
import { applySync, createNamespace, deleteSync, dockerConfig, ecrControl, eventually, getSync, installCrds, kube, metricSum, readyCondition, reconcileCount, skopeoInspect, stackEnv, stackSpec, startOperator, uniqueName } from './support.ts';
import { mapLimit } from '../../operator/controller/limit.ts';

const { kc, core, custom } = kube();
const COUNT = Number(process.env.R3_NAMESPACES ?? 1000);
const KILLS = 20;
beforeAll(() => installCrds(kc));

it(`converges with every secret valid after ${KILLS} SIGKILLs during a ${COUNT}-namespace sync`, async () => {
  const label = uniqueName('r3');
  const namespaces = Array.from({ length: COUNT }, (_, i) => `${label}-${i}`);
  await mapLimit(namespaces, 32, (ns) => createNamespace(core, ns, { [label]: 'yes' }));
  const name = uniqueName('r3');
  await applySync(custom, name, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [label]: 'yes' } } } });
  const selector = `ecrsync.io/sync=${name}`;
  const count = async () => (await core.listSecretForAllNamespaces({ labelSelector: selector })).items.length;
  const seen: number[] = [];
  try {
    for (let i = 0; i < KILLS; i++) {
      const op = await startOperator();
      try {
        await eventually('operator reconciling', async () => op.logs().includes('"msg":"reconciling"'), 30_000, 20);
        if (i % 2 === 0) {
          await new Promise((r) => setTimeout(r, Math.random() * 500));
        } else {
          // Creates are exactly the secrets this process added; a finished reconcile means none were missing.
          const creates = 1 + Math.floor(Math.random() * 50);
          await eventually(`${creates} secrets created or the sync settled`, async () =>
            (await metricSum(op, 'ecrsync_secret_writes_total', { verb: 'create', result: 'success' })) >= creates || (await reconcileCount(op, name)) > 0, 60_000, 10);
        }
      } finally {
        op.child.kill('SIGKILL');
        await op.exited;
      }
      seen.push(await count());
    }
    process.stderr.write(`[r3] secrets present at each kill: ${seen.join(', ')}\n`);
    // Some kills landed part-way through the sync, with some secrets written and some not.
    expect(seen.some((n) => n > 0 && n < COUNT)).toBe(true);
    const final = await startOperator();
    try {
      const sync = await eventually('converged', async () => {
        const s = await getSync(custom, name);
        return readyCondition(s)?.status === 'True' && s?.status?.namespaces?.synced === COUNT ? s : undefined;
      }, 180_000, 500);
      expect(sync.status?.namespaces).toEqual({ targeted: COUNT, synced: COUNT, failed: 0 });
      const secrets = (await core.listSecretForAllNamespaces({ labelSelector: selector })).items;
      expect(secrets).toHaveLength(COUNT);
      expect(new Set(secrets.map((s) => s.metadata!.namespace)).size).toBe(COUNT);
      const first = secrets[0]!.data!['.dockerconfigjson'];
      for (const secret of secrets) {
        expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
        expect(secret.data!['.dockerconfigjson']).toBe(first);
        expect(secret.metadata?.annotations?.['ecrsync.io/data-hash']).toBe(secrets[0]!.metadata?.annotations?.['ecrsync.io/data-hash']);
      }
      // A token the emulator minted and still honours, which the registry takes.
      const auths = dockerConfig(secrets[0]!).auths;
      expect(await ecrControl().lookupToken(auths[stackEnv('STACK_REGISTRY')]!.password)).toMatchObject({ region: 'us-east-1', state: 'valid' });
      const pulled = await skopeoInspect(stackEnv('STACK_IMAGE'), Buffer.from(first!, 'base64').toString());
      expect(pulled.stderr).toBe('');
    } finally {
      await deleteSync(custom, name);
      await eventually('sync cleaned up', async () => !(await getSync(custom, name)), 120_000, 500);
      expect(await count()).toBe(0);
      expect(await final.stop()).toBe(0);
    }
  } finally {
    await deleteSync(custom, name);
  }
}, 900_000);
