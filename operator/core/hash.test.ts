import { fnv1a, sha256Hex } from './hash.ts';

describe('sha256Hex', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ])('hashes %j as the published test vector says', (input, expected) => {
    expect(sha256Hex(input)).toBe(expected);
  });
});

describe('fnv1a', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('hashes %j as the published test vector says', (input, expected) => {
    expect(fnv1a(input)).toBe(expected);
  });

  it('is an unsigned 32-bit number', () => {
    for (const text of ['x', 'my-sync', 'a much longer name for a sync, with punctuation!']) {
      const h = fnv1a(text);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });
});
