// When secrets arrive: a list, then a watch from the list's resourceVersion, timestamps taken
// as each event is read. On a dropped watch it lists again and watches on (arrivals that only a
// re-list saw are counted in relistArrivals, their times being less exact).
import { CoreV1Api, type KubeConfig, type V1Secret, Watch } from '@kubernetes/client-node';

export class SecretArrivals {
  /** namespace -> performance.now() when a valid secret was first seen there. */
  readonly arrivals = new Map<string, number>();
  /** namespace -> why the secret seen there was not (yet) valid. */
  readonly invalid = new Map<string, string>();
  restarts = 0;
  relistArrivals = 0;
  private stopped = false;
  private controller: AbortController | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly selector: string;
  private readonly validate: (secret: V1Secret) => string | undefined;

  constructor(kc: KubeConfig, labelSelector: string, validate: (secret: V1Secret) => string | undefined) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.selector = labelSelector;
    this.validate = validate;
  }

  async start(): Promise<void> {
    await this.listAndWatch();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    for (const wake of [...this.listeners]) wake();
  }

  private see(secret: V1Secret, at: number, fromList: boolean): void {
    const ns = secret.metadata?.namespace;
    if (!ns || this.arrivals.has(ns)) return;
    const why = this.validate(secret);
    if (why) {
      this.invalid.set(ns, why);
      return;
    }
    this.invalid.delete(ns);
    this.arrivals.set(ns, at);
    if (fromList) this.relistArrivals++;
    for (const wake of [...this.listeners]) wake();
  }

  private async listAndWatch(): Promise<void> {
    const list = await this.core.listSecretForAllNamespaces({ labelSelector: this.selector });
    const at = performance.now();
    for (const s of list.items) this.see(s, at, true);
    if (this.stopped) return;
    const watch = new Watch(this.kc);
    // client-node aborts a watch after 30 s without data; bookmarks and a longer limit keep it open.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 5 * 60_000;
    this.controller = await watch.watch(
      '/api/v1/secrets',
      { labelSelector: this.selector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, obj: V1Secret) => {
        if (type === 'ADDED' || type === 'MODIFIED') this.see(obj, performance.now(), false);
      },
      () => this.restart(),
    );
  }

  private restart(): void {
    if (this.stopped) return;
    this.restarts++;
    setTimeout(() => {
      if (!this.stopped) this.listAndWatch().catch(() => this.restart());
    }, 250);
  }

  /** Resolves with `fn()` once it is defined (checked now and on every arrival), or undefined on timeout/stop. */
  until<T>(fn: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const value = this.stopped ? undefined : fn();
        if (value !== undefined || this.stopped) {
          this.listeners.delete(check);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        resolve(undefined);
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** performance.now() of the n-th arrival, once there have been n. */
  nthArrival(n: number): number | undefined {
    if (this.arrivals.size < n) return undefined;
    return [...this.arrivals.values()].sort((a, b) => a - b)[n - 1];
  }
}
