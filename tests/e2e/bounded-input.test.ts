// Bounded input (issue 10 §5 item 3): a sync whose exclude list holds the most `*` per entry that
// the CRD admits, in the shape that makes a backtracking regex slow (stars, then a character the
// names lack), over many namespaces with names of the longest length, leaves the operator
// responsive: a new namespace of another sync still gets its secret within 5 s. With the old
// RegExp matcher each such entry cost about 1 ms per 63-character name, and every namespace
// event and every reconcile evaluates all 256 entries against each namespace.
import {
  applySync,
  createNamespace,
  deleteSync,
  eventually,
  getSync,
  installCrds,
  kube,
  readSecret,
  stackSpec,
  startOperator,
  uniqueName,
  type OperatorProcess,
} from './support.ts';

const { kc, core, custom } = kube();
let operator: OperatorProcess;

// Label keys of this run's own, so namespaces of other test files match neither sync.
const labelSlow = uniqueName('bounded-slow');
const labelOther = uniqueName('bounded-other');
const syncSlow = uniqueName('bounded-slow');
const syncOther = uniqueName('bounded-other');

const MOST_STARS = 4; // the CRD's CEL cap per exclude entry
const EXCLUDE = [
  ...Array.from({ length: 255 }, (_, i) => `${'*'.repeat(MOST_STARS)}x${String(i).padStart(3, '0')}`),
  // The one entry that does match: names that end in x after three a's.
  '*a*a*a*x',
];
const FIRST = 30;
const LATER = 10;
/** A 63-character namespace name (hex and a's: never an x, so no entry but the last can match). */
const longName = (end = 'a') => `${uniqueName('bi')}-`.padEnd(62, 'a') + end;
const created: string[] = [];

async function namespace(name: string, labels: Record<string, string>): Promise<string> {
  await createNamespace(core, name, labels);
  created.push(name);
  return name;
}

async function counts(sync: string): Promise<{ targeted?: number; synced?: number }> {
  return ((await getSync(custom, sync))?.status?.namespaces ?? {}) as { targeted?: number; synced?: number };
}

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await operator.probePort();
  await Promise.all(Array.from({ length: FIRST }, () => namespace(longName(), { [labelSlow]: 'yes' })));
  await namespace(longName('x'), { [labelSlow]: 'yes' });
  await applySync(custom, syncSlow, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [labelSlow]: 'yes' } }, exclude: EXCLUDE } });
  await applySync(custom, syncOther, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [labelOther]: 'yes' } } } });
  await eventually('the slow sync writes its first namespaces', async () => (await counts(syncSlow)).synced === FIRST, 60_000);
}, 180_000);

afterAll(async () => {
  await deleteSync(custom, syncSlow);
  await deleteSync(custom, syncOther);
  expect(await operator.stop()).toBe(0);
  await Promise.all(created.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

describe('an exclude list at the star cap, over many long namespace names', () => {
  it('excludes only the namespace its one matching entry names', async () => {
    expect(await counts(syncSlow)).toMatchObject({ targeted: FIRST, synced: FIRST });
  });

  it('leaves the operator responsive: a new namespace of another sync gets its secret within 5 s', async () => {
    // More namespaces of the slow sync arrive at the same moment, so the operator is matching its
    // exclude list against them while the other sync's namespace waits.
    const later = Promise.all(Array.from({ length: LATER }, () => namespace(longName(), { [labelSlow]: 'yes' })));
    const started = Date.now();
    const ns = await namespace(uniqueName('bounded-other'), { [labelOther]: 'yes' });
    await eventually('the other sync writes its new namespace', () => readSecret(core, ns, 'regcred'), 10_000, 50);
    expect(Date.now() - started).toBeLessThan(5000);
    await later;
    await eventually('the slow sync writes its later namespaces', async () => (await counts(syncSlow)).synced === FIRST + LATER, 60_000);
    expect(await counts(syncSlow)).toMatchObject({ targeted: FIRST + LATER, synced: FIRST + LATER });
  });
});
