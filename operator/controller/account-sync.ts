// Keeps the chosen ServiceAccounts' imagePullSecrets listing the sync's secret where it is in
// place, and takes out the entries this sync added elsewhere.
import { type EcrCredentialSync, LOCAL_KIND } from '../api/types.ts';
import { accountChanges } from '../core/service-accounts.ts';
import { isStatus, type KubeGateway } from '../kube/gateway.ts';
import type { Logger } from '../runtime/log.ts';
import { mapLimit } from './limit.ts';
import { keyOf } from '../core/sync-ref.ts';

/**
 * @param inPlace namespaces where a secret of this sync exists, whatever this round's write did:
 * a failed update leaves a working secret there, and pods created meanwhile must still get it.
 * @returns an error to retry on, if any patch failed.
 */
export async function syncServiceAccounts(
  kube: KubeGateway,
  sync: EcrCredentialSync,
  secretName: string,
  inPlace: ReadonlySet<string>,
  log: Logger,
  concurrency: number,
): Promise<Error | undefined> {
  // A local sync adds entries in its own namespace only: its reconcile need not read every account of the cluster.
  const accounts = await kube.listServiceAccounts(sync.kind === LOCAL_KIND ? sync.metadata.namespace : undefined);
  const changes = accountChanges(keyOf(sync), secretName, sync.spec?.serviceAccounts, inPlace, accounts);
  let failed: Error | undefined;
  await mapLimit(changes, concurrency, async (change) => {
    const { namespace, name } = change.account;
    try {
      await kube.patchServiceAccount(change);
      log.info({ namespace, serviceAccount: name, imagePullSecrets: change.imagePullSecrets }, 'updated ServiceAccount imagePullSecrets');
    } catch (error) {
      if (isStatus(error, 404)) return;
      failed ??= error as Error;
      log.warn({ namespace, serviceAccount: name, err: (error as Error).message }, 'could not update ServiceAccount');
    }
  });
  return failed;
}
