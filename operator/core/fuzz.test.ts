// Property tests: random specs, valid and not (wrong types included, as an object that reached the
// operator without the CRD's schema may have), through the pure core and through the reconciler
// against in-memory fakes, with the API server failing now and then. reconcile() catches everything,
// so "it did not throw" proves nothing: after every step these tests assert what must hold whatever
// failed (WatchedKube checks it at each write): no unhandled rejection, every status valid against
// the CRD's schema, no secret that holds a token blanked or deleted while targeted, no ServiceAccount
// losing the secret while it is in place, and the outcome once the API server heals.
// To replay a failure, set FC_SEED (and FC_PATH) to what fast-check printed; FC_SCALE=10 runs ten times as many.
import fc from 'fast-check';
import { DEFAULT_SECRET_NAME, FINALIZER } from '../api/constants.ts';
import type { EcrCredentialSync, EcrCredentialSyncSpec } from '../api/types.ts';
import { Reconciler } from '../controller/reconciler.ts';
import { createLogger } from '../runtime/log.ts';
import { actualSecrets, anySpec, FUZZ_UID, isObject, NAMESPACES, ours, params, spec } from '../testing/arbitraries.ts';
import { FakeClock, FakeTokens, HOUR, type InjectedFailure, makeSync, RecordingMetrics, type StoredSecret } from '../testing/fakes.ts';
import { flush, type RejectionWatch, watchRejections } from '../testing/rejections.ts';
import { credentialHosts, type Violation, WatchedKube } from '../testing/watched-kube.ts';
import { desiredSecrets, type GroupToken } from './desired.ts';
import { registryHosts } from './dockerconfig.ts';
import { tokenGroups } from './identity.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, targetNamespaces } from './namespaces.ts';
import { plan } from './plan.ts';
import { wantsAccount } from './service-accounts.ts';
import { nextRefreshAt } from './schedule.ts';
import { validateSpec } from './validate.ts';

describe('the pure core, on random specs', () => {
  it('validateSpec sorts every one into valid or not, and the rest of the core copes with whatever it accepts', () => {
    const now = new Date('2025-01-15T01:23:45.678Z');
    let valid = 0;
    fc.assert(
      fc.property(anySpec, actualSecrets, fc.subarray([0, 1, 2, 3, 4]), fc.option(fc.integer({ min: -24, max: 48 })), (raw, actual, present, expiryHours) => {
        const problems = validateSpec(raw as EcrCredentialSyncSpec);
        expect(Array.isArray(problems)).toBe(true);
        expect(problems.every((p) => typeof p === 'string' && p.length > 0)).toBe(true);
        const expiresAt = expiryHours === null ? undefined : new Date(now.getTime() + expiryHours * HOUR);

        // Scheduling tolerates any object, since it never looks past the fields it reads.
        if (isObject(raw)) {
          const refresh = nextRefreshAt(raw as unknown as EcrCredentialSyncSpec, { lastRefreshTime: '2025-01-15T01:00:00Z' }, expiresAt, now, { jitterKey: 'fuzz' });
          expect(Number.isNaN(refresh.at.getTime())).toBe(false);
        }
        if (problems.length > 0) return;
        valid++;
        const s = raw as EcrCredentialSyncSpec;
        const sync: EcrCredentialSync = makeSync('fuzz', s, { uid: FUZZ_UID });

        const groups = tokenGroups(s);
        expect(groups.length).toBeGreaterThan(0);
        expect(groups.reduce((n, g) => n + g.registries.length, 0)).toBe(s.registries.length);
        expect(new Set(groups.map((g) => g.key)).size).toBe(groups.length);

        const targets = targetNamespaces(s.namespaces, NAMESPACES);
        expect(targets).not.toContain('old');

        const tokens = new Map<string, GroupToken>();
        groups.forEach((g, i) => {
          if (present.includes(i % 5)) tokens.set(g.key, { credential: { username: 'AWS', password: `pw-${i}` }, expiresAt: expiresAt ?? new Date(Number.NaN) });
        });
        const desired = desiredSecrets(sync, tokens, targets);
        expect(desired.content === undefined).toBe(desired.missingGroups.length > 0);

        const actions = plan(desired, actual);
        for (const action of actions) {
          if (action.kind === 'update' || action.kind === 'delete') expect(ours(action.actual)).toBe(true);
          if (action.kind === 'create') expect(actual.some((a) => a.namespace === action.namespace && a.name === action.name)).toBe(false);
        }
        expect(actions.filter((a) => a.kind !== 'delete').map((a) => a.namespace)).toEqual(targets);

        const last = Date.parse('2025-01-15T01:00:00Z');
        const refresh = nextRefreshAt(s, { lastRefreshTime: '2025-01-15T01:00:00Z' }, expiresAt, now, { jitterKey: 'fuzz' });
        expect(refresh.at.getTime()).toBeGreaterThan(last);
        expect(refresh.at.getTime()).toBeLessThanOrEqual(last + 12 * HOUR + 10 * 60_000);
      }),
      params(10_000),
    );
    // The generators are worth little if almost nothing they make is valid.
    if (!process.env.FC_PATH) expect(valid).toBeGreaterThan(2000);
  });
});

// Without a role of its own the operator never learns its tokens back (see recover.ts).
const OPERATOR_ROLE = 'arn:aws:iam::111111111111:role/ecr-sync';
const log = createLogger('silent');

/** The namespaces, each with a ServiceAccount "default" listing nothing and "builder" listing a secret of someone else's. */
function world(): WatchedKube {
  const kube = new WatchedKube();
  for (const ns of NAMESPACES) {
    kube.addNamespace(ns.name, ns.labels, ns.terminating);
    kube.serviceAccounts.set(`${ns.name}/default`, { namespace: ns.name, name: 'default', imagePullSecrets: [], annotations: {}, resourceVersion: '1' });
    kube.serviceAccounts.set(`${ns.name}/builder`, { namespace: ns.name, name: 'builder', imagePullSecrets: ['other'], annotations: {}, resourceVersion: '1' });
  }
  return kube;
}
const accountsAsCreated = (kube: WatchedKube) => [...kube.serviceAccounts.values()].every((a) => JSON.stringify(a.imagePullSecrets) === JSON.stringify(a.name === 'builder' ? ['other'] : []) && Object.keys(a.annotations).length === 0);

let rejections: RejectionWatch;
beforeEach(() => {
  rejections = watchRejections();
});
afterEach(() => rejections.stop());

/** After every step: no rejection left unhandled, and none of the given invariants broken. */
async function settled(kube: WatchedKube, kinds: ReadonlyArray<Violation['kind']> = ['status', 'secret', 'account', 'calls']): Promise<void> {
  await flush();
  kube.resetCalls();
  expect(rejections.seen).toEqual([]);
  expect(kube.violations.filter((v) => kinds.includes(v.kind))).toEqual([]);
}

const OPS = ['getSync', 'listNamespaces', 'listSyncSecrets', 'getSecret', 'createSecret', 'updateSecret', 'deleteSecret', 'patchStatus', 'setFinalizers', 'recordEvent', 'patchServiceAccount'] as const;
/** An API call failing once, a few times or for good, for one namespace's objects or the first that come. */
const failure: fc.Arbitrary<InjectedFailure> = fc
  .record({
    op: fc.constantFrom(...OPS),
    status: fc.constantFrom(0, 403, 404, 409, 422, 429, 500, 503),
    times: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 2, arbitrary: fc.constant(Number.POSITIVE_INFINITY) }),
    namespace: fc.option(fc.constantFrom('team-a', 'team-b', 'default'), { nil: undefined }),
  })
  // A 404 on a delete or a ServiceAccount patch says the object is gone, and the reconciler rightly
  // takes it at its word; an injected failure cannot make that true.
  .filter((f) => !((f.op === 'deleteSecret' || f.op === 'patchServiceAccount') && f.status === 404))
  .map(({ namespace, ...f }) => (namespace === undefined ? f : { ...f, target: (t: string) => t.startsWith(`${namespace}/`) }));
/** Well-typed specs that put the secret on some ServiceAccounts. */
const specWithAccounts = fc.tuple(spec, fc.constantFrom(['default'], ['*'], ['default', 'builder'])).map(([s, serviceAccounts]) => (isObject(s) ? { ...s, serviceAccounts } : s));

/**
 * Secrets and ServiceAccount entries put in place by a healthy reconcile; then a change that rewrites
 * every secret (a due refresh, or a new hostname) while the API server fails; then the API server
 * heals; then the sync is deleted, under the same failures, until they heal too.
 */
async function underFailures(raw: unknown, failures: InjectedFailure[], change: 'refresh' | 'hostname', kinds: ReadonlyArray<Violation['kind']>): Promise<void> {
  const clock = new FakeClock();
  const kube = world();
  const tokens = new FakeTokens(clock);
  const reconciler = new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log, options: { environmentRoleArn: OPERATOR_ROLE } });
  kube.addSync(makeSync('fuzz', raw as EcrCredentialSyncSpec, { uid: FUZZ_UID }));
  await reconciler.reconcile('fuzz');
  await settled(kube, kinds);

  kube.failures.push(...failures.map((f) => ({ ...f })));
  if (change === 'refresh') clock.advance(13 * HOUR);
  else {
    kube.editSpec('fuzz', (s) => {
      const first = s.registries[0];
      if (first) first.hostnames = [...(first.hostnames ?? []), 'new.dkr.ecr.us-east-1.amazonaws.com'];
    });
  }
  for (let i = 0; i < 3; i++) {
    const outcome = await reconciler.reconcile('fuzz');
    await settled(kube, kinds);
    if (outcome.error) expect(outcome.error).toBeInstanceOf(Error);
    if (outcome.requeueAfterMs !== undefined) expect(outcome.requeueAfterMs).toBeGreaterThanOrEqual(0);
  }

  // Healed, one reconcile converges: every targeted namespace holds the secret, for every registry
  // host, and its chosen ServiceAccounts list it.
  kube.failures.splice(0);
  const healed = await reconciler.reconcile('fuzz');
  await settled(kube, kinds);
  const sync = kube.sync('fuzz')!;
  if (validateSpec(sync.spec).length === 0 && !sync.spec.suspend) {
    expect(healed.error).toBeUndefined();
    const secretName = sync.spec.secretName ?? DEFAULT_SECRET_NAME;
    const hosts = [...new Set(sync.spec.registries.flatMap(registryHosts))].sort();
    for (const ns of targetNamespaces(sync.spec.namespaces, [...kube.namespaces.values()], DEFAULT_SELECTOR_EXCLUDED_NAMESPACES)) {
      expect({ ns, hosts: credentialHosts(kube.secret(ns, secretName)).sort() }).toEqual({ ns, hosts });
      for (const account of ['default', 'builder'].filter((a) => wantsAccount(sync.spec.serviceAccounts, a))) {
        expect(kube.serviceAccounts.get(`${ns}/${account}`)!.imagePullSecrets).toContain(secretName);
      }
    }
  }

  kube.deleteSync('fuzz', clock.now());
  kube.failures.push(...failures.map((f) => ({ ...f })));
  for (let i = 0; i < 2; i++) {
    await reconciler.reconcile('fuzz');
    await settled(kube, kinds);
  }
  kube.failures.splice(0);
  expect(await reconciler.reconcile('fuzz')).toEqual({});
  await settled(kube, kinds);
  expect(kube.syncs.has('fuzz')).toBe(false);
  expect([...kube.secrets.values()].filter(ours)).toEqual([]);
  expect(accountsAsCreated(kube)).toBe(true);
}

describe('the reconciler, on random specs', () => {
  it('never throws, never leaves a rejection unhandled, writes only valid statuses, never blanks a secret, never touches a secret that is not its own, settles in one reconcile, and cleans up on deletion', async () => {
    await fc.assert(
      fc.asyncProperty(anySpec, actualSecrets, fc.boolean(), fc.integer({ min: -2, max: 30 }), async (raw, existing, failTokens, expiryHours) => {
        const clock = new FakeClock('2025-01-15T01:23:45.678Z');
        const kube = world();
        for (const s of existing) kube.putSecret(s);
        // Of a secret that is not its own, the sync may take itself off the owners (a write: a new resourceVersion), and nothing else.
        const mayRelease = new Set(existing.filter((s) => !ours(s) && s.ownerReferences?.some((r) => r.uid === FUZZ_UID)).map((s) => `${s.namespace}/${s.name}`));
        const released = ([key, { resourceVersion: _, ownerReferences = [], ...s }]: [string, StoredSecret]) => {
          const others = ownerReferences.filter((r) => r.uid !== FUZZ_UID);
          return [key, Object.fromEntries(Object.entries({ ...s, ...(others.length ? { ownerReferences: others } : {}) }).sort(([a], [b]) => (a < b ? -1 : 1)))] as const;
        };
        const foreign = () =>
          JSON.stringify(
            [...kube.secrets.entries()]
              .filter(([, s]) => !ours(s))
              .map((entry) => (mayRelease.has(entry[0]) ? released(entry) : entry))
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          );
        const foreignBefore = foreign();
        const tokens = new FakeTokens(clock, { expiresAt: (_r, now) => new Date(now.getTime() + expiryHours * HOUR) });
        if (failTokens) tokens.fail();
        const reconciler = new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log, options: { environmentRoleArn: OPERATOR_ROLE } });
        kube.addSync({ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', metadata: { name: 'fuzz', uid: FUZZ_UID }, spec: raw as EcrCredentialSyncSpec });
        const stored = kube.sync('fuzz')!.spec;

        const first = await reconciler.reconcile('fuzz');
        await settled(kube);
        expect(first).toBeDefined();
        if (first.requeueAfterMs !== undefined) {
          expect(Number.isFinite(first.requeueAfterMs)).toBe(true);
          expect(first.requeueAfterMs).toBeGreaterThanOrEqual(0);
        }
        // A valid spec, reachable tokens and a healthy API server: nothing to report but conflicts.
        // Except one known case: a secret of ours whose type someone changed cannot be updated in
        // place (Secret.type is immutable), and stays a SecretWriteFailed until someone deletes it.
        const valid = validateSpec(stored).length === 0;
        const retyped = existing.some((s) => ours(s) && s.type !== 'kubernetes.io/dockerconfigjson');
        if (valid && !failTokens && !retyped) expect(first.error).toBeUndefined();
        if (!valid) expect(kube.secretWrites()).toEqual([]);
        expect(foreign()).toBe(foreignBefore);
        expect(kube.sync('fuzz')!.metadata.finalizers).toContain(FINALIZER);

        // Level-triggered: after a run that succeeded, a second run straight away has nothing left to write.
        if (!failTokens && first.error === undefined) {
          const writes = kube.writes.length;
          const second = await reconciler.reconcile('fuzz');
          await settled(kube);
          expect(second.error).toBeUndefined();
          expect(kube.writes.slice(writes)).toEqual([]);

          // A restart learns the tokens back from the secrets: while they are good, nothing to fetch or
          // write. (It does find a foreign secret at its name again, by a create refused with 409.)
          if (expiryHours >= 1 && expiryHours <= 12 && [...kube.secrets.values()].some(ours)) {
            const fetched = tokens.total;
            const restarted = await new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log, options: { environmentRoleArn: OPERATOR_ROLE } }).reconcile('fuzz');
            await settled(kube);
            expect(restarted.error).toBeUndefined();
            expect(tokens.total).toBe(fetched);
            expect(kube.writes.slice(writes).filter((w) => w.ok)).toEqual([]);
          }
        }

        // Later, with tokens that may now fail, still nothing thrown and nothing foreign touched.
        clock.advance(7 * HOUR);
        if (failTokens) tokens.heal();
        else tokens.fail();
        await reconciler.reconcile('fuzz');
        await settled(kube);
        expect(foreign()).toBe(foreignBefore);

        // Deleting the sync removes exactly its own secrets, then the sync itself.
        kube.deleteSync('fuzz', clock.now());
        const gone = await reconciler.reconcile('fuzz');
        await settled(kube);
        expect(gone).toEqual({});
        expect(kube.syncs.has('fuzz')).toBe(false);
        expect([...kube.secrets.values()].filter(ours)).toEqual([]);
        expect(foreign()).toBe(foreignBefore);
      }),
      params(7_000),
    );
  });

  const scenarios = fc.tuple(specWithAccounts, fc.array(failure, { maxLength: 4 }), fc.constantFrom('refresh' as const, 'hostname' as const));
  type Scenario = [unknown, InjectedFailure[], 'refresh' | 'hostname'];
  /** Cases the random search finds only now and then, run first every time. */
  const examples = (...failures: InjectedFailure[][]): { examples: Array<[Scenario]> } => ({
    examples: failures.map((f) => [[{ registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { names: ['team-a'] }, serviceAccounts: ['default'] }, f, 'refresh']]),
  });

  it('reports a failing API server as an error, and meanwhile never blanks a secret nor writes an invalid status', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, ([raw, failures, change]) => underFailures(raw, failures, change, ['status', 'secret'])),
      params(3_000),
    );
  });

  // Failed before the fix (issue 9 §1): a namespace counted as in place only by the path its write took,
  // so a failed read after a 409, or a failed create after a 404, took the secret off its ServiceAccounts.
  it('keeps its secret on the ServiceAccounts that list it while the secret is in place, whatever write fails', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, ([raw, failures, change]) => underFailures(raw, failures, change, ['account'])),
      {
        ...params(3_000),
        ...examples(
          [{ op: 'updateSecret', status: 409, times: 3 }],
          [{ op: 'updateSecret', status: 409, times: 1 }, { op: 'getSecret', status: 0, times: 1 }],
          [{ op: 'updateSecret', status: 404, times: 1 }, { op: 'createSecret', status: 500, times: 1 }],
        ),
      },
    );
  });

  // Failed before the fix: an update answered 404 created, a create answered 409 read and updated again,
  // with no bound across the two, so an update answered 404 for good looped until memory ran out.
  it('makes a bounded number of calls in a reconcile, however the API server answers', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, ([raw, failures, change]) => underFailures(raw, failures, change, ['calls'])),
      { ...params(3_000), ...examples([{ op: 'updateSecret', status: 404, times: Number.POSITIVE_INFINITY }]) },
    );
  });
});
