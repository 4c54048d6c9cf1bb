import { type Credential, decodeAuthorizationToken, dockerConfigJson, InvalidTokenError, registryHost, registryHosts } from './dockerconfig.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('registryHost', () => {
  it.each<[string, string, string, string]>([
    ['a commercial region is under amazonaws.com', '123456789012', 'us-east-1', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
    ['a GovCloud region is under amazonaws.com', '123456789012', 'us-gov-west-1', '123456789012.dkr.ecr.us-gov-west-1.amazonaws.com'],
    ['a China region is under amazonaws.com.cn', '123456789012', 'cn-north-1', '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn'],
    ['the other China region too', '123456789012', 'cn-northwest-1', '123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn'],
  ])('%s', (_name, account, region, expected) => {
    expect(registryHost(account, region)).toBe(expected);
  });

  it('ECR Public has one host, public.ecr.aws, whatever the account', () => {
    expect(registryHosts({ public: true })).toEqual(['public.ecr.aws']);
    expect(registryHosts({ public: true, region: 'us-east-1' })).toEqual(['public.ecr.aws']);
  });

  it('extra hostnames come after the ECR host', () => {
    expect(registryHosts({ accountId: '123456789012', region: 'eu-west-1', hostnames: ['mirror.example.com:5000'] })).toEqual([
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      'mirror.example.com:5000',
    ]);
  });
});

describe('dockerConfigJson', () => {
  const cred: Credential = { username: 'AWS', password: 'pa:ss' };
  const hosts = ['222222222222.dkr.ecr.us-east-1.amazonaws.com', '111111111111.dkr.ecr.eu-west-1.amazonaws.com', 'mirror.example.com'];

  it('lists hosts in sorted order, whatever order they were added in', () => {
    const json = dockerConfigJson(new Map(hosts.map((h) => [h, cred])));
    expect(Object.keys(JSON.parse(json).auths)).toEqual([...hosts].sort());
  });

  it('serializes equal content to equal bytes', () => {
    const a = dockerConfigJson(new Map(hosts.map((h) => [h, cred])));
    const b = dockerConfigJson(new Map([...hosts].reverse().map((h) => [h, cred])));
    expect(a).toBe(b);
  });

  it('sets auth to base64 of user:password, alongside username and password', () => {
    const auths = JSON.parse(dockerConfigJson(new Map([[hosts[0]!, cred]]))).auths;
    expect(auths[hosts[0]!]).toEqual({ username: 'AWS', password: 'pa:ss', auth: b64('AWS:pa:ss') });
  });

  it('keys hosts without a scheme', () => {
    const json = dockerConfigJson(new Map(hosts.map((h) => [h, cred])));
    expect(json).not.toContain('https://');
    expect(json).not.toContain('http://');
  });

  it('is an empty auths object for no hosts', () => {
    expect(dockerConfigJson(new Map())).toBe('{"auths":{}}');
  });
});

describe('decodeAuthorizationToken', () => {
  it.each<[string, string, Credential]>([
    ['a token of AWS:password decodes', b64('AWS:secret'), { username: 'AWS', password: 'secret' }],
    ['colons after the first belong to the password', b64('AWS:a:b:c'), { username: 'AWS', password: 'a:b:c' }],
    ['a token without padding decodes', b64('AWS:x').replace(/=+$/, ''), { username: 'AWS', password: 'x' }],
  ])('%s', (_name, token, expected) => {
    expect(decodeAuthorizationToken(token)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['a token without a colon', b64('AWSsecret')],
    ['a token with an empty password', b64('AWS:')],
    ['a token with an empty username', b64(':secret')],
    ['a token that is not base64', 'not base64!'],
    ['a token that is base64url, not base64', b64('AWS:??>>??').replace(/\+/g, '-').replace(/\//g, '_')],
    ['an empty token', ''],
    ['a token with whitespace', ` ${b64('AWS:secret')}`],
  ])('%s is rejected', (_name, token) => {
    expect(() => decodeAuthorizationToken(token)).toThrow(InvalidTokenError);
    expect(() => decodeAuthorizationToken(token)).toThrow('authorizationToken does not decode to user:password');
  });
});
