// Waits until the node is Ready and schedulable: the kubelet reports Ready and the node
// lifecycle controller has taken its not-ready taint off.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { NODE_NAME, type Pki } from '../pki.ts';
import { sleep } from '../processes.ts';

interface NodeObject {
  spec?: { taints?: Array<{ key: string; effect: string }> };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

function getNode(server: string, pki: Pki): Promise<NodeObject | undefined> {
  const [ca, cert, key] = [pki.caCert, pki.adminCert, pki.adminKey].map((file) => readFileSync(file));
  return new Promise((resolve, reject) => {
    const req = request(`${server}/api/v1/nodes/${NODE_NAME}`, { ca, cert, key, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? (JSON.parse(body) as NodeObject) : undefined));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitForNodeReady(server: string, pki: Pki, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not registered';
  while (Date.now() < deadline) {
    const node = await getNode(server, pki).catch(() => undefined);
    if (node) {
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      const taints = (node.spec?.taints ?? []).map((t) => t.key);
      if (ready?.status === 'True' && taints.length === 0) return;
      last = `Ready=${ready?.status ?? '?'} (${ready?.message ?? ''}), taints: ${taints.join(', ') || 'none'}`;
    }
    await sleep(250);
  }
  throw new Error(`node ${NODE_NAME} not Ready after ${timeoutMs / 1000}s: ${last}`);
}
