// Collects unhandled promise rejections while a test runs, so it can assert there were none
// at the step that caused one (a property test then shrinks to it).
// No jest in here, so the file also compiles outside the test run.

export interface RejectionWatch {
  /** The reasons seen so far. */
  readonly seen: unknown[];
  /** Gives the process its own listeners back. */
  stop(): void;
}

/**
 * Jest gives each test file its own copy of `process`, and Node emits 'unhandledRejection' on
 * the real one only, where Jest listens to fail whichever test is running. So this reaches the
 * real process through a function of the host realm (setImmediate is the host's), and, for the
 * duration, takes the event over so the test itself decides. Outside Jest it is plain `process`.
 */
export function watchRejections(): RejectionWatch {
  const host = (setImmediate as unknown as { constructor: FunctionConstructor }).constructor('return process')() as NodeJS.Process;
  const others = host.listeners('unhandledRejection') as NodeJS.UnhandledRejectionListener[];
  const seen: unknown[] = [];
  const listener = (reason: unknown) => void seen.push(reason);
  host.removeAllListeners('unhandledRejection');
  host.on('unhandledRejection', listener);
  return {
    seen,
    stop() {
      host.off('unhandledRejection', listener);
      for (const other of others) host.on('unhandledRejection', other);
    },
  };
}

/** Lets pending callbacks run, and Node report any rejection left unhandled. */
export const flush = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
