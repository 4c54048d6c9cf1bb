import { ListWatch, type V1Secret, type Watch } from '@kubernetes/client-node';
import { transformCached } from './informers.ts';

/** A Watch that hands the test its event callback instead of opening a connection. */
function fakeWatch(): { watch: Watch; send: (phase: 'ADDED' | 'MODIFIED', obj: V1Secret) => void } {
  let handler: ((phase: string, obj: unknown) => void) | undefined;
  const watch = {
    watch: async (_path: string, _params: unknown, callback: (phase: string, obj: unknown) => void) => {
      handler = callback;
      return new AbortController();
    },
  } as unknown as Watch;
  return { watch, send: (phase, obj) => handler!(phase, obj) };
}

const secret = (name: string, resourceVersion: string): V1Secret => ({ metadata: { namespace: 'a', name, resourceVersion }, data: { k: 'dg==' } });

describe('transformCached', () => {
  // The secret cache's bound on memory rests on this: client-node's ListWatch keeps the very object it hands its handlers.
  it('changes the objects the cache keeps, from the list and from the watch, before other handlers see them', async () => {
    const { watch, send } = fakeWatch();
    const informer = new ListWatch<V1Secret>('/api/v1/secrets', watch, async () => ({ items: [secret('listed', '1')], metadata: { resourceVersion: '1' } }), false);
    transformCached(informer, (s) => delete s.data);
    const seen: (V1Secret['data'] | undefined)[] = [];
    informer.on('add', (s) => seen.push(s.data));
    informer.on('update', (s) => seen.push(s.data));
    await informer.start();
    send('ADDED', secret('watched', '2'));
    send('MODIFIED', secret('listed', '3'));
    expect(informer.list().map((s) => [s.metadata!.name, s.metadata!.resourceVersion, s.data])).toEqual([
      ['listed', '3', undefined],
      ['watched', '2', undefined],
    ]);
    expect(seen).toEqual([undefined, undefined, undefined]);
  });
});
