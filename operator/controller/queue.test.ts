import { afterEach, beforeEach, jest } from '@jest/globals';
import { WorkQueue } from './queue.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Runs the queue with a worker that records keys and can be held per key. */
function harness(queue: WorkQueue, concurrency = 1) {
  const seen: string[] = [];
  const holds = new Map<string, ReturnType<typeof deferred>>();
  let active = 0;
  let maxActive = 0;
  const activeKeys = new Map<string, number>();
  let overlap = false;
  const running = queue.run(async (key) => {
    seen.push(key);
    active++;
    maxActive = Math.max(maxActive, active);
    activeKeys.set(key, (activeKeys.get(key) ?? 0) + 1);
    if (activeKeys.get(key)! > 1) overlap = true;
    await holds.get(key)?.promise;
    await tick();
    activeKeys.set(key, activeKeys.get(key)! - 1);
    active--;
  }, concurrency);
  return {
    seen,
    hold: (key: string) => {
      const d = deferred();
      holds.set(key, d);
      return () => {
        holds.delete(key);
        d.resolve();
      };
    },
    get maxActive() {
      return maxActive;
    },
    get overlap() {
      return overlap;
    },
    running,
  };
}

describe('WorkQueue', () => {
  it('a key added twice before it is taken is queued once', () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.length).toBe(2);
    queue.close();
  });

  it('hands out keys in the order they were added', async () => {
    const queue = new WorkQueue();
    for (const key of ['c', 'a', 'b', 'a']) queue.add(key);
    const h = harness(queue);
    for (let i = 0; i < 10; i++) await tick();
    expect(h.seen).toEqual(['c', 'a', 'b']);
    queue.close();
    await h.running;
  });

  it('never works on the same key twice at once, and runs it once more if it was added meanwhile', async () => {
    const queue = new WorkQueue();
    const h = harness(queue, 4);
    const release = h.hold('a');
    queue.add('a');
    await tick();
    expect(h.seen).toEqual(['a']);
    queue.add('a');
    queue.add('a');
    queue.add('a');
    for (let i = 0; i < 5; i++) await tick();
    expect(h.seen).toEqual(['a']);
    expect(queue.length).toBe(0);
    release();
    for (let i = 0; i < 10; i++) await tick();
    expect(h.seen).toEqual(['a', 'a']);
    expect(h.overlap).toBe(false);
    queue.close();
    await h.running;
  });

  it('a key that was not added again while worked on does not run again', async () => {
    const queue = new WorkQueue();
    const h = harness(queue, 2);
    queue.add('a');
    for (let i = 0; i < 10; i++) await tick();
    expect(h.seen).toEqual(['a']);
    queue.close();
    await h.running;
  });

  it('works on different keys at once, up to the concurrency', async () => {
    const queue = new WorkQueue();
    const h = harness(queue, 3);
    const releases = ['a', 'b', 'c', 'd', 'e'].map((k) => h.hold(k));
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key);
    for (let i = 0; i < 5; i++) await tick();
    expect(h.seen).toEqual(['a', 'b', 'c']);
    for (const release of releases) release();
    for (let i = 0; i < 20; i++) await tick();
    expect(h.seen.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(h.maxActive).toBe(3);
    queue.close();
    await h.running;
  });

  it('close() lets run() finish and ignores later adds', async () => {
    const queue = new WorkQueue();
    const h = harness(queue, 2);
    queue.close();
    await h.running;
    queue.add('a');
    queue.addAfter('b', 0);
    expect(queue.length).toBe(0);
  });

  it('close() drops keys still waiting and lets the one in hand finish', async () => {
    const queue = new WorkQueue();
    const h = harness(queue);
    const release = h.hold('a');
    queue.add('a');
    queue.add('b');
    await tick();
    queue.close();
    release();
    await h.running;
    expect(h.seen).toEqual(['a']);
  });
});

describe('WorkQueue backoff', () => {
  it.each<[string, { baseDelayMs?: number; maxDelayMs?: number }, boolean, number[]]>([
    ['the delay doubles from the base with every failure', { baseDelayMs: 500, maxDelayMs: 60_000 }, true, [500, 1000, 2000, 4000, 8000]],
    ['the delay is capped at the maximum', { baseDelayMs: 1000, maxDelayMs: 5000 }, true, [1000, 2000, 4000, 5000, 5000, 5000]],
    ['the defaults start at half a second', {}, true, [500, 1000, 2000]],
    ['a failure that cannot be helped by retrying waits the maximum at once', { baseDelayMs: 500, maxDelayMs: 60_000 }, false, [60_000, 60_000]],
  ])('%s', (_name, options, retryable, expected) => {
    const queue = new WorkQueue(options);
    expect(expected.map(() => queue.addRateLimited('a', retryable))).toEqual(expected);
    expect(queue.failuresOf('a')).toBe(expected.length);
    queue.close();
  });

  it('forget() starts the backoff over', () => {
    const queue = new WorkQueue({ baseDelayMs: 100 });
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    queue.forget('a');
    expect(queue.failuresOf('a')).toBe(0);
    expect(queue.addRateLimited('a')).toBe(100);
    queue.close();
  });

  it('keys back off independently', () => {
    const queue = new WorkQueue({ baseDelayMs: 100 });
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    expect(queue.addRateLimited('b')).toBe(100);
    queue.close();
  });

  it('the delay stays finite after very many failures', () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    let delay = 0;
    for (let i = 0; i < 2000; i++) delay = queue.addRateLimited('a');
    expect(delay).toBe(1000);
    queue.close();
  });
});

describe('WorkQueue delayed adds', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2025-01-15T00:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a delayed key is queued when its time comes, not before', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 1000);
    jest.advanceTimersByTime(999);
    expect(queue.length).toBe(0);
    jest.advanceTimersByTime(1);
    expect(queue.length).toBe(1);
    queue.close();
  });

  it('a later delay does not push back an earlier one', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 100);
    queue.addAfter('a', 10_000);
    jest.advanceTimersByTime(100);
    expect(queue.length).toBe(1);
    queue.close();
  });

  it('an earlier delay replaces a later one', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 10_000);
    queue.addAfter('a', 100);
    jest.advanceTimersByTime(100);
    expect(queue.length).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
    queue.close();
  });

  it('keeps one timer per key', () => {
    const queue = new WorkQueue();
    for (let i = 0; i < 50; i++) queue.addAfter('a', 1000 + i);
    queue.addAfter('b', 1000);
    expect(jest.getTimerCount()).toBe(2);
    queue.close();
  });

  it('a zero or negative delay adds at once', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 0);
    queue.addAfter('b', -5);
    expect(queue.length).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
    queue.close();
  });

  it('a rate-limited key comes back after its backoff', () => {
    const queue = new WorkQueue({ baseDelayMs: 200 });
    queue.addRateLimited('a');
    jest.advanceTimersByTime(199);
    expect(queue.length).toBe(0);
    jest.advanceTimersByTime(1);
    expect(queue.length).toBe(1);
    queue.close();
  });

  it('close() cancels delayed adds', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 100);
    queue.close();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(queue.length).toBe(0);
  });

  it('a delay longer than setTimeout can hold is clamped, not fired at once', () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 30 * 24 * 3_600_000);
    jest.advanceTimersByTime(1000);
    expect(queue.length).toBe(0);
    queue.close();
  });
});
