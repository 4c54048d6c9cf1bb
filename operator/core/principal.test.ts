import { stablePrincipal } from './principal.ts';

describe('stablePrincipal', () => {
  it.each<[string, string, string | undefined]>([
    ['an assumed role drops its session name', 'arn:aws:sts::123456789012:assumed-role/RoleName/session', 'arn:aws:sts::123456789012:assumed-role/RoleName'],
    [
      'an EKS Pod Identity session, named for the pod, reads the same from every pod',
      'arn:aws:sts::123456789012:assumed-role/ecr-sync/eks-prod-ecr-crede-6f1c2b9e-0a4d-4c1e-9f7a-2b3c4d5e6f70',
      'arn:aws:sts::123456789012:assumed-role/ecr-sync',
    ],
    ['an instance role\'s session, named for the instance, reads the same from every node', 'arn:aws:sts::123456789012:assumed-role/node-role/i-0abc1234def567890', 'arn:aws:sts::123456789012:assumed-role/node-role'],
    ['an SSO permission set drops the user\'s session', 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/jane@example.com', 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd'],
    ['the China partition keeps its partition', 'arn:aws-cn:sts::123456789012:assumed-role/RoleName/session', 'arn:aws-cn:sts::123456789012:assumed-role/RoleName'],
    ['GovCloud keeps its partition', 'arn:aws-us-gov:sts::123456789012:assumed-role/RoleName/session', 'arn:aws-us-gov:sts::123456789012:assumed-role/RoleName'],
    ['an IAM user (static keys) is as it is', 'arn:aws:iam::123456789012:user/ci-puller', 'arn:aws:iam::123456789012:user/ci-puller'],
    ['an IAM user with a path is as it is', 'arn:aws-us-gov:iam::123456789012:user/team/ci-puller', 'arn:aws-us-gov:iam::123456789012:user/team/ci-puller'],
    ['the account root is as it is', 'arn:aws:iam::123456789012:root', 'arn:aws:iam::123456789012:root'],
    ['a federated user is as it is', 'arn:aws:sts::123456789012:federated-user/jane', 'arn:aws:sts::123456789012:federated-user/jane'],
    ['an assumed role never has a path: a third slash is malformed', 'arn:aws:sts::123456789012:assumed-role/team/RoleName/session', undefined],
    ['an assumed role without a session is malformed', 'arn:aws:sts::123456789012:assumed-role/RoleName', undefined],
    ['an assumed role with an empty session is malformed', 'arn:aws:sts::123456789012:assumed-role/RoleName/', undefined],
    ['an assumed role with an empty role is malformed', 'arn:aws:sts::123456789012:assumed-role//session', undefined],
    ['an assumed role in a region is malformed', 'arn:aws:sts:us-east-1:123456789012:assumed-role/RoleName/session', undefined],
    ['an account of other than 12 digits is malformed', 'arn:aws:iam::12345:user/ci', undefined],
    ['a partition that is not AWS\'s is malformed', 'arn:gcp:iam::123456789012:user/ci', undefined],
    ['text that is no ARN is malformed', 'not an arn', undefined],
    ['an empty answer is malformed', '', undefined],
    ['whitespace in the resource is malformed', 'arn:aws:iam::123456789012:user/ci puller', undefined],
    ['a newline after the ARN is malformed', 'arn:aws:iam::123456789012:user/ci\n', undefined],
    ['an ARN of over 2048 characters is malformed', `arn:aws:iam::123456789012:user/${'a'.repeat(2048)}`, undefined],
  ])('%s', (_name, arn, expected) => {
    expect(stablePrincipal(arn)).toBe(expected);
  });
});
