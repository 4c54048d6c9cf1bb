// The stack scripts themselves: a second stack beside the test stack (other ports), an idempotent
// `up` that keeps healthy components and restarts a dead one on the same port, and a `down` that
// leaves none of its processes running.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentNames, down, up } from '../stack/stack.ts';
import { isAlive, readPid } from '../stack/processes.ts';
import { run } from '../stack/run.ts';
import { stackEnv } from './support.ts';

it('runs a second stack beside the first, repairs it idempotently, and stops every process it started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'second-stack-'));
  const quiet = () => {};
  try {
    const env = await up({ dir, log: quiet });
    expect(env.KUBECONFIG).not.toBe(stackEnv('KUBECONFIG'));
    expect(env.AWS_ENDPOINT_URL).not.toBe(stackEnv('AWS_ENDPOINT_URL'));
    const kubectl = join(env.STACK_BIN_DIR!, 'kubectl');
    const sourced = await run('bash', ['-c', `. ${join(dir, 'env')} && kubectl get --raw /readyz`]);
    expect(sourced.stdout.trim()).toBe('ok');

    const pids = Object.fromEntries(componentNames().map((n) => [n, readPid(dir, n)]));
    const envText = readFileSync(join(dir, 'env'), 'utf8');
    // A second up changes nothing that is healthy.
    await up({ dir, log: quiet });
    expect(Object.fromEntries(componentNames().map((n) => [n, readPid(dir, n)]))).toEqual(pids);
    // A dead component is restarted on the same port, and env stays valid.
    process.kill(pids.moto!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await up({ dir, log: quiet });
    expect(readPid(dir, 'moto')).not.toBe(pids.moto);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(envText);
    expect((await fetch(`${env.AWS_ENDPOINT_URL}/moto-api/data.json`)).status).toBe(200);
    expect((await run(kubectl, ['--kubeconfig', env.KUBECONFIG!, 'get', '--raw', '/readyz'])).stdout.trim()).toBe('ok');

    const all = Object.fromEntries(componentNames().map((n) => [n, readPid(dir, n)]));
    await down({ dir, log: quiet });
    for (const [name, pid] of Object.entries(all)) expect([name, isAlive(pid)]).toEqual([name, false]);
  } finally {
    await down({ dir, log: quiet });
  }
});
