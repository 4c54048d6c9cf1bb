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
