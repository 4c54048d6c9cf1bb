// What the secret informer keeps of each secret. Its label selector admits every secret labelled
// as managed by the operator, and anyone who may create a secret can set that label: of a secret
// that carries no owner reference to the sync its label names, the cache keeps only what the
// operator reads of a secret that is not its own (its own labels, its own kind's owner references,
// uid, resourceVersion, deletion), not its data, annotations, other labels, other owners or
// finalizers, none of which the API server bounds short of the 1.5 MiB object limit. So such secrets
// cannot grow the operator's memory by more than a few hundred bytes each. managedFields are read
// for no secret. Releasing a secret rewrites its owner list: it re-reads the secret whole first.
import type { V1Secret } from '@kubernetes/client-node';
import { LABEL_LOCAL_SYNC, LABEL_MANAGED_BY, LABEL_SYNC } from '../api/constants.ts';
import { GROUP } from '../api/types.ts';
import { ownership } from '../core/plan.ts';
import { ownerKeyOf } from '../core/sync-ref.ts';
import { actualSecret } from './convert.ts';

/**
 * Trims the secret in place. `syncUid` gives the uid of a sync by key (core/sync-ref.ts), as the
 * sync informers know it (the manager lists syncs before secrets). A secret the operator writes for
 * a sync those have not seen yet (one deleted and created again within moments) is trimmed too; the
 * secret writer reads such a secret of its own whole before judging it.
 */
export function trimSecret(secret: V1Secret, syncUid: (key: string) => string | undefined, intern?: Interner): void {
  if (secret.metadata) delete secret.metadata.managedFields;
  const namespace = secret.metadata?.namespace;
  const sync = namespace ? ownerKeyOf({ namespace, labels: secret.metadata?.labels ?? {} }) : undefined;
  if (sync !== undefined && secret.metadata?.name && ownership(actualSecret(secret), sync, syncUid(sync)) === 'ours') {
    if (intern && secret.data) for (const key of Object.keys(secret.data)) secret.data[key] = intern.get(`${sync}\n${key}`, secret.data[key]!);
    return;
  }
  delete secret.data;
  delete secret.stringData;
  const metadata = secret.metadata;
  if (!metadata) return;
  delete metadata.annotations;
  delete metadata.finalizers;
  const labels: Record<string, string> = {};
  for (const key of OWN_LABELS) if (metadata.labels?.[key] !== undefined) labels[key] = metadata.labels[key]!;
  metadata.labels = labels;
  if (metadata.ownerReferences) metadata.ownerReferences = ownOwners(metadata.ownerReferences);
}

/**
 * One copy of each value: a sync's secrets carry the same data in every namespace it targets, and
 * each arrives as a string of its own (~7 KiB for three registries; 10,000 namespaces would hold
 * 70 MiB of copies). Keeps the latest value per scope (sync and data key), so a rotated token's
 * old value is not kept alive by this map.
 */
export class Interner {
  private readonly latest = new Map<string, string>();

  get(scope: string, value: string): string {
    const known = this.latest.get(scope);
    if (known === value) return known;
    this.latest.set(scope, value);
    return value;
  }

  get size(): number {
    return this.latest.size;
  }
}

/** The labels by which a secret is judged the operator's; no other is read of a secret not its own. */
export const OWN_LABELS: readonly string[] = [LABEL_MANAGED_BY, LABEL_SYNC, LABEL_LOCAL_SYNC];
/** A secret written by the operator has one owner reference to a sync; a few more cover a takeover. */
const MAX_OWN_OWNERS = 4;

/** The owner references kept of a secret that is not the operator's: its own kinds', at most a few. */
export function ownOwners<T extends { apiVersion?: string }>(owners: readonly T[]): T[] {
  return owners.filter((r) => r.apiVersion?.startsWith(`${GROUP}/`)).slice(0, MAX_OWN_OWNERS);
}

/** A page of a secret list as the API server sends it. */
export interface SecretPage {
  items: V1Secret[];
  metadata?: { continue?: string; resourceVersion?: string };
}

/**
 * The secrets to fill the cache with, read a page at a time and each page trimmed before the next
 * is read: in one list, every secret's data would be held at once.
 */
export async function listInPages(page: (cont: string | undefined) => Promise<SecretPage>, trim: (secret: V1Secret) => void): Promise<SecretPage> {
  const items: V1Secret[] = [];
  let cont: string | undefined;
  let last: SecretPage;
  do {
    last = await page(cont);
    for (const secret of last.items ?? []) {
      trim(secret);
      items.push(secret);
    }
    cont = last.metadata?.continue || undefined;
  } while (cont);
  return { ...last, items };
}
