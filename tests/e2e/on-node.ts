// Suites that need the stack's node. Where this machine cannot run one, the global setup said why
// (and refuses that under CI=true); such a suite is skipped with a loud line, never silently.
import { describe } from '@jest/globals';

export function describeOnNode(file: string): typeof describe | typeof describe.skip {
  if (process.env.STACK_NODE_NAME) return describe;
  process.stderr.write(`\n!!! ${file} SKIPPED: the stack has no node on this machine (see the global setup) !!!\n\n`);
  return describe.skip;
}
