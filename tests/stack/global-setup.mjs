// jest global setup: the same stack code as `npm run stack:up`, in its own state folder so a
// test run never disturbs a developer's stack. The variables land in process.env for the tests.
// Plain JavaScript loaded natively, so that Node (not jest's transform) loads stack.ts.
import { join } from 'node:path';
import { PROJECT_ROOT, up } from './stack.ts';

export default async function globalSetup() {
  const dir = process.env.STACK_TEST_DIR ?? join(PROJECT_ROOT, '.stack-test');
  const started = Date.now();
  const env = await up({ dir, log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  Object.assign(process.env, env);
  process.env.PATH = `${env.STACK_BIN_DIR}:${process.env.PATH}`;
  process.stderr.write(`[stack] up in ${((Date.now() - started) / 1000).toFixed(1)}s (Kubernetes ${env.STACK_KUBE_VERSION})\n`);
}
