// Go-style durations ("1h", "90m", "1h30m", "1.5h", "500ms"), as the CRD accepts them.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds, or undefined when the value is not a non-negative duration (or not a string at all). */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || !WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  const negative = ms < 0;
  let rest = Math.abs(Math.round(ms));
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  const text = `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
  return negative ? `-${text}` : text;
}
