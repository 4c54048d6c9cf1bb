// Cron expressions, parsed by node-cron, and the next time one fires (UTC, pure).
import cron from 'node-cron';

export interface CronSchedule {
  seconds: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  lastDayOfMonth: boolean;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, either may match. */
  dayFieldsOr: boolean;
}

export type CronParse = { ok: true; schedule: CronSchedule } | { ok: false; message: string };

export function parseCron(expression: unknown): CronParse {
  if (typeof expression !== 'string') return { ok: false, message: 'schedule must be a cron expression' };
  const checked = cron.validateDetailed(expression);
  if (!checked.valid || !checked.fields) {
    const why = checked.errors.map((e) => e.message).join('; ') || 'not a cron expression';
    return { ok: false, message: `schedule "${expression}" is not a valid cron expression: ${why}` };
  }
  const f = checked.fields;
  // node-cron also accepts L-n, nW, LW, n#k and nL; nextCronTime cannot evaluate them, so they would never fire.
  const unsupported = [...f.dayOfMonth.filter((v) => typeof v === 'string' && v !== 'L'), ...f.dayOfWeek.filter((v) => typeof v === 'string')];
  if (unsupported.length > 0) {
    return { ok: false, message: `schedule "${expression}" is not a valid cron expression: ${unsupported.join(', ')} is not supported` };
  }
  const numbers = (values: (number | string)[]) => new Set(values.filter((v): v is number => typeof v === 'number'));
  const daysOfMonth = numbers(f.dayOfMonth);
  const lastDayOfMonth = f.dayOfMonth.includes('L');
  const daysOfWeek = new Set([...numbers(f.dayOfWeek)].map((d) => d % 7));
  const fields = expression.trim().split(/\s+/);
  const domField = fields.length === 6 ? fields[3] : fields[2];
  const dowField = fields.length === 6 ? fields[5] : fields[4];
  const restricted = (field: string | undefined) => field !== undefined && field !== '*' && field !== '?';
  return {
    ok: true,
    schedule: {
      seconds: new Set(f.second),
      minutes: new Set(f.minute),
      hours: new Set(f.hour),
      daysOfMonth,
      lastDayOfMonth,
      months: new Set(f.month),
      daysOfWeek,
      dayFieldsOr: restricted(domField) && restricted(dowField) && !expression.startsWith('@'),
    },
  };
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = d.getUTCDate();
  const lastDom = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  const domOk = s.daysOfMonth.has(dom) || (s.lastDayOfMonth && dom === lastDom);
  const dowOk = s.daysOfWeek.has(d.getUTCDay());
  return s.dayFieldsOr ? domOk || dowOk : domOk && dowOk;
}

const MAX_SEARCH_MS = 5 * 366 * 24 * 3_600_000;

/** The first time strictly after `after` at which the schedule fires, or undefined if none within 5 years. */
export function nextCronTime(s: CronSchedule, after: Date): Date | undefined {
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + MAX_SEARCH_MS;
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!s.seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  return undefined;
}
