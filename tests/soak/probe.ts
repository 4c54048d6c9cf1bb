// Uses every namespace's current pull secret against its registries, the way a kubelet would
// (GET of the test image's manifest with the secret's `auth`), and records what each answered
// and how long the token it used had left to live.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { dockerConfig } from '../e2e/support.ts';
import type { EcrControl } from '../stack/ecr/control.ts';
import { type EcrRegistry, registryKey } from '../stack/ecr/registries.ts';

export interface Check {
  /** Epoch ms. */
  at: number;
  namespace: string;
  registry: string;
  /** HTTP status; 0 when the registry could not be reached or the secret had no entry for it. */
  status: number;
  /** Seconds the token had left when it was used (from the emulator's own record). */
  remainingS?: number;
  missing?: 'secret' | 'entry';
}

const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

export class RegistryProbe {
  readonly checks: Check[] = [];
  private readonly expiries = new Map<string, number>();

  private readonly core: CoreV1Api;
  private readonly control: EcrControl;
  private readonly syncName: string;
  private readonly namespaces: readonly string[];
  private readonly registries: readonly EcrRegistry[];
  private readonly path = '/v2/stack/hello/manifests/1.0';

  constructor(core: CoreV1Api, control: EcrControl, syncName: string, namespaces: readonly string[], registries: readonly EcrRegistry[]) {
    this.core = core;
    this.control = control;
    this.syncName = syncName;
    this.namespaces = namespaces;
    this.registries = registries;
  }

  /** One round: every namespace × registry, in parallel. */
  async round(): Promise<Check[]> {
    const list = await this.core.listSecretForAllNamespaces({ labelSelector: `ecrsync.io/sync=${this.syncName}` });
    const byNamespace = new Map<string, V1Secret>(list.items.map((s) => [s.metadata!.namespace!, s]));
    const at = Date.now();
    const round = await Promise.all(
      this.namespaces.flatMap((namespace) => this.registries.map((registry) => this.check(at, namespace, registry, byNamespace.get(namespace)))),
    );
    this.checks.push(...round);
    return round;
  }

  private async check(at: number, namespace: string, registry: EcrRegistry, secret: V1Secret | undefined): Promise<Check> {
    const base = { at, namespace, registry: registryKey(registry) };
    if (!secret) return { ...base, status: 0, missing: 'secret' };
    // The `auth` field, as a kubelet or skopeo sends it; the password for the expiry look-up comes from it too.
    const auth = dockerConfig(secret).auths[registry.host]?.auth;
    if (!auth) return { ...base, status: 0, missing: 'entry' };
    const password = Buffer.from(auth, 'base64').toString('utf8').split(':').slice(1).join(':');
    // A request that got no answer is tried once more: load on this machine is not a refusal.
    let status = await this.head(registry, auth);
    if (status === 0) status = await this.head(registry, auth);
    const expiresAt = await this.expiry(password);
    return { ...base, status, ...(expiresAt !== undefined ? { remainingS: (expiresAt - at) / 1000 } : {}) };
  }

  private async head(registry: EcrRegistry, auth: string): Promise<number> {
    try {
      const res = await fetch(`http://${registry.host}${this.path}`, {
        method: 'HEAD',
        headers: { Authorization: `Basic ${auth}`, Accept: MANIFEST_TYPES },
        signal: AbortSignal.timeout(10_000),
      });
      return res.status;
    } catch {
      return 0;
    }
  }

  private async expiry(password: string): Promise<number | undefined> {
    let known = this.expiries.get(password);
    if (known === undefined) {
      known = (await this.control.lookupToken(password))?.expiresAt;
      if (known !== undefined) this.expiries.set(password, known);
    }
    return known;
  }
}
