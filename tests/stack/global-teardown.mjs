// jest global teardown: stops the test stack unless STACK_KEEP=1 asks to keep it for the next run.
import { down } from './stack.ts';

export default async function globalTeardown() {
  if (process.env.STACK_KEEP === '1') return;
  await down({ dir: process.env.STACK_DIR, log: (line) => process.stderr.write(`[stack] ${line}\n`) });
}
