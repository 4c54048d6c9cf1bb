import { TokenStore } from './tokens.ts';

const CENTRAL = 'arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/s';
const WORKLOAD = 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/s';

function store() {
  let now = 1_000_000;
  const tokens = new TokenStore([], () => now);
  return { tokens, advance: (ms: number) => (now += ms) };
}

describe('the token store', () => {
  it('mints a new ECR-shaped password per call, valid for the TTL', () => {
    const { tokens, advance } = store();
    const a = tokens.mint(WORKLOAD, 'us-east-1', 'ecr', 60);
    const b = tokens.mint(WORKLOAD, 'us-east-1', 'ecr', 60);
    expect(a.password).not.toBe(b.password);
    expect(a.password.length).toBeGreaterThan(1500);
    expect(JSON.parse(Buffer.from(a.password, 'base64').toString())).toMatchObject({ version: '2', type: 'DATA_KEY', expiration: 1060 });
    expect(tokens.lookup(a.password)).toMatchObject({ principal: WORKLOAD, region: 'us-east-1', state: 'valid' });
    advance(60_000);
    expect(tokens.lookup(a.password)?.state).toBe('expired');
  });

  it('knows nothing of a password it never minted', () => {
    expect(store().tokens.lookup('made-up')).toBeUndefined();
  });

  it('expires and revokes by principal pattern, leaving others valid', () => {
    const { tokens } = store();
    const central = tokens.mint(CENTRAL, 'eu-west-1', 'ecr', 60);
    const workload = tokens.mint(WORKLOAD, 'us-east-1', 'ecr', 60);
    expect(tokens.expire({ principal: 'arn:aws:iam::111111111111:role/CentralECRPullRole' })).toBe(1);
    expect(tokens.lookup(central.password)?.state).toBe('expired');
    expect(tokens.lookup(workload.password)?.state).toBe('valid');
    expect(tokens.revoke({ token: workload.password })).toBe(1);
    expect(tokens.lookup(workload.password)?.state).toBe('revoked');
    expect(tokens.revoke()).toBe(0);
  });
});
