import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each<[string, string, number | undefined]>([
    ['an hour is 3,600,000 ms', '1h', 3_600_000],
    ['minutes add up past an hour', '90m', 5_400_000],
    ['hours and minutes combine', '1h30m', 5_400_000],
    ['a fractional hour is allowed', '1.5h', 5_400_000],
    ['milliseconds are not read as minutes', '500ms', 500],
    ['a minute followed by seconds is not read as milliseconds', '1m5s', 65_000],
    ['every unit at once adds up', '2h3m4s5ms', 7_384_005],
    ['a repeated unit adds up, as in Go', '1m1m', 120_000],
    ['zero seconds is zero', '0s', 0],
    ['a fractional millisecond rounds', '1.6ms', 2],
    ['a bare number has no unit and is rejected', '60', undefined],
    ['an empty string is rejected', '', undefined],
    ['a negative duration is rejected', '-1h', undefined],
    ['days are not a unit', '1d', undefined],
    ['units are case-sensitive', '1H', undefined],
    ['spaces are rejected', '1h 30m', undefined],
    ['leading whitespace is rejected', ' 1h', undefined],
    ['a dot without digits after it is rejected', '1.h', undefined],
    ['a leading dot is rejected', '.5h', undefined],
    ['trailing garbage is rejected', '1hx', undefined],
    ['a word is rejected', 'soon', undefined],
  ])('%s (%j)', (_name, text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['an object whose toString is not a function', { toString: [] }],
    ['an object without a prototype', Object.create(null)],
    ['a number', 3600],
    ['a list holding a duration', ['1h']],
  ])('%s, as a spec that skipped the schema may hold, is no duration rather than a throw', (_name, value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each<[string, number, string]>([
    ['zero is 0s', 0, '0s'],
    ['seconds only', 45_000, '45s'],
    ['a fraction of a second keeps its fraction', 500, '0.5s'],
    ['minutes carry zero seconds', 5 * 60_000, '5m0s'],
    ['hours carry zero minutes and seconds, as Go prints them', 3_600_000, '1h0m0s'],
    ['hours, minutes and seconds together', 3_723_000, '1h2m3s'],
    ['more than a day stays in hours', 26 * 3_600_000, '26h0m0s'],
    ['a negative duration gets a minus sign', -90_000, '-1m30s'],
    ['fractional milliseconds round', 1_000.4, '1s'],
  ])('%s', (_name, ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it.each(['1h', '90m', '1h30m', '45s', '5m', '11h59m59s', '500ms'])('what it prints for %s parses back to the same length', (text) => {
    const ms = parseDuration(text)!;
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
