import { parseDuration } from '../../operator/core/duration.ts';

describe('parseDuration', () => {
  it('reads an hour', () => {
    expect(parseDuration('1h')).toBe(3_600_000);
  });
});
