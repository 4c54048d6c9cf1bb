import { mergePatch } from './merge-patch.ts';

describe('mergePatch (RFC 7386)', () => {
  it.each<[string, unknown, unknown, unknown]>([
    ['merges objects key by key', { a: 1, b: 2 }, { b: 3 }, { a: 1, b: 3 }],
    ['removes a key set to null', { a: 1, b: 2 }, { b: null }, { a: 1 }],
    ['merges nested objects', { m: { x: 1, y: 2 } }, { m: { y: null, z: 3 } }, { m: { x: 1, z: 3 } }],
    ['replaces lists whole', { l: [1, 2] }, { l: [3] }, { l: [3] }],
    ['replaces a scalar with an object', { a: 1 }, { a: { b: 1 } }, { a: { b: 1 } }],
    ['ignores null for a key that is absent', { a: 1 }, { b: null }, { a: 1 }],
  ])('%s', (_name, target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });
});
