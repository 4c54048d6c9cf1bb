import type { V1Secret } from '@kubernetes/client-node';
import { Interner, listInPages, type SecretPage, trimSecret } from './secret-cache.ts';

const owner = (uid: string) => ({ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'prod', uid });
const secret = (ownerReferences?: ReturnType<typeof owner>[], labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/sync': 'prod' }): V1Secret => ({
  metadata: {
    namespace: 'team-a',
    name: 'regcred',
    uid: 'u1',
    resourceVersion: '7',
    labels,
    annotations: { 'ecrsync.io/data-hash': 'h', 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000) },
    managedFields: [{ manager: 'kubectl', operation: 'Update' }],
    ...(ownerReferences ? { ownerReferences } : {}),
    finalizers: ['example.com/keep'],
  },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': 'e30=' },
});
const uids = (name: string) => (name === 'prod' ? 'uid-prod' : undefined);

describe('trimSecret', () => {
  it('keeps of a forged secret only its own labels and ecrsync.io owner references, however many others it carries (the API server bounds none of them short of 1.5 MiB)', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`forged.example.com/k${i}`, 'v'.repeat(63)]));
    const s = secret([owner('uid-earlier'), ...Array.from({ length: 1000 }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: `c${i}`, uid: `u${i}` }))], {
      ...many,
      'app.kubernetes.io/managed-by': 'ecr-credential-sync',
      'ecrsync.io/sync': 'prod',
    });
    s.metadata!.finalizers = Array.from({ length: 1000 }, (_, i) => `example.com/f${i}`);
    trimSecret(s, uids);
    expect(s.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/sync': 'prod' });
    expect(s.metadata?.ownerReferences).toEqual([owner('uid-earlier')]);
    expect(s.metadata?.finalizers).toBeUndefined();
    expect(JSON.stringify(s).length).toBeLessThan(1000);
  });

  it("keeps the data of a LocalEcrCredentialSync's secret in its namespace, looked up by the sync's key, and trims a copy labelled so in another", () => {
    const labels = { 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/local-sync': 'ecr' };
    const local = (namespace: string) => ({ ...secret([{ ...owner('uid-local'), kind: 'LocalEcrCredentialSync', name: 'ecr' }], labels), metadata: { ...secret(undefined, labels).metadata, namespace, ownerReferences: [{ ...owner('uid-local'), kind: 'LocalEcrCredentialSync', name: 'ecr' }] } });
    const byKey = (key: string) => (key === 'team-a/ecr' ? 'uid-local' : undefined);
    const own = local('team-a');
    trimSecret(own, byKey);
    expect(own.data).toEqual({ '.dockerconfigjson': 'e30=' });
    const elsewhere = local('team-b');
    trimSecret(elsewhere, byKey);
    expect(elsewhere.data).toBeUndefined();
  });

  it('keeps data and annotations of a secret with an owner reference to the sync its label names, and drops only its managedFields', () => {
    const s = secret([owner('uid-prod')]);
    trimSecret(s, uids);
    const { managedFields: _, ...metadata } = secret([owner('uid-prod')]).metadata!;
    expect(s).toEqual({ ...secret([owner('uid-prod')]), metadata });
  });

  it.each<[string, V1Secret]>([
    ['no owner reference', secret()],
    ['an owner reference to an earlier sync of the same name', secret([owner('uid-earlier')])],
    ['the sync\'s owner reference, but the label of a sync that does not exist', secret([owner('uid-prod')], { 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/sync': 'ghost' })],
    ['no sync label', secret([owner('uid-prod')], { 'app.kubernetes.io/managed-by': 'ecr-credential-sync' })],
  ])('keeps only the metadata the operator reads of a secret with %s', (_name, s) => {
    trimSecret(s, uids);
    expect(s.data).toBeUndefined();
    expect(s.metadata?.annotations).toBeUndefined();
    expect(s.metadata?.managedFields).toBeUndefined();
    expect(s.metadata).toMatchObject({ namespace: 'team-a', name: 'regcred', uid: 'u1', resourceVersion: '7' });
    expect(s.metadata?.finalizers).toBeUndefined();
    expect(s.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('ecr-credential-sync');
    expect(s.type).toBe('kubernetes.io/dockerconfigjson');
  });
});

describe('listInPages', () => {
  it('reads every page, trimming each before the next is read, and answers with the last page\'s resourceVersion', async () => {
    const pages: SecretPage[] = [
      { items: [secret(), secret()], metadata: { continue: 'p2', resourceVersion: '100' } },
      { items: [secret([owner('uid-prod')])], metadata: { continue: '', resourceVersion: '100' } },
    ];
    const asked: (string | undefined)[] = [];
    const list = await listInPages(async (cont) => {
      // Everything read so far is trimmed before the next page is asked for.
      const done = pages.slice(0, asked.length).flatMap((p) => p.items);
      expect(done.filter((s) => !s.metadata?.ownerReferences).every((s) => s.data === undefined)).toBe(true);
      asked.push(cont);
      return pages[asked.length - 1]!;
    }, (s) => trimSecret(s, uids));
    expect(asked).toEqual([undefined, 'p2']);
    expect(list.items.map((s) => s.data !== undefined)).toEqual([false, false, true]);
    expect(list.metadata?.resourceVersion).toBe('100');
  });
});

describe('Interner', () => {
  it('hands back the copy it holds for an equal value, and holds one value per scope', () => {
    const intern = new Interner();
    const a = intern.get('prod\n.dockerconfigjson', ['x'.repeat(100)].join(''));
    expect(intern.get('prod\n.dockerconfigjson', ['x'.repeat(50), 'x'.repeat(50)].join(''))).toBe(a);
    intern.get('dev\n.dockerconfigjson', 'y');
    expect(intern.size).toBe(2);
  });

  it('keeps only the latest value of a scope, so a rotated token is not kept alive', () => {
    const intern = new Interner();
    intern.get('prod\nk', 'old-token');
    expect(intern.get('prod\nk', 'new-token')).toBe('new-token');
    expect(intern.size).toBe(1);
  });
});

describe('trimSecret with an interner', () => {
  it('interns the data of own secrets under their sync, and of no other secret', () => {
    const intern = new Interner();
    trimSecret(secret([owner('uid-prod')]), uids, intern);
    trimSecret(secret([owner('uid-prod')]), uids, intern);
    trimSecret(secret(), uids, intern);
    expect(intern.size).toBe(Object.keys(secret().data!).length);
  });
});
