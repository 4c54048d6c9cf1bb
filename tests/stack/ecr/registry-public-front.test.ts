// ECR Public's front on 127.0.0.1, over a stand-in registry on a unix socket: anonymous pulls,
// Basic credentials taken at the token endpoint only when they are a valid ECR Public token, and
// pushes for the owner's RegistryAdmin alone.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANONYMOUS, createPublicRegistryFront } from './registry-public-front.ts';
import { EmulatorState } from './state.ts';

const OWNER_ADMIN = 'arn:aws:sts::111111111111:assumed-role/RegistryAdmin/seed';
const PULLER = 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/s';
const MANIFEST = '/v2/stack/hello/manifests/1.0';

let backend: Server;
let front: Server;
let base: string;
let state: EmulatorState;
/** What reached the registry behind the front: method, path, and whether credentials came along. */
const reached: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ecr-public-'));
  state = new EmulatorState(join(dir, 'state.json'), 3600, []);
  const socket = join(dir, 'registry.sock');
  backend = createServer((req, res) => {
    reached.push(`${req.method} ${req.url}${req.headers.authorization ? ' with credentials' : ''}`);
    req.resume();
    res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 200 : 202).end();
  });
  await new Promise<void>((resolve) => backend.listen(socket, resolve));
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  front = createPublicRegistryFront({ port, backendSocket: socket }, state);
  await new Promise<void>((resolve) => front.listen(port, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  state.save();
  for (const server of [front, backend]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

beforeEach(() => {
  reached.length = 0;
});

const basic = (password: string, user = 'AWS') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/** A bearer token from the token endpoint, with these credentials or none; or the status it refused with. */
async function bearer(authorization?: string): Promise<string | number> {
  const res = await fetch(`${base}/token/?service=public.ecr.aws&scope=repository:stack/hello:pull`, authorization ? { headers: { Authorization: authorization } } : {});
  return res.status === 200 ? ((await res.json()) as { token: string }).token : res.status;
}
const request = (path: string, token: string, method = 'GET') => fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });

describe('the emulated public.ecr.aws', () => {
  it('challenges a request without a bearer token with the token endpoint, as public.ecr.aws does', async () => {
    const res = await fetch(`${base}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${base}/token/",service="public.ecr.aws",scope="aws"`);
  });

  it('lets anyone pull, without credentials, and passes no credentials on', async () => {
    const token = await bearer();
    expect(typeof token).toBe('string');
    expect((await request(MANIFEST, token as string)).status).toBe(200);
    expect(reached).toEqual([`GET ${MANIFEST}`]);
    expect(state.registryRequests.at(-1)).toMatchObject({ registry: 'public.ecr.aws', principal: ANONYMOUS, action: 'ecr-public:BatchGetImage', status: 200 });
  });

  it('takes a valid ECR Public token, and pulls as its principal', async () => {
    const { password } = state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60);
    const token = await bearer(basic(password));
    expect((await request(MANIFEST, token as string)).status).toBe(200);
    expect(state.registryRequests.at(-1)).toMatchObject({ principal: PULLER, status: 200 });
  });

  it('takes a valid ECR Public token as an OAuth2 password grant (containerd POSTs one) and answers with access_token', async () => {
    const { password } = state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60);
    const grant = (p: string) =>
      fetch(`${base}/token/`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'AWS', password: p, service: 'public.ecr.aws', scope: 'repository:stack/hello:pull', client_id: 'containerd-client' }) });
    const res = await grant(password);
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect((await request(MANIFEST, token)).status).toBe(200);
    expect(state.registryRequests.at(-1)).toMatchObject({ principal: PULLER, status: 200 });
    expect((await grant('made-up')).status).toBe(401);
  });

  it.each<[string, () => string]>([
    ['a password it never minted', () => basic('made-up')],
    ['a private ECR token', () => basic(state.tokens.mint(PULLER, 'us-east-1', 'ecr', 60).password)],
    ['another user name than AWS', () => basic(state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60).password, 'admin')],
    ['an expired ECR Public token', () => {
      const { password } = state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60);
      state.tokens.expire({ token: password });
      return basic(password);
    }],
    ['credentials that are not Basic', () => 'Token abc'],
  ])('refuses %s with 401, though it would serve an anonymous caller', async (_name, authorization) => {
    expect(await bearer(authorization())).toBe(401);
    expect(reached).toEqual([]);
  });

  it('stops serving a bearer token once the ECR Public token it came from is revoked', async () => {
    const { password } = state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60);
    const token = (await bearer(basic(password))) as string;
    expect((await request(MANIFEST, token)).status).toBe(200);
    state.tokens.revoke({ token: password });
    const refused = await request(MANIFEST, token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('scope="repository:stack/hello:pull"');
  });

  it('refuses a bearer token it never issued', async () => {
    expect((await request(MANIFEST, 'forged')).status).toBe(401);
    expect(reached).toEqual([]);
  });

  it('lets only the owner\'s RegistryAdmin push', async () => {
    const push = async (token: string) => (await request('/v2/stack/hello/blobs/uploads/', token, 'POST')).status;
    expect(await push((await bearer()) as string)).toBe(403);
    expect(await push((await bearer(basic(state.tokens.mint(PULLER, 'us-east-1', 'ecr-public', 60).password))) as string)).toBe(403);
    expect(await push((await bearer(basic(state.tokens.mint(OWNER_ADMIN, 'us-east-1', 'ecr-public', 60).password))) as string)).toBe(202);
    expect(reached).toEqual(['POST /v2/stack/hello/blobs/uploads/']);
  });
});
