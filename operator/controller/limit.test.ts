import { mapLimit } from './limit.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('mapLimit', () => {
  it.each<[string, number, number, number]>([
    ['never has more than the limit in flight', 20, 4, 4],
    ['runs one at a time with a limit of one', 5, 1, 1],
    ['starts no more workers than there are items', 3, 16, 3],
  ])('%s', async (_name, count, limit, expectedMax) => {
    let inFlight = 0;
    let max = 0;
    await mapLimit(Array.from({ length: count }, (_, i) => i), limit, async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await tick();
      inFlight--;
    });
    expect(max).toBe(expectedMax);
  });

  it('keeps results in input order, even when later items finish first', async () => {
    const results = await mapLimit([30, 10, 20, 0], 4, async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms * 2;
    });
    expect(results).toEqual([60, 20, 40, 0]);
  });

  it('calls the function once per item', async () => {
    const calls: number[] = [];
    await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      calls.push(n);
    });
    expect(calls.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('maps nothing to nothing', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });

  it('rejects when the function rejects', async () => {
    await expect(mapLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    })).rejects.toThrow('two');
  });
});
