// Whether this machine can run the stack's node at all: it needs root (namespaces, mounts,
// cgroups). Anything else missing is installed or fails loudly instead.
export function nodeUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return `the node needs Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the node needs root (containerd, mounts, cgroups)';
  return undefined;
}
