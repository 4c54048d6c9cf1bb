import { type CronSchedule, nextCronTime, parseCron } from './cron.ts';

function schedule(expression: string): CronSchedule {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.schedule;
}

const next = (expression: string, after: string) => nextCronTime(schedule(expression), new Date(after))?.toISOString();

describe('parseCron', () => {
  it.each<[string, string, RegExp]>([
    ['a single word is not enough fields', 'abc', /expected 5 or 6 fields but got 1/],
    ['seven fields are too many', '0 0 * * 1 extra junk', /expected 5 or 6 fields/],
    ['minute 61 is out of range', '61 * * * *', /61 is a invalid expression for minute/],
    ['hour 24 is out of range', '0 24 * * *', /hour/],
    ['day-of-month 0 is out of range', '0 0 0 * *', /day of month/],
    ['month 13 is out of range', '0 0 * 13 *', /month/],
    ['day-of-week 8 is out of range', '0 0 * * 8', /week day/],
    ['February 30th can never happen', '0 0 30 2 *', /impossible day of month/],
    ['an empty string is not a schedule', '', /illegal characters/],
    ['@reboot is not a schedule', '@reboot', /illegal characters/],
  ])('%s (%j)', (_name, expression, why) => {
    const parsed = parseCron(expression);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toContain(`schedule "${expression}" is not a valid cron expression: `);
    expect(parsed.message).toMatch(why);
  });

  it.each<[string, unknown]>([
    ['an object whose toString is not a function', { toString: [] }],
    ['a number', 5],
    ['null', null],
  ])('%s is no schedule, and says so rather than throw', (_name, value) => {
    expect(parseCron(value)).toEqual({ ok: false, message: 'schedule must be a cron expression' });
  });

  // node-cron accepts these, but nextCronTime cannot evaluate them; they used to be accepted and then never fire.
  it.each<[string, string]>([
    ['the day before the last day of the month', '0 0 L-1 * *'],
    ['the last weekday of the month', '0 0 LW * *'],
    ['the weekday nearest the 15th', '0 0 15W * *'],
    ['the second Monday of the month', '0 0 * * 1#2'],
    ['the last Friday of the month', '0 0 * * 5L'],
  ])('a schedule using %s (%j) is rejected as unsupported, not accepted and silently never fired', (_name, expression) => {
    const parsed = parseCron(expression);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/not supported/);
  });

  it.each<[string, string, Partial<Record<keyof CronSchedule, unknown>>]>([
    ['every six hours fires on the hour at 0, 6, 12 and 18', '0 */6 * * *', { hours: new Set([0, 6, 12, 18]), minutes: new Set([0]), seconds: new Set([0]), dayFieldsOr: false }],
    ['Sunday may be written 7 and is read as 0', '0 0 * * 7', { daysOfWeek: new Set([0]) }],
    ['month and day names are read', '0 0 * jan,feb mon', { months: new Set([1, 2]), daysOfWeek: new Set([1]) }],
    ['L is the last day of the month', '0 0 L * *', { lastDayOfMonth: true, daysOfMonth: new Set() }],
    ['L may be listed with other days', '0 0 L,15 * *', { lastDayOfMonth: true, daysOfMonth: new Set([15]) }],
    ['both day fields restricted means either may match', '0 0 13 * 5', { dayFieldsOr: true }],
    ['a ? in one day field means only the other restricts', '0 0 ? * 5', { dayFieldsOr: false }],
    ['a six-field expression has seconds first', '*/30 * * * * *', { seconds: new Set([0, 30]), dayFieldsOr: false }],
    ['a macro never combines day fields with OR', '@weekly', { dayFieldsOr: false, daysOfWeek: new Set([0]) }],
  ])('%s (%j)', (_name, expression, expected) => {
    expect(schedule(expression)).toMatchObject(expected);
  });
});

describe('nextCronTime', () => {
  it.each<[string, string, string, string]>([
    ['every 6h fires at the next 6-hour mark', '0 */6 * * *', '2025-01-15T02:00:00Z', '2025-01-15T06:00:00.000Z'],
    ['every 6h fires strictly after a time that is itself a tick', '0 */6 * * *', '2025-01-15T06:00:00Z', '2025-01-15T12:00:00.000Z'],
    ['every 6h treats milliseconds before a tick as before it', '0 */6 * * *', '2025-01-15T05:59:59.500Z', '2025-01-15T06:00:00.000Z'],
    ['every 6h rolls over midnight', '0 */6 * * *', '2025-01-15T23:59:59Z', '2025-01-16T00:00:00.000Z'],
    ['every 6h rolls over the year', '0 */6 * * *', '2025-12-31T18:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['a day-of-week schedule waits for the next Monday', '0 9 * * 1', '2025-01-15T00:00:00Z', '2025-01-20T09:00:00.000Z'],
    ['Sunday written as 7 fires on Sunday', '0 0 * * 7', '2025-01-15T00:00:00Z', '2025-01-19T00:00:00.000Z'],
    ['a weekday range skips the weekend', '30 8 * * mon-fri', '2025-01-17T09:00:00Z', '2025-01-20T08:30:00.000Z'],
    ['@weekly fires at midnight on Sunday', '@weekly', '2025-01-15T12:00:00Z', '2025-01-19T00:00:00.000Z'],
    ['@daily fires at the next midnight', '@daily', '2025-01-15T12:00:00Z', '2025-01-16T00:00:00.000Z'],
    ['@hourly fires at the next hour', '@hourly', '2025-01-15T12:34:56Z', '2025-01-15T13:00:00.000Z'],
    ['L fires on the last day of a short month', '0 0 L * *', '2025-02-03T00:00:00Z', '2025-02-28T00:00:00.000Z'],
    ['L fires on February 29th in a leap year', '0 0 L * *', '2024-02-03T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['L fires on the 31st in a long month', '0 0 L * *', '2025-01-15T00:00:00Z', '2025-01-31T00:00:00.000Z'],
    ['both day fields restricted: the 13th matches though it is a Monday', '0 0 13 * 5', '2025-01-11T00:00:00Z', '2025-01-13T00:00:00.000Z'],
    ['both day fields restricted: a Friday matches though it is not the 13th', '0 0 13 * 5', '2025-01-14T00:00:00Z', '2025-01-17T00:00:00.000Z'],
    ['only the day of week restricted: any Friday matches', '0 0 * * 5', '2025-01-11T00:00:00Z', '2025-01-17T00:00:00.000Z'],
    ['L or Monday: a Monday comes first', '0 0 L * 1', '2025-01-21T00:00:00Z', '2025-01-27T00:00:00.000Z'],
    ['L or Monday: the last day comes first', '0 0 L * 1', '2025-01-28T00:00:00Z', '2025-01-31T00:00:00.000Z'],
    ['a month restriction waits for that month', '0 0 1 7 *', '2025-01-15T00:00:00Z', '2025-07-01T00:00:00.000Z'],
    ['a month restriction wraps into next year', '0 0 * 2 *', '2025-03-01T00:00:00Z', '2026-02-01T00:00:00.000Z'],
    ['a yearly schedule fires next New Year', '0 0 1 1 *', '2025-01-15T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['the 31st skips months that have 30 days', '0 0 31 * *', '2025-04-01T00:00:00Z', '2025-05-31T00:00:00.000Z'],
    ['February 29th waits for a leap year', '0 0 29 2 *', '2025-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['seconds count in a six-field schedule', '*/30 * * * * *', '2025-01-15T00:00:10Z', '2025-01-15T00:00:30.000Z'],
    ['a six-field schedule with a fixed second', '15 0 12 * * *', '2025-01-15T12:00:15Z', '2025-01-16T12:00:15.000Z'],
    ['every minute fires at the next minute', '* * * * *', '2025-01-15T00:00:00.999Z', '2025-01-15T00:01:00.000Z'],
  ])('%s (%j after %s)', (_name, expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });

  it('a schedule that can never fire yields undefined rather than searching forever', () => {
    const never: CronSchedule = {
      seconds: new Set([0]),
      minutes: new Set([0]),
      hours: new Set([0]),
      daysOfMonth: new Set(),
      lastDayOfMonth: false,
      months: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
      daysOfWeek: new Set([0, 1, 2, 3, 4, 5, 6]),
      dayFieldsOr: false,
    };
    const started = performance.now();
    expect(nextCronTime(never, new Date('2025-01-15T00:00:00Z'))).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('every answer is strictly after the given time and itself a tick', () => {
    const s = schedule('0 */6 * * *');
    let t = new Date('2025-01-15T01:23:45.678Z');
    for (let i = 0; i < 10; i++) {
      const n = nextCronTime(s, t)!;
      expect(n.getTime()).toBeGreaterThan(t.getTime());
      expect(n.getUTCHours() % 6).toBe(0);
      expect(n.getUTCMinutes()).toBe(0);
      t = n;
    }
  });
});
