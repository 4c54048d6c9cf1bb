import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConnection } from './connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'connection-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const ca = file('ca.crt', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

const yamlConfig = (user: string, extraCluster = '') => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ${ca}
${extraCluster}
users:
- name: u
  user:
${user}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
`;

describe('loadConnection', () => {
  it('reads a YAML kubeconfig with a bearer token: server, CA and an Authorization header', async () => {
    const c = await loadConnection({ env: { KUBECONFIG: file('token.yaml', yamlConfig('    token: abc')) } });
    expect(c.server.href).toBe('https://127.0.0.1:6443/');
    expect(await c.headers()).toEqual({ authorization: 'Bearer abc' });
    expect(String((c.agent as https.Agent).options.ca)).toContain('BEGIN CERTIFICATE');
  });

  it('reads a JSON kubeconfig with inline client certificate data', async () => {
    const config = {
      'current-context': 'x',
      clusters: [{ name: 'c', cluster: { server: 'https://[::1]:6443', 'certificate-authority-data': Buffer.from('CA').toString('base64') } }],
      users: [{ name: 'u', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    };
    const c = await loadConnection({ env: { KUBECONFIG: file('cert.json', JSON.stringify(config)) } });
    const options = (c.agent as https.Agent).options;
    expect([String(options.ca), String(options.cert), String(options.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(c.server.hostname).toBe('[::1]');
    expect(await c.headers()).toEqual({});
  });

  it('reads a token file each time it is older than a minute, so a rotated token is used', async () => {
    const token = file('sa-token', 'first\n');
    let now = 0;
    const c = await loadConnection({ env: { KUBECONFIG: file('tokenfile.yaml', yamlConfig(`    tokenFile: ${token}`)) }, now: () => now });
    expect(await c.headers()).toEqual({ authorization: 'Bearer first' });
    writeFileSync(token, 'rotated\n');
    now = 30_000;
    expect(await c.headers()).toEqual({ authorization: 'Bearer first' });
    now = 60_001;
    expect(await c.headers()).toEqual({ authorization: 'Bearer rotated' });
  });

  it('takes the first file of a KUBECONFIG list that names the current context, as client-go merges them', async () => {
    const first = file('first.yaml', 'apiVersion: v1\nkind: Config\ncurrent-context: ctx\n');
    const second = file('second.yaml', yamlConfig('    token: from-second'));
    const c = await loadConnection({ env: { KUBECONFIG: `${first}:${join(dir, 'missing')}:${second}` } });
    expect(await c.headers()).toEqual({ authorization: 'Bearer from-second' });
  });

  it('reads files a kubeconfig names by relative paths from its own directory, wherever the process runs', async () => {
    const sub = mkdtempSync(join(dir, 'rel-'));
    writeFileSync(join(sub, 'ca.crt'), 'RELATIVE-CA');
    writeFileSync(join(sub, 'token'), 'relative-token');
    const config = yamlConfig('    tokenFile: token').replace(`certificate-authority: ${ca}`, 'certificate-authority: ca.crt');
    writeFileSync(join(sub, 'config'), config);
    const loaded = await loadConnection({ env: { KUBECONFIG: join(sub, 'config') } });
    expect(String((loaded.agent as https.Agent).options.ca)).toBe('RELATIVE-CA');
    expect(await loaded.headers()).toEqual({ authorization: 'Bearer relative-token' });
  });

  it('runs in a pod from the ServiceAccount token, CA and service environment', async () => {
    const sa = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(sa, 'token'), 'pod-token');
    writeFileSync(join(sa, 'ca.crt'), 'CA');
    const c = await loadConnection({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, home: dir, serviceAccountDir: sa });
    expect(c.server.href).toBe('https://[fd00::1]/');
    expect(c.source).toBe('in-cluster');
    expect(await c.headers()).toEqual({ authorization: 'Bearer pod-token' });
  });

  it.each([
    ['names a context that does not exist', 'current-context: nope\ncontexts: []\n', /no current context named "nope"/],
    ['is not YAML', 'a: [b\n', /kubeconfig .*bad\.yaml/],
    ['asks for a proxy', yamlConfig('    token: t', '    proxy-url: http://proxy:3128'), /proxy-url is not supported/],
  ])('refuses a kubeconfig that %s, naming the file', async (_what, text, message) => {
    await expect(loadConnection({ env: { KUBECONFIG: file('bad.yaml', text) } })).rejects.toThrow(message);
  });

  it('says where it looked when there is no configuration at all', async () => {
    await expect(loadConnection({ env: {}, home: dir, serviceAccountDir: join(dir, 'none') })).rejects.toThrow(/set KUBECONFIG/);
  });
});
