// What happens during a soak, and when: the faults, as offsets from the start.
export interface SoakConfig {
  namespaces: number;
  durationS: number;
  /** Lifetime of the emulator's tokens. */
  ttlS: number;
  refreshBefore: string;
  minRefreshInterval: string;
  maxBackoff: string;
  checkEveryS: number;
  /** A kubelet pull this often, rotating over `podNamespaces` namespaces; 0 for none. */
  podEveryS: number;
  podNamespaces: number;
  faults: Faults;
  /** Names the sync, the lease and (with a random suffix) the namespaces. */
  namespacePrefix: string;
}

export interface Faults {
  /** Right after a rotation, SIGKILL the leader and start a new process (it waits out the dead one's lease). */
  restartAtS?: number;
  /** Start a second replica, a standby. */
  standbyAtS?: number;
  /** Right after a rotation, SIGKILL the leader; the standby takes over. A new standby is started. */
  failoverAtS?: number;
  throttleAtS?: number;
  throttleForS?: number;
  /** Remove one registry's repository policy: its pulls are refused (counted apart). */
  policyOffAtS?: number;
  policyOffForS?: number;
}

/** npm run soak: ≈20 minutes, every fault once. */
export function fullSoak(env: NodeJS.ProcessEnv = process.env): SoakConfig {
  const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  const durationS = num('SOAK_SECONDS', 1200);
  const at = (fraction: number) => Math.round(durationS * fraction);
  return {
    namespaces: num('SOAK_NAMESPACES', 50),
    durationS,
    ttlS: num('SOAK_TTL_SECONDS', 120),
    // Rotations every ≈45 s: longer than a leader's lease (15 s), so a successor can take over
    // before the refresh is due; faults start right after a rotation, so a 60 s throttle ends
    // before the token (120 s) runs out.
    refreshBefore: env.SOAK_REFRESH_BEFORE ?? '70s',
    minRefreshInterval: '5s',
    maxBackoff: '5s',
    checkEveryS: num('SOAK_CHECK_SECONDS', 5),
    podEveryS: num('SOAK_POD_SECONDS', 30),
    podNamespaces: 3,
    faults: {
      restartAtS: at(0.2),
      standbyAtS: at(0.3),
      failoverAtS: at(0.4),
      throttleAtS: at(0.55),
      throttleForS: 60,
      policyOffAtS: at(0.75),
      policyOffForS: 60,
    },
    namespacePrefix: 'soak',
  };
}

/** The short form inside npm test: 10 namespaces, ≥3 rotations, one restart. */
export function shortSoak(): SoakConfig {
  return {
    namespaces: 10,
    durationS: 150,
    // Rotations every ≈55 s: a restarted leader, which waits out the dead one's 15 s lease, takes
    // over well before the refresh the dead one planned.
    ttlS: 120,
    refreshBefore: '60s',
    minRefreshInterval: '5s',
    maxBackoff: '5s',
    checkEveryS: 2,
    podEveryS: 20,
    podNamespaces: 2,
    faults: { restartAtS: 20 },
    namespacePrefix: 'soak-short',
  };
}
