import { hostAllowed, hostMatches, isHostPattern } from './hostnames.ts';

describe('hostMatches', () => {
  it.each<[string, string, string, boolean]>([
    ['a pattern without a port matches the host alone', '127.0.0.1', '127.0.0.1', true],
    ['a pattern without a port matches the host on any port', '127.0.0.1', '127.0.0.1:40123', true],
    ['a pattern with a port matches only that port', 'mirror.corp:5000', 'mirror.corp:5000', true],
    ['a pattern with a port does not match another port', 'mirror.corp:5000', 'mirror.corp:5001', false],
    ['a pattern with a port does not match the host without one', 'mirror.corp:5000', 'mirror.corp', false],
    ['a star port matches any port but needs one', '127.0.0.1:*', '127.0.0.1', false],
    ['a star in the host matches any run of labels', '*.amazonaws.com', 'a.dkr.ecr.us-east-1.amazonaws.com', true],
    ['a star before a dot needs that dot', '*.amazonaws.com', 'evilamazonaws.com', false],
    ['a pattern is anchored at the end', '*.amazonaws.com', 'x.amazonaws.com.evil.io', false],
    ['a dot is literal', '127.0.0.1', '127a0a0a1', false],
  ])('%s (%j vs %j)', (_name, pattern, host, expected) => {
    expect(hostMatches(pattern, host)).toBe(expected);
  });
});

describe('hostAllowed', () => {
  it.each<[string, string, string[], boolean]>([
    ['an ECR host needs no allowlist', '111111111111.dkr.ecr.eu-west-1.amazonaws.com', [], true],
    ['a China ECR host needs no allowlist', '111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn', [], true],
    ['a dual-stack ECR host needs no allowlist', '111111111111.dkr-ecr.us-east-1.on.aws', [], true],
    ['another host on on.aws is not ECR', 'abc.lambda-url.us-east-1.on.aws', [], false],
    ['docker.io is refused without an allowlist', 'docker.io', [], false],
    ['a host the allowlist matches is allowed', '127.0.0.1:40123', ['127.0.0.1'], true],
    ['a host no pattern matches is refused', 'docker.io', ['127.0.0.1', '*.mirror.corp'], false],
  ])('%s', (_name, host, allowed, expected) => {
    expect(hostAllowed(host, allowed)).toBe(expected);
  });
});

describe('isHostPattern', () => {
  it.each<[string, string, boolean]>([
    ['an address', '127.0.0.1', true],
    ['a glob with a port', '*.mirror.corp:5000', true],
    ['a glob port', 'mirror.corp:*', true],
    ['a scheme is not a host', 'https://mirror.corp', false],
    ['a path is not a host', 'mirror.corp/v2', false],
    ['capitals are not lower-case', 'Mirror.corp', false],
    ['a port of letters is no port', 'mirror.corp:http', false],
  ])('%s: %j', (_name, pattern, expected) => {
    expect(isHostPattern(pattern)).toBe(expected);
  });
});
