import type { V1Secret } from '@kubernetes/client-node';
import { type ChangeKind, ObjectCache } from './informers.ts';

const secret = (namespace: string, name: string, resourceVersion: string): V1Secret => ({ metadata: { namespace, name, resourceVersion } });

function recorded(cache: ObjectCache<V1Secret>): string[] {
  const seen: string[] = [];
  for (const kind of ['add', 'update', 'delete'] as ChangeKind[]) cache.on(kind, (s) => seen.push(`${kind} ${s.metadata!.namespace}/${s.metadata!.name}@${s.metadata!.resourceVersion}`));
  return seen;
}

describe('ObjectCache', () => {
  it('tells handlers of an add, of an update only when the resourceVersion moved, and of a delete only of what it held', () => {
    const cache = new ObjectCache<V1Secret>();
    const seen = recorded(cache);
    cache.apply('put', secret('a', 's', '1'));
    cache.apply('put', secret('a', 's', '1'));
    cache.apply('put', secret('a', 's', '2'));
    cache.apply('delete', secret('a', 's', '3'));
    cache.apply('delete', secret('a', 'never-seen', '4'));
    expect(seen).toEqual(['add a/s@1', 'update a/s@2', 'delete a/s@3']);
    expect(cache.list()).toEqual([]);
  });

  it('answers a list by namespace from its index, and a get by name and namespace', () => {
    const cache = new ObjectCache<V1Secret>();
    cache.apply('put', secret('a', 'x', '1'));
    cache.apply('put', secret('b', 'x', '2'));
    cache.apply('put', secret('b', 'y', '3'));
    expect(cache.list('b').map((s) => s.metadata!.name)).toEqual(['x', 'y']);
    expect(cache.list('c')).toEqual([]);
    expect(cache.list()).toHaveLength(3);
    expect(cache.get('x', 'a')?.metadata?.resourceVersion).toBe('1');
    expect(cache.get('x')).toBeUndefined();
  });

  it('on a re-list, deletes what the list no longer has and adds or updates the rest', () => {
    const cache = new ObjectCache<V1Secret>();
    cache.apply('put', secret('a', 'gone', '1'));
    cache.apply('put', secret('a', 'kept', '2'));
    cache.apply('put', secret('a', 'changed', '3'));
    const seen = recorded(cache);
    cache.replace([secret('a', 'kept', '2'), secret('a', 'changed', '9'), secret('b', 'new', '10')]);
    expect(seen).toEqual(['delete a/gone@1', 'update a/changed@9', 'add b/new@10']);
  });

  it('keeps cluster-scoped objects under the empty namespace', () => {
    const cache = new ObjectCache<V1Secret>();
    cache.apply('put', { metadata: { name: 'prod', resourceVersion: '1' } });
    expect(cache.get('prod')?.metadata?.name).toBe('prod');
    expect(cache.list('')).toHaveLength(1);
  });

  it('gives every handler the change even when one throws, and reports the failure', () => {
    const failures: string[] = [];
    const cache = new ObjectCache<V1Secret>((error, kind, s) => failures.push(`${kind} ${s.metadata!.name}: ${(error as Error).message}`));
    cache.on('add', () => {
      throw new Error('boom');
    });
    const seen = recorded(cache);
    cache.apply('put', secret('a', 's', '1'));
    expect(seen).toEqual(['add a/s@1']);
    expect(failures).toEqual(['add s: boom']);
  });
});
