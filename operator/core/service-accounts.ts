// ServiceAccounts that should list the pull secret in imagePullSecrets. The operator records
// what it added in an annotation, and removes only entries it added itself.
import { ANNOTATION_PULL_SECRETS } from '../api/constants.ts';

export interface AccountView {
  namespace: string;
  name: string;
  imagePullSecrets: string[];
  annotations: Record<string, string>;
  resourceVersion?: string;
}

export interface AccountChange {
  account: AccountView;
  imagePullSecrets: string[];
  /** The new value of the ownership annotation; null removes it. */
  marker: string | null;
}

/** Which secret names each sync added to this account: {"<sync>": "<secret>"}. */
export function addedBy(account: AccountView): Record<string, string> {
  const raw = account.annotations[ANNOTATION_PULL_SECRETS];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

export function wantsAccount(selection: readonly string[] | undefined, name: string): boolean {
  return !!selection && (selection.includes('*') || selection.includes(name));
}

/**
 * @param ready namespaces where the secret is in place: only there is it added; everywhere else
 * (namespaces no longer targeted, or a sync being deleted) this sync's entries are removed.
 */
export function accountChanges(
  syncKey: string,
  secretName: string,
  selection: readonly string[] | undefined,
  ready: ReadonlySet<string>,
  accounts: readonly AccountView[],
): AccountChange[] {
  const changes: AccountChange[] = [];
  for (const account of accounts) {
    const marks = addedBy(account);
    const mine = marks[syncKey];
    let list = [...account.imagePullSecrets];
    const nextMarks = { ...marks };
    const want = ready.has(account.namespace) && wantsAccount(selection, account.name);
    if (mine !== undefined && (!want || mine !== secretName)) {
      // Remove only what this sync added, and only if no other sync added the same name.
      const sharedWith = Object.entries(marks).some(([sync, secret]) => sync !== syncKey && secret === mine);
      if (!sharedWith) list = list.filter((n) => n !== mine);
      delete nextMarks[syncKey];
    }
    if (want && !list.includes(secretName)) {
      list.push(secretName);
      nextMarks[syncKey] = secretName;
    } else if (want && mine === secretName) {
      nextMarks[syncKey] = secretName;
    }
    const changedList = list.length !== account.imagePullSecrets.length || list.some((n, i) => n !== account.imagePullSecrets[i]);
    const changedMarks = JSON.stringify(nextMarks) !== JSON.stringify(marks);
    if (!changedList && !changedMarks) continue;
    const marker = Object.keys(nextMarks).length ? JSON.stringify(Object.fromEntries(Object.entries(nextMarks).sort())) : null;
    changes.push({ account, imagePullSecrets: list, marker });
  }
  return changes;
}
