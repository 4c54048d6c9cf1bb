// jest global setup: the same stack code as `npm run stack:up`, in its own state folder so a
// test run never disturbs a developer's stack. The variables land in process.env for the tests.
// Plain JavaScript loaded natively, so that Node (not jest's transform) loads stack.ts.
import { join } from 'node:path';
import { nodeUnsupportedReason } from './node/capable.ts';
import { PROJECT_ROOT, up } from './stack.ts';

export default async function globalSetup() {
  const dir = process.env.STACK_TEST_DIR ?? join(PROJECT_ROOT, '.stack-test');
  const started = Date.now();
  const unsupported = nodeUnsupportedReason();
  if (unsupported) {
    if (process.env.CI === 'true') throw new Error(`CI must run the node tests, but ${unsupported}`);
    process.stderr.write(`\n[stack] !!! NO NODE: ${unsupported}. The node tests will be SKIPPED on this machine. !!!\n\n`);
  }
  const env = await up({ dir, node: !unsupported, log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  Object.assign(process.env, env);
  process.env.PATH = `${env.STACK_BIN_DIR}:${process.env.PATH}`;
  process.stderr.write(`[stack] up in ${((Date.now() - started) / 1000).toFixed(1)}s (Kubernetes ${env.STACK_KUBE_VERSION})\n`);
}
