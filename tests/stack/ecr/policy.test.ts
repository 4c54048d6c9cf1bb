import { actionMatches, evaluatePolicy, parsePolicy, PolicyError, principalMatches, type PolicyDocument } from './policy.ts';
import { defaultPolicy } from './registries.ts';

const WEB_IDENTITY = 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/ecr-credential-sync';
const CENTRAL_SESSION = 'arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/ecr-credential-sync';
const MOTO_USER = 'arn:aws:sts::123456789012:user/moto';

describe('principal matching', () => {
  it.each<[string, string, string, boolean]>([
    ['"*" matches anyone', '*', MOTO_USER, true],
    ['an account root matches a role session of that account', 'arn:aws:iam::222222222222:root', WEB_IDENTITY, true],
    ['an account root does not match another account', 'arn:aws:iam::111111111111:root', WEB_IDENTITY, false],
    ['a bare account id is that account root', '222222222222', WEB_IDENTITY, true],
    ['a role matches its assumed-role sessions', 'arn:aws:iam::111111111111:role/CentralECRPullRole', CENTRAL_SESSION, true],
    ['a role with a path matches sessions named by the role name alone', 'arn:aws:iam::111111111111:role/platform/CentralECRPullRole', CENTRAL_SESSION, true],
    ['a role does not match a session of another role', 'arn:aws:iam::222222222222:role/other', WEB_IDENTITY, false],
    ['a role does not match the same name in another account', 'arn:aws:iam::333333333333:role/CentralECRPullRole', CENTRAL_SESSION, false],
    ['a session ARN matches itself exactly', CENTRAL_SESSION, CENTRAL_SESSION, true],
    ['a session ARN does not match another session of the role', 'arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/other', CENTRAL_SESSION, false],
    ['a user ARN does not match a role session of its account', 'arn:aws:iam::222222222222:user/ecr-credential-sync', WEB_IDENTITY, false],
  ])('%s', (_title, pattern, caller, expected) => {
    expect(principalMatches(pattern, caller)).toBe(expected);
  });
});

describe('action matching', () => {
  it.each<[string, string, string, boolean]>([
    ['an exact action matches', 'ecr:BatchGetImage', 'ecr:BatchGetImage', true],
    ['case does not matter', 'ECR:batchgetimage', 'ecr:BatchGetImage', true],
    ['ecr:* matches every ECR action', 'ecr:*', 'ecr:PutImage', true],
    ['* matches every action', '*', 'ecr:PutImage', true],
    ['a prefix wildcard matches actions that start with it', 'ecr:Batch*', 'ecr:BatchCheckLayerAvailability', true],
    ['a prefix wildcard does not match other actions', 'ecr:Batch*', 'ecr:PutImage', false],
    ['? matches one character', 'ecr:PutImag?', 'ecr:PutImage', true],
    ['another service does not match', 's3:*', 'ecr:BatchGetImage', false],
  ])('%s', (_title, pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });
});

const allowAccountPull: PolicyDocument = {
  Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::222222222222:root' }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'] }],
};

describe('policy evaluation', () => {
  it.each<[string, PolicyDocument | undefined, string, string, string]>([
    ['no policy denies', undefined, WEB_IDENTITY, 'ecr:BatchGetImage', 'implicit-deny'],
    ['an empty policy denies', { Statement: [] }, WEB_IDENTITY, 'ecr:BatchGetImage', 'implicit-deny'],
    ['an Allow for the principal and action allows', allowAccountPull, WEB_IDENTITY, 'ecr:BatchGetImage', 'allow'],
    ['an Allow for other actions does not allow a push', allowAccountPull, WEB_IDENTITY, 'ecr:PutImage', 'implicit-deny'],
    ['an Allow for another account does not allow', allowAccountPull, CENTRAL_SESSION, 'ecr:BatchGetImage', 'implicit-deny'],
    [
      'a Deny wins over an Allow',
      { Statement: [...allowAccountPull.Statement, { Effect: 'Deny', Principal: '*', Action: 'ecr:*' }] },
      WEB_IDENTITY,
      'ecr:BatchGetImage',
      'explicit-deny',
    ],
    [
      'a Deny for another principal leaves the Allow standing',
      { Statement: [...allowAccountPull.Statement, { Effect: 'Deny', Principal: { AWS: ['arn:aws:iam::111111111111:root'] }, Action: 'ecr:*' }] },
      WEB_IDENTITY,
      'ecr:BatchGetImage',
      'allow',
    ],
    ['Principal "*" allows anyone', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' }] }, MOTO_USER, 'ecr:BatchGetImage', 'allow'],
    ['the 111 default lets the central role pull', defaultPolicy({ account: '111111111111', region: 'us-east-1' }), CENTRAL_SESSION, 'ecr:GetDownloadUrlForLayer', 'allow'],
    ['the 111 default lets the workload account pull', defaultPolicy({ account: '111111111111', region: 'eu-west-1' }), WEB_IDENTITY, 'ecr:BatchGetImage', 'allow'],
    ['the 111 default does not let the central role push', defaultPolicy({ account: '111111111111', region: 'us-east-1' }), CENTRAL_SESSION, 'ecr:PutImage', 'implicit-deny'],
    [
      'the 111 default lets its RegistryAdmin push',
      defaultPolicy({ account: '111111111111', region: 'us-east-1' }),
      'arn:aws:sts::111111111111:assumed-role/RegistryAdmin/stack-seed',
      'ecr:InitiateLayerUpload',
      'allow',
    ],
    ['the 222 default does not let the central role pull', defaultPolicy({ account: '222222222222', region: 'us-east-1' }), CENTRAL_SESSION, 'ecr:BatchGetImage', 'implicit-deny'],
    [
      'the 222 default does not let the 111 RegistryAdmin push',
      defaultPolicy({ account: '222222222222', region: 'us-east-1' }),
      'arn:aws:sts::111111111111:assumed-role/RegistryAdmin/stack-seed',
      'ecr:PutImage',
      'implicit-deny',
    ],
  ])('%s', (_title, policy, caller, action, expected) => {
    expect(evaluatePolicy(policy, caller, action)).toBe(expected);
  });
});

describe('policy parsing', () => {
  it('accepts a policy as JSON text, with a single Statement object', () => {
    const text = JSON.stringify({ Version: '2012-10-17', Statement: { Sid: 'one', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'ecr:*' } });
    expect(parsePolicy(text)).toEqual({ Version: '2012-10-17', Statement: [{ Sid: 'one', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'ecr:*' }] });
  });

  it.each<[string, unknown, RegExp]>([
    ['refuses a policy without statements', { Version: '2012-10-17' }, /needs a Statement/],
    ['refuses an unknown Effect', { Statement: [{ Effect: 'Maybe', Principal: '*', Action: 'ecr:*' }] }, /Effect must be Allow or Deny/],
    ['refuses a Principal that is not "*" or {AWS}', { Statement: [{ Effect: 'Allow', Principal: { Service: 'x' }, Action: 'ecr:*' }] }, /Principal must be/],
    ['refuses an empty Action list', { Statement: [{ Effect: 'Allow', Principal: '*', Action: [] }] }, /Action must be/],
    ['refuses a Condition, which the stack does not model', { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Condition: {} }] }, /Condition is not modelled/],
  ])('%s', (_title, policy, message) => {
    expect(() => parsePolicy(policy)).toThrow(PolicyError);
    expect(() => parsePolicy(policy)).toThrow(message);
  });
});
