import { globMatch } from './glob.ts';

describe('globMatch', () => {
  it.each<[string, string, string, boolean]>([
    ['an empty pattern matches only the empty name', '', '', true],
    ['an empty pattern does not match a name', '', 'a', false],
    ['a star alone matches the empty name', '*', '', true],
    ['a star alone matches any name', '*', 'kube-system', true],
    ['a plain name matches itself', 'default', 'default', true],
    ['a plain name does not match a longer name', 'team', 'team-a', false],
    ['a plain name does not match a shorter name', 'team-a', 'team', false],
    ['a trailing star matches any suffix', 'kube-*', 'kube-system', true],
    ['a trailing star matches an empty suffix', 'kube-*', 'kube-', true],
    ['a leading star matches any prefix', '*-prod', 'billing-prod', true],
    ['a leading star still needs the rest to end the name', '*-prod', 'billing-prod-2', false],
    ['a middle star matches any run between the fixed parts', 'team-*-prod', 'team-a-b-prod', true],
    ['a middle star needs both fixed parts', 'team-*-prod', 'team-a-dev', false],
    ['a question mark matches exactly one character', 'team-?', 'team-a', true],
    ['a question mark does not match nothing', 'team-?', 'team-', false],
    ['a question mark does not match two characters', 'team-?', 'team-ab', false],
    ['stars and question marks combine', '?-*-?', 'a-bcd-e', true],
    ['consecutive stars act as one', 'a**b', 'ab', true],
    ['a star retries after a partial match of the rest', '*ab', 'aab', true],
    ['a star retries across several partial matches', '*aab', 'aaaab', true],
    ['two stars retry independently', '*a*b', 'xxaxxb', true],
    ['two stars fail when the last fixed part is missing', '*a*b', 'xxaxxc', false],
    ['regex characters are literal', 'a+b', 'aab', false],
    ['regex characters match themselves', 'a+b', 'a+b', true],
    ['brackets are literal', '[ab]', 'a', false],
    ['a dot is literal', 'a.b', 'axb', false],
  ])('%s (%j vs %j)', (_title, pattern, name, expected) => {
    expect(globMatch(pattern, name)).toBe(expected);
  });

  // A backtracking regex (/^.*.*…x$/) takes exponential time here: 39 s for one match.
  const pathological = '*'.repeat(12) + 'x';
  const name = 'a'.repeat(27);

  it('answers the twelve-star pattern against a 27-character name that does not end in x: no match', () => {
    expect(globMatch(pathological, name)).toBe(false);
  });

  it('answers a thousand twelve-star matches, each no match', () => {
    let matches = 0;
    for (let i = 0; i < 1000; i++) if (globMatch(pathological, name + String(i % 10))) matches++;
    expect(matches).toBe(0);
  });

  it('answers the longest pattern the CRD admits against the longest name: no match', () => {
    const pattern = '*a*a*a*a' + 'a'.repeat(54) + 'x';
    expect(pattern).toHaveLength(63);
    expect(globMatch(pattern, 'a'.repeat(63))).toBe(false);
  });

  it('matches the same twelve-star pattern when the name ends in x', () => {
    expect(globMatch(pathological, 'a'.repeat(26) + 'x')).toBe(true);
  });

  it('agrees with an anchored regex on every short pattern and name', () => {
    const strings = (alphabet: string[], max: number): string[] => {
      const out = [''];
      for (let i = 0; i < out.length; i++) if (out[i]!.length < max) for (const c of alphabet) out.push(out[i] + c);
      return out;
    };
    const names = strings(['a', 'b'], 5);
    const disagreements: string[] = [];
    for (const pattern of strings(['a', 'b', '*', '?'], 4)) {
      const re = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      for (const name of names) if (globMatch(pattern, name) !== re.test(name)) disagreements.push(`${pattern} vs ${name}`);
    }
    expect(disagreements).toEqual([]);
  });
});
