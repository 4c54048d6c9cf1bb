// npm run stack:up | stack:down
import { nodeUnsupportedReason } from './node/capable.ts';
import { down, StackError, up } from './stack.ts';

const command = process.argv[2];
try {
  if (command === 'up') {
    const unsupported = nodeUnsupportedReason();
    if (unsupported) process.stderr.write(`no node: ${unsupported}\n`);
    const env = await up({ node: !unsupported });
    process.stdout.write(`stack is up (Kubernetes ${env.STACK_KUBE_VERSION}). Use it with:\n  . ${env.STACK_DIR}/env && kubectl get --raw /readyz\n`);
  } else if (command === 'down') {
    await down();
    process.stdout.write('stack is down\n');
  } else {
    process.stderr.write('usage: cli.ts up|down\n');
    process.exitCode = 2;
  }
} catch (error) {
  if (error instanceof StackError) process.stderr.write(`\nstack component "${error.component}" failed:\n${error.message}\n`);
  else process.stderr.write(`\nstack failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
}
