import { DEFAULT_TOKEN_DIRS, underAllowedDir } from './token-file.ts';

describe('underAllowedDir', () => {
  it.each<[string, string, boolean]>([
    ['the IRSA token is allowed', '/var/run/secrets/eks.amazonaws.com/serviceaccount/token', true],
    ['the OpenShift token is allowed', '/var/run/secrets/openshift/serviceaccount/token', true],
    ['a token in a projected ..data directory below it is allowed', '/var/run/secrets/eks.amazonaws.com/serviceaccount/..2026_11_24/token', true],
    ['/dev/zero is refused', '/dev/zero', false],
    ['a sibling directory that only shares a prefix is refused', '/var/run/secrets/eks.amazonaws.com/serviceaccount-evil/token', false],
    ['the directory itself is refused', '/var/run/secrets/eks.amazonaws.com/serviceaccount', false],
    ['a path that climbs out with .. is refused', '/var/run/secrets/eks.amazonaws.com/serviceaccount/../../kubernetes.io/serviceaccount/token', false],
    ['a relative path is refused', 'var/run/secrets/eks.amazonaws.com/serviceaccount/token', false],
  ])('%s', (_name, path, allowed) => {
    expect(underAllowedDir(path, DEFAULT_TOKEN_DIRS)).toBe(allowed);
  });

  it('allows nothing when no directory is allowed, and ignores an empty entry', () => {
    expect(underAllowedDir('/var/run/token', [])).toBe(false);
    expect(underAllowedDir('/var/run/token', [''])).toBe(false);
  });
});
