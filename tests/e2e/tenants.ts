// Unprivileged users for the e2e tests: the stack's admin impersonates them (Impersonate-User, as
// `kubectl --as` does), so every request is authorized and admitted as theirs, under real RBAC that
// the tests grant and revoke.
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api, type V1PolicyRule, type V1ResourceAttributes } from '@kubernetes/client-node';
import { join } from 'node:path';
import { run } from '../stack/run.ts';
import { eventually, kube, stackEnv, uniqueName } from './support.ts';

export interface Tenant {
  /** The user name the requests carry (no groups but system:authenticated). */
  user: string;
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The stack's kubectl as this user (`--as`); resolves with its exit code and output. */
  kubectl: (args: string[], stdin?: string) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Whether the API server's authorizer lets this user do that (a SelfSubjectAccessReview as them). */
  can: (attributes: V1ResourceAttributes) => Promise<boolean>;
  /**
   * Binds a ClusterRole to the user in one namespace (RoleBinding). Resolves once `proof` (a right
   * the role gives, in that namespace) is allowed, with a function that removes the binding and
   * resolves once `proof` is denied again.
   */
  grantInNamespace: (namespace: string, clusterRole: string, proof: V1ResourceAttributes) => Promise<() => Promise<void>>;
  /** The same with a ClusterRoleBinding: the role's rights in every namespace. */
  grantClusterWide: (clusterRole: string, proof: V1ResourceAttributes) => Promise<() => Promise<void>>;
  /** Removes every binding still granted through this tenant (without waiting for the authorizer). */
  revokeAll: () => Promise<void>;
}

/** Lets its subjects manage cluster-wide syncs, as far as RBAC goes (the admission policy judges the rest). */
export const SYNC_AUTHOR_ROLE = 'e2e-ecrsync-cluster-sync-author';
/** Lets its subjects create secrets (bound cluster-wide: in every namespace). */
export const SECRET_WRITER_ROLE = 'e2e-secret-writer';
/** manifests/06-sync-admission-policy.yaml: using the operator's own AWS identity. */
export const IDENTITY_USER_ROLE = 'ecr-credential-sync:identity-user';

const ROLES: Record<string, V1PolicyRule[]> = {
  [SYNC_AUTHOR_ROLE]: [{ apiGroups: ['ecrsync.io'], resources: ['ecrcredentialsyncs'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }],
  [SECRET_WRITER_ROLE]: [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }],
};

/** Creates (or replaces) the test ClusterRoles above. */
export async function ensureTestRoles(): Promise<void> {
  const rbac = kube().kc.makeApiClient(RbacAuthorizationV1Api);
  for (const [name, rules] of Object.entries(ROLES)) {
    const body = { metadata: { name, labels: { 'app.kubernetes.io/part-of': 'e2e' } }, rules };
    await rbac.createClusterRole({ body }).catch(async (e: { code?: number }) => {
      if (e.code !== 409) throw e;
      await rbac.replaceClusterRole({ name, body });
    });
  }
}

/** A new user (named `<prefix>-<random>`, so runs on a kept stack never share grants) with no rights at all. */
export function tenant(prefix = 'alice'): Tenant {
  const user = uniqueName(prefix);
  const admin = kube().kc;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: admin.users.map((u) => ({ ...u, impersonateUser: user })),
    contexts: admin.contexts,
    currentContext: admin.currentContext,
  });
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const bindings: Array<() => Promise<void>> = [];
  const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }];
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });

  const can = async (attributes: V1ResourceAttributes) =>
    (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } })).status?.allowed === true;
  // RBAC changes reach the authorizer through its informers: wait until the user sees the change.
  const inForce = (proof: V1ResourceAttributes, allowed: boolean) =>
    eventually(`${user} ${allowed ? 'may' : 'may not'} ${proof.verb} ${proof.resource} in ${proof.namespace || 'every namespace'}`, async () => (await can(proof)) === allowed, 10_000, 50);
  const granted = (remove: () => Promise<unknown>, proof: V1ResourceAttributes) => {
    const removeOnce = async () => {
      const i = bindings.indexOf(removeOnce);
      if (i < 0) return;
      bindings.splice(i, 1);
      await remove().catch((e: { code?: number }) => {
        if (e.code !== 404) throw e;
      });
    };
    bindings.push(removeOnce);
    return async () => {
      await removeOnce();
      await inForce(proof, false);
    };
  };
  const bindingName = (clusterRole: string) => `${user}-${clusterRole}`.replace(/[^a-z0-9.-]/g, '-');

  return {
    user,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    kubectl: (args, stdin) => run(join(stackEnv('STACK_BIN_DIR'), 'kubectl'), [`--as=${user}`, ...args], { env: { ...process.env, KUBECONFIG: stackEnv('KUBECONFIG') }, ...(stdin === undefined ? {} : { input: stdin }) }),
    can,
    async grantInNamespace(namespace, clusterRole, proof) {
      const name = bindingName(clusterRole);
      await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name }, roleRef: roleRef(clusterRole), subjects } });
      await inForce({ ...proof, namespace }, true);
      return granted(() => rbac.deleteNamespacedRoleBinding({ namespace, name }), { ...proof, namespace });
    },
    async grantClusterWide(clusterRole, proof) {
      const name = bindingName(clusterRole);
      await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef: roleRef(clusterRole), subjects } });
      await inForce(proof, true);
      return granted(() => rbac.deleteClusterRoleBinding({ name }), proof);
    },
    async revokeAll() {
      for (const remove of [...bindings]) await remove();
    },
  };
}
