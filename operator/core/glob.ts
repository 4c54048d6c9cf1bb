// Namespace globs: `*` matches any run of characters, `?` exactly one, everything else itself.
// Matched without a regex: a backtracking one takes exponential time on patterns such as
// `************x` (39 s for a 27-character name), and patterns come from any sync's author.

/**
 * Whether the glob matches the whole name. At most O(pattern × name) steps: on a mismatch only the
 * last `*` seen is retried, one character further on, because any earlier star's choice is covered
 * by the later star absorbing more.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1; // index in pattern of the last `*` seen
  let resume = 0; // index in name where that star's run currently ends
  while (n < name.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      resume = n;
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
