import { HOUR, MINUTE } from '../testing/fakes.ts';
import { mayShare, sharingKey } from './token-sharing.ts';

const FETCHED = new Date('2025-01-15T06:00:00Z');
const at = (offsetMs: number) => new Date(FETCHED.getTime() + offsetMs);

describe('mayShare', () => {
  it.each<[string, Date, Date, boolean]>([
    ['a 12 h token is shared the moment it arrives', at(12 * HOUR), at(0), true],
    ['a 12 h token is shared 7 minutes later', at(12 * HOUR), at(7 * MINUTE), true],
    ['a 12 h token is shared exactly 1 % of its life later', at(12 * HOUR), at(7.2 * MINUTE), true],
    ['a 12 h token is not shared 8 minutes later', at(12 * HOUR), at(8 * MINUTE), false],
    ['a 60 s token is shared for 0.6 s and no longer', at(60_000), at(601), false],
    ['a 60 s token is shared within its first 0.6 s', at(60_000), at(600), true],
    ['a token that expires as it is fetched is never shared', at(0), at(0), false],
    ['a token that expired before it was fetched is never shared', at(-HOUR), at(0), false],
    ['a token with no readable expiry is never shared', new Date(Number.NaN), at(0), false],
    ['a token fetched after now (a clock step back) is not shared', at(12 * HOUR), at(-1), false],
  ])('%s', (_name, expiresAt, now, expected) => {
    expect(mayShare(FETCHED, expiresAt, now)).toBe(expected);
  });

  it.each<[string, Date, boolean]>([
    ['a sync whose own token is older than it is given it', at(-MINUTE), true],
    ['a sync whose own token it is is not given it back', at(0), false],
    ['a sync whose own token is newer is not given it', at(MINUTE), false],
  ])('%s', (_name, newerThan, expected) => {
    expect(mayShare(FETCHED, at(12 * HOUR), at(2 * MINUTE), newerThan)).toBe(expected);
  });
});

describe('sharingKey', () => {
  const base = { kind: 'environment' } as const;
  it.each<[string, Parameters<typeof sharingKey>[0], Parameters<typeof sharingKey>[0], boolean]>([
    ['the same chain in the same region is one key', { chain: { base }, service: 'ecr', region: 'us-east-1' }, { chain: { base }, service: 'ecr', region: 'us-east-1' }, true],
    ['another region is another key', { chain: { base }, service: 'ecr', region: 'us-east-1' }, { chain: { base }, service: 'ecr', region: 'eu-west-1' }, false],
    ['ECR Public is apart from private us-east-1', { chain: { base }, service: 'ecr', region: 'us-east-1' }, { chain: { base }, service: 'ecr-public', region: 'us-east-1' }, false],
    ['an assumed role is another key', { chain: { base }, service: 'ecr', region: 'us-east-1' }, { chain: { base, assumeRole: { roleArn: 'arn:aws:iam::1:role/r' } }, service: 'ecr', region: 'us-east-1' }, false],
    ['another status identity (the default chain under another principal) is another key', { chain: { base }, service: 'ecr', region: 'us-east-1', identity: 'operator default credentials (arn:aws:sts::1:assumed-role/a)' }, { chain: { base }, service: 'ecr', region: 'us-east-1', identity: 'operator default credentials (arn:aws:sts::1:assumed-role/b)' }, false],
    ['another external id is another key', { chain: { base, assumeRole: { roleArn: 'arn:aws:iam::1:role/r', externalId: 'a' } }, service: 'ecr', region: 'us-east-1' }, { chain: { base, assumeRole: { roleArn: 'arn:aws:iam::1:role/r', externalId: 'b' } }, service: 'ecr', region: 'us-east-1' }, false],
    [
      'ServiceAccounts of two namespaces are two keys',
      { chain: { base: { kind: 'serviceAccount', namespace: 'a', name: 'puller', audience: 'sts.amazonaws.com', roleArn: 'arn:aws:iam::1:role/r' } }, service: 'ecr', region: 'us-east-1' },
      { chain: { base: { kind: 'serviceAccount', namespace: 'b', name: 'puller', audience: 'sts.amazonaws.com', roleArn: 'arn:aws:iam::1:role/r' } }, service: 'ecr', region: 'us-east-1' },
      false,
    ],
    [
      'one ServiceAccount under another annotated role is another key',
      { chain: { base: { kind: 'serviceAccount', namespace: 'a', name: 'puller', audience: 'sts.amazonaws.com', roleArn: 'arn:aws:iam::1:role/r' } }, service: 'ecr', region: 'us-east-1' },
      { chain: { base: { kind: 'serviceAccount', namespace: 'a', name: 'puller', audience: 'sts.amazonaws.com', roleArn: 'arn:aws:iam::1:role/r2' } }, service: 'ecr', region: 'us-east-1' },
      false,
    ],
  ])('%s', (_name, a, b, same) => {
    expect(sharingKey(a) === sharingKey(b)).toBe(same);
  });
});
