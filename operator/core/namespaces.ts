// Which namespaces a sync targets: names ∪ selector matches, minus exclusions.
import type { LabelSelector, NamespaceSelection } from '../api/types.ts';
import { globMatch } from './glob.ts';

/**
 * Namespaces no selector reaches unless an administrator says otherwise (--selector-excluded-namespaces,
 * which also adds the operator's own): a selector as broad as `{}` must not put a pull secret into
 * the cluster's own namespaces. `names` still reaches them.
 */
export const DEFAULT_SELECTOR_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'openshift', 'openshift-*'];

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  /** Namespaces being deleted take no new secrets. */
  terminating?: boolean;
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export { globMatch };

/** @param selectorExcluded globs of namespaces the selector never reaches; `names` still does */
export function isTargeted(selection: NamespaceSelection, ns: NamespaceInfo, selectorExcluded: readonly string[] = []): boolean {
  if (ns.terminating) return false;
  if ((selection.exclude ?? []).some((pattern) => globMatch(pattern, ns.name))) return false;
  if (selection.names?.includes(ns.name)) return true;
  if (selection.selector === undefined || selectorExcluded.some((pattern) => globMatch(pattern, ns.name))) return false;
  return matchesSelector(selection.selector, ns.labels);
}

/** Target namespace names, sorted. Only namespaces that exist are returned. */
export function targetNamespaces(selection: NamespaceSelection, namespaces: Iterable<NamespaceInfo>, selectorExcluded: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const ns of namespaces) if (isTargeted(selection, ns, selectorExcluded)) out.push(ns.name);
  return out.sort();
}
