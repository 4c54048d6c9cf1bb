// Suites that need the stack's node. Where this machine cannot run one, the global setup said why
// (and refuses that under CI=true); such a suite is skipped with a loud line, never silently.
import { describe, it } from '@jest/globals';

const noNode = (what: string) => process.stderr.write(`\n!!! ${what} SKIPPED: the stack has no node on this machine (see the global setup) !!!\n\n`);

export function describeOnNode(file: string): typeof describe | typeof describe.skip {
  if (process.env.STACK_NODE_NAME) return describe;
  noNode(file);
  return describe.skip;
}

/** One test of a suite that otherwise needs no node. */
export function itOnNode(where: string): typeof it | typeof it.skip {
  if (process.env.STACK_NODE_NAME) return it;
  noNode(where);
  return it.skip;
}
