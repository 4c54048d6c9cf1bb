import { KubeError } from '../kube/gateway.ts';
import { WorkQueue } from './queue.ts';
import { requeue } from './requeue.ts';

describe('requeue', () => {
  const queue = () => new WorkQueue({ baseDelayMs: 1000, maxDelayMs: 30_000 });

  it('backs a failed write off by the queue, doubling per failure', () => {
    const q = queue();
    const error = new KubeError('write secrets', 500, 'HTTP 500');
    expect([1, 2, 3].map(() => requeue(q, 'a', { error }).delayMs)).toEqual([1000, 2000, 4000]);
    q.close();
  });

  it('waits the longest for a failure that retrying alone cannot cure', () => {
    const q = queue();
    expect(requeue(q, 'a', { error: new KubeError('write secrets', 403, 'HTTP 403') })).toEqual({ failed: true, retryable: false, delayMs: 30_000 });
    q.close();
  });

  it('keeps to the time a failed reconcile chose (the end of a token-fetch backoff), not the queue\'s', () => {
    const q = queue();
    expect(requeue(q, 'a', { error: Object.assign(new Error('AccessDenied'), { retryable: false }), requeueAfterMs: 600_000 })).toEqual({ failed: true, retryable: false, delayMs: 600_000 });
    expect(q.failuresOf('a')).toBe(0);
    q.close();
  });

  it('forgets past failures after a success and plans the next refresh', () => {
    const q = queue();
    requeue(q, 'a', { error: new Error('x') });
    expect(requeue(q, 'a', { requeueAfterMs: 5000 })).toEqual({ failed: false, delayMs: 5000 });
    expect(q.failuresOf('a')).toBe(0);
    q.close();
  });
});
