// The Helm chart: lints strictly, refuses values its schema does not know, renders the same objects
// as manifests/, and what it renders (default, EKS and OpenShift values) passes the real API server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART, find, helm, kubectl, parseAll, render, type Json } from './helm.ts';
import { ROOT, kube, uniqueName } from './support.ts';

const EKS = join(CHART, 'examples/values-eks.yaml');
const OPENSHIFT = join(CHART, 'examples/values-openshift.yaml');
const manifests = (file: string) => parseAll(readFileSync(join(ROOT, 'manifests', file), 'utf8'));
const { core } = kube();

beforeAll(async () => {
  // The documented CRD path (README: before helm upgrade), on CRDs other tests created.
  const crds = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(CHART, 'crds')]);
  expect(crds.stderr).toBe('');
  expect(crds.stdout).toMatch(/ecrcredentialsyncs.ecrsync.io serverside-applied/);
});

it('helm is the version tests/stack/versions.env pins, built by the stack setup', async () => {
  const pinned = /^HELM_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, 'tests/stack/versions.env'), 'utf8'))?.[1];
  expect(pinned).toMatch(/^v3\./);
  expect((await helm(['version', '--short'])).stdout.trim()).toBe(pinned);
});

describe('helm lint --strict', () => {
  it.each([
    ['default values', []],
    ['EKS values', ['-f', EKS]],
    ['OpenShift values', ['-f', OPENSHIFT]],
    ['every optional object on', ['--set', 'networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.dashboard.enabled=true']],
  ])('passes with %s', async (_name, args) => {
    const result = await helm(['lint', '--strict', CHART, ...args]);
    expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(result.code).toBe(0);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['an unknown top-level value', ['--set', 'replicas=2'], /additional properties 'replicas' not allowed/],
    ['an unknown nested value', ['--set', 'image.name=x'], /additional properties 'name' not allowed/],
    ['a string where a number belongs', ['--set', 'replicaCount=two'], /replicaCount.*got string, want integer/],
    ['a port out of range', ['--set', 'metrics.port=70000'], /metrics\/port/],
    ['a role ARN that is not one', ['--set', 'serviceAccount.roleArn=my-role'], /roleArn/],
    ['an unknown log level', ['--set', 'logLevel=loud'], /logLevel/],
    ['an extra arg that is not a flag', ['--set', 'extraArgs[0]=oops'], /extraArgs/],
  ])('refuses %s in helm template and helm lint', async (_name, args, message) => {
    const template = await helm(['template', 'x', CHART, ...args]);
    expect(template.code).not.toBe(0);
    expect(template.stderr).toMatch(message);
    const lint = await helm(['lint', '--strict', CHART, ...args]);
    expect(lint.code).not.toBe(0);
  });
});

describe('with release and namespace ecr-credential-sync it renders what manifests/ holds', () => {
  let objects: Json[];
  beforeAll(async () => {
    objects = (await render('ecr-credential-sync', 'ecr-credential-sync')).objects;
  });
  const rbac = [...manifests('02-rbac.yaml'), ...manifests('06-sync-admission-policy.yaml')].filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
  it.each(rbac.map((o) => [`${o.kind} ${o.metadata.name}`, o]))('%s: the same rules and aggregation labels', (_name, expected: Json) => {
    const actual = find(objects, expected.kind, expected.metadata.name);
    expect(actual.rules).toEqual(expected.rules);
    const aggregation = (o: Json) => Object.entries(o.metadata.labels ?? {}).filter(([k]) => k.startsWith('rbac.authorization.k8s.io/'));
    expect(aggregation(actual)).toEqual(aggregation(expected));
    if (expected.metadata.namespace) expect(actual.metadata.namespace).toBe(expected.metadata.namespace);
  });

  const policies = [...manifests('05-admission-policy.yaml'), ...manifests('06-sync-admission-policy.yaml')].filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'));
  it.each(policies.map((o) => [`${o.kind} ${o.metadata.name}`, o]))('%s: the same spec', (_name, expected: Json) => {
    expect(find(objects, expected.kind, expected.metadata.name).spec).toEqual(expected.spec);
  });

  it('the same bindings subjects, Service ports and operator container (args, env, ports, probes, resources, security)', () => {
    const expectedRbac = manifests('02-rbac.yaml');
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const expected = expectedRbac.find((o) => o.kind === kind)!;
      const actual = find(objects, kind, expected.metadata.name);
      expect(actual.subjects).toEqual(expected.subjects);
      expect(actual.roleRef).toEqual(expected.roleRef);
    }
    const service = manifests('04-service.yaml')[0]!;
    expect(find(objects, 'Service', service.metadata.name).spec.ports).toEqual(service.spec.ports);
    const expected = manifests('03-deployment.yaml')[0]!;
    const actual = find(objects, 'Deployment', expected.metadata.name);
    expect(actual.metadata.namespace).toBe(expected.metadata.namespace);
    expect(actual.spec.replicas).toBe(expected.spec.replicas);
    const [pod, wanted] = [actual.spec.template.spec, expected.spec.template.spec];
    expect(pod.serviceAccountName).toBe(wanted.serviceAccountName);
    expect(pod.securityContext).toEqual(wanted.securityContext);
    expect(pod.affinity).toEqual(wanted.affinity);
    expect(pod.containers).toEqual(wanted.containers);
    const sa = find(objects, 'ServiceAccount', 'ecr-credential-sync');
    expect(sa.metadata.namespace).toBe('ecr-credential-sync');
    expect(sa.metadata.annotations).toBeUndefined();
  });
});

describe('kubectl apply --dry-run=server of what it renders', () => {
  it.each([
    ['default values', []],
    ['EKS values', ['-f', EKS]],
    ['OpenShift values', ['-f', OPENSHIFT]],
  ])('%s: every object is accepted, with no warning (restricted Pod Security enforced and warned)', async (_name, args) => {
    const namespace = uniqueName('helm-dry');
    const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
    await core.createNamespace({ body: { metadata: { name: namespace, labels: restricted } } });
    const { yaml, objects } = await render(uniqueName('r'), namespace, args);
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.match(/ created \(server dry run\)$/gm)?.length).toBe(objects.length);
    await core.deleteNamespace({ name: namespace });
  });

  it('a release called "on" in a namespace called "<digits>" (names YAML 1.1 reads as bool and number) is accepted', async () => {
    const namespace = String(Date.now()).slice(-9);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const { yaml, objects } = await render('on', namespace, ['--set-string', 'fullnameOverride=2026,priorityClassName=true']);
    expect(find(objects, 'Deployment', '2026').metadata.labels['app.kubernetes.io/instance']).toBe('on');
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(result.stderr).toBe('');
    expect(result.stdout.match(/ created \(server dry run\)$/gm)?.length).toBe(objects.length);
    await core.deleteNamespace({ name: namespace });
  });

  it('the Deployment pod passes restricted Pod Security when created as a pod (dry run)', async () => {
    const namespace = uniqueName('helm-pod');
    await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'pod-ecr-credential-sync' } } });
    for (const args of [[], ['-f', OPENSHIFT]]) {
      const deployment = (await render('pod', namespace, args)).objects.find((o) => o.kind === 'Deployment')!;
      const pod = { metadata: { name: uniqueName('operator') }, spec: deployment.spec.template.spec };
      await expect(core.createNamespacedPod({ namespace, body: pod, dryRun: 'All' })).resolves.toBeDefined();
    }
    await core.deleteNamespace({ name: namespace });
  });
});

describe('values users set', () => {
  it('EKS: the IRSA role annotation, NetworkPolicy to the metrics port only, scheduling, allowed hostnames', async () => {
    const { objects } = await render('ecr-credential-sync', 'ops', ['-f', EKS]);
    const sa = find(objects, 'ServiceAccount', 'ecr-credential-sync');
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::222222222222:role/ecr-credential-sync' });
    const policy = find(objects, 'NetworkPolicy', 'ecr-credential-sync');
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([
      { ports: [{ protocol: 'TCP', port: 8080 }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
    ]);
    const pod = find(objects, 'Deployment', 'ecr-credential-sync').spec.template.spec;
    expect(pod.priorityClassName).toBe('system-cluster-critical');
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toEqual([{ key: 'CriticalAddonsOnly', operator: 'Exists' }]);
    expect(pod.containers[0].image).toBe('222222222222.dkr.ecr.us-east-1.amazonaws.com/ecr-credential-sync:0.1.0');
    expect(pod.containers[0].args).toContain('--allowed-hostnames=mirror.corp:5000');
  });

  it('OpenShift: no fixed UID, GID or fsGroup anywhere; the openshift audience in the flag and in the token policy', async () => {
    const { yaml, objects } = await render('ecr-credential-sync', 'ops', ['-f', OPENSHIFT]);
    expect(yaml).not.toMatch(/runAsUser|runAsGroup|fsGroup/);
    const container = find(objects, 'Deployment', 'ecr-credential-sync').spec.template.spec.containers[0];
    expect(container.args).toEqual([
      '--leader-elect',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
      '--selector-excluded-namespaces=kube-*,openshift,openshift-*,default',
      '--token-audiences=openshift',
      '--reconcile-concurrency=4',
    ]);
    const tokens = find(objects, 'ValidatingAdmissionPolicy', 'ecr-credential-sync-token-requests');
    expect(tokens.spec.validations[0].expression).toContain("a in ['openshift']");
    expect(JSON.stringify(tokens.spec.matchConditions)).toContain("'system:serviceaccount:ops:'");
  });

  it('an empty selectorExcludedNamespaces list turns the exclusions off; a digest wins over the tag; pull secrets', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const { objects } = await render('x', 'ops', ['--set', `image.digest=${digest},imagePullSecrets[0].name=pull`, '--set-json', 'selectorExcludedNamespaces=[]']);
    const pod = find(objects, 'Deployment', 'x-ecr-credential-sync').spec.template.spec;
    expect(pod.containers[0].args).toContain('--selector-excluded-namespaces=');
    expect(pod.containers[0].image).toBe(`ecr-credential-sync@${digest}`);
    expect(pod.imagePullSecrets).toEqual([{ name: 'pull' }]);
  });

  it('the ServiceMonitor selects the metrics Service, and needs it', async () => {
    const { objects } = await render('x', 'ops', ['--set', 'metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prom']);
    const monitor = find(objects, 'ServiceMonitor', 'x-ecr-credential-sync');
    const service = find(objects, 'Service', 'x-ecr-credential-sync-metrics');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels.release).toBe('prom');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s', relabelings: [{ targetLabel: 'job', replacement: 'ecr-credential-sync-metrics' }] },
    ]);
    // EcrSyncOperatorAbsent watches that job: a release named otherwise must not page for ever.
    expect(readFileSync(join(ROOT, 'monitoring/rules.yaml'), 'utf8')).toContain('up{job="ecr-credential-sync-metrics"}');
    const without = await helm(['template', 'x', CHART, '--set', 'metrics.serviceMonitor.enabled=true,metrics.service.enabled=false']);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/serviceMonitor.enabled needs metrics.service.enabled/);
  });

  it("the PrometheusRule carries monitoring/rules.yaml's alerts unchanged, and the dashboard ConfigMap its dashboard, for Grafana's sidecar", async () => {
    const { objects } = await render('x', 'ops', ['--set', 'metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=prom,metrics.dashboard.enabled=true']);
    const rule = find(objects, 'PrometheusRule', 'x-ecr-credential-sync');
    expect(rule.metadata.labels.release).toBe('prom');
    expect(rule.spec).toEqual(parseAll(readFileSync(join(ROOT, 'monitoring/rules.yaml'), 'utf8'))[0]);
    expect(JSON.stringify(rule.spec)).toContain('{{ $labels.sync }}');
    const dashboard = find(objects, 'ConfigMap', 'x-ecr-credential-sync-dashboard');
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['ecr-credential-sync.json'])).toEqual(JSON.parse(readFileSync(join(ROOT, 'monitoring/dashboard.json'), 'utf8')));
    const defaults = await render('x', 'ops');
    expect(defaults.objects.map((o) => o.kind)).not.toEqual(expect.arrayContaining(['PrometheusRule']));
    expect(defaults.objects.filter((o) => o.kind === 'ConfigMap')).toEqual([]);
  });

  it('without leader election and RBAC extras: no Lease Role, no aggregated roles, no admission policies', async () => {
    const { objects } = await render('x', 'ops', ['--set', 'leaderElection.enabled=false,rbac.aggregateToDefaultRoles=false,admissionPolicies.enabled=false,replicaCount=1']);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    expect(find(objects, 'Deployment', 'x-ecr-credential-sync').spec.template.spec.containers[0].args).not.toContain('--leader-elect');
    const two = await helm(['template', 'x', CHART, '--set', 'leaderElection.enabled=false']);
    expect(two.code).not.toBe(0);
    expect(two.stderr).toMatch(/replicaCount above 1 needs leaderElection.enabled/);
  });
});
