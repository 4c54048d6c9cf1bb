// The benchmark's configuration (the BENCH_* variables, read once at start; see bench.ts), its
// targets, and the names of what it creates.
import { join } from 'node:path';
import { PROJECT_ROOT, WORKLOAD_ACCOUNT } from '../stack/stack.ts';
import { envInt, envIntList } from './support.ts';

export const N = envInt('BENCH_NAMESPACES', 1000, 1);
export const IDLE_SECONDS = envInt('BENCH_IDLE_SECONDS', 120, 0);
export const UNRELATED_SECRETS = envInt('BENCH_UNRELATED_SECRETS', 20_000, 0);
export const UNRELATED_NAMESPACES = envInt('BENCH_UNRELATED_NAMESPACES', 10, 1);
export const P4_COUNT = envInt('BENCH_P4_NAMESPACES', 50, 1);
export const SHELL_COUNT = envInt('BENCH_SHELL_NAMESPACES', 20, 1);
export const CONCURRENCY = envInt('BENCH_WRITE_CONCURRENCY', 16, 1);
export const KEEP = process.env.BENCH_KEEP === '1';
export const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
// Tokens live 12 h (STACK_ECR_TOKEN_TTL), so no refresh is due by expiry during a run; the floor
// matters only if a shorter TTL is set. The idle window checks that no refresh happens anyway.
export const MIN_REFRESH = process.env.BENCH_MIN_REFRESH_INTERVAL || '1h';
export const SHELL_TOKEN = process.env.BENCH_SHELL_TOKEN ?? 'auto';
export const HEAP_SNAPSHOT = process.env.BENCH_HEAP_SNAPSHOT === '1';
export const EXTRA_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
export const DIST_CHECK = process.env.BENCH_DIST !== '0';
export const P1_TIMEOUT_MS = envInt('BENCH_P1_TIMEOUT_SECONDS', Math.max(180, Math.ceil(N * 0.3)), 1) * 1000;
export const P4_TIMEOUT_MS = 30_000;
export const P4_PAUSE_MS = 250;
export const SETUP_CONCURRENCY = 32;
/** P1 at scale: the N to converge, in growing order (BENCH_SCALE_NS=1000,5000,10000; "" skips). */
export const SCALE_NS = [...new Set(envIntList('BENCH_SCALE_NS', [1000, 5000, 10_000], 1))].sort((a, b) => a - b);
/** Many syncs: BENCH_MANY_SYNCS syncs of BENCH_MANY_PER_SYNC namespaces each (0 syncs skips). */
export const MANY_SYNCS = envInt('BENCH_MANY_SYNCS', 100, 0);
export const MANY_PER_SYNC = envInt('BENCH_MANY_PER_SYNC', 100, 1);
export const MANY_MOVE_WINDOW_MS = envInt('BENCH_MANY_WINDOW_SECONDS', 10, 1) * 1000;
/** The scale namespaces serve both: P1 at scale takes the first N, many syncs the first MANY_SYNCS × MANY_PER_SYNC. */
export const SCALE_NAMESPACE_COUNT = Math.max(0, ...SCALE_NS, MANY_SYNCS * MANY_PER_SYNC);
export const scaleTimeoutMs = (n: number) => Math.max(180, Math.ceil(n * 0.3)) * 1000;
export const RSS_SAMPLE_MS = 100;

export const STACK_DIR = join(PROJECT_ROOT, '.stack-bench');
export const DIST_DIR = join(STACK_DIR, 'operator-dist');
export const RESULTS_DIR = join(PROJECT_ROOT, 'bench-results');
export const OPERATOR_NS = 'ecr-credential-sync';
export const OPERATOR_SA = 'ecr-credential-sync';
export const FS_WRITES = 'bench-operator-writes';
export const FS_READS = 'bench-operator-reads';
export const LABEL_SYNC = 'ecrsync.io/sync';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NS}:${OPERATOR_SA}`;
export const auditLog = () => process.env.STACK_AUDIT_LOG;

export const P1_SYNC = 'bench-p1';
export const P2_SYNC = 'bench-p2';
export const P2_NAMESPACES = 5;
export const REGION = 'us-east-1';
export const P1_HOST = `${WORKLOAD_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;

export const TARGETS = {
  p1RatioMax: 1.25,
  p3Writes: 0,
  p4P50MaxMs: 1000,
  p4P99MaxMs: 3000,
  p5SteadyMaxBytes: 80 * 1024 * 1024,
  p5PeakMaxBytes: 120 * 1024 * 1024,
  startupMaxMs: 600,
  /** The memory limit must exceed the measured peak by this fraction. */
  limitHeadroom: 0.3,
};

export const pad = (i: number, width: number) => String(i).padStart(width, '0');
const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${pad(i, Math.max(2, String(count - 1).length))}`);
export const P1_NAMESPACES = names('bench-p1', N);
export const FLOOR_NAMESPACES = names('bench-floor', N);
export const SHELL_NAMESPACES = names('bench-shell', SHELL_COUNT);
export const P2_NAMESPACE_NAMES = names('bench-p2', P2_NAMESPACES);
export const P4_NAMESPACES = names('bench-p4', P4_COUNT);
export const UNRELATED_NAMESPACE_NAMES = names('bench-unrelated', UNRELATED_NAMESPACES);
export const SCALE_LABEL = 'bench-scale';
export const GROUP_LABEL = 'bench-group';
export const scaleNamespace = (i: number) => `bench-scale-${pad(i, 5)}`;
export const manyGroup = (g: number) => `g${pad(g, 3)}`;
export const manySync = (g: number) => `bench-many-${pad(g, 3)}`;
/** The namespaces set up before the operator starts (P4 adds its own later). */
export const SETUP_NAMESPACE_COUNT = 2 * N + SHELL_COUNT + P2_NAMESPACES + UNRELATED_NAMESPACES;
