// A kubeconfig that authenticates with a bearer token (a ServiceAccount's, from TokenRequest).
import { writeFileSync } from 'node:fs';

export function writeTokenKubeconfig(file: string, server: string, caFile: string | undefined, token: string): string {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stack', cluster: { server, ...(caFile ? { 'certificate-authority': caFile } : {}) } }],
      users: [{ name: 'operator', user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'stack', user: 'operator' } }],
      'current-context': 'operator',
    }),
    { mode: 0o600 },
  );
  return file;
}

/** A kubeconfig that authenticates with a client certificate (the stack's admin, the node's kubelet). */
export function writeCertKubeconfig(file: string, o: { server: string; ca: string; cert: string; key: string; user: string; context: string }): string {
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: stack
  cluster:
    server: ${o.server}
    certificate-authority: ${o.ca}
users:
- name: ${o.user}
  user:
    client-certificate: ${o.cert}
    client-key: ${o.key}
contexts:
- name: ${o.context}
  context: {cluster: stack, user: ${o.user}}
current-context: ${o.context}
`,
    { mode: 0o600 },
  );
  return file;
}
