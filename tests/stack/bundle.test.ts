// The OLM bundle (bundle/) passes operator-framework/api's validators (tools/bundle-validate), a
// broken copy does not, and its CRDs, deployment, RBAC and examples are those of crds/ and manifests/.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { run, runOk } from './run.ts';

type Obj = Record<string, any>;
const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'bundle');
const csvFile = join(bundle, 'manifests', 'ecr-credential-sync.clusterserviceversion.yaml');
const csv = load(readFileSync(csvFile, 'utf8')) as Obj;
const docs = (file: string) => loadAll(readFileSync(join(root, file), 'utf8')) as Obj[];
const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;
// The validator must not reach out: it gets a proxy that refuses.
const offline = { ...process.env, HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1,localhost' };

let validator = '';
beforeAll(async () => {
  validator = (await runOk('bash', [join(root, 'tools/bundle-validate/build.sh')], { passStderr: true })).trim().split('\n').pop()!;
}, 600_000);

async function validate(dir: string) {
  const result = await run(validator, [dir], { env: offline });
  process.stdout.write(result.stdout);
  return result;
}

function brokenCopy(edit: (csv: Obj, dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  cpSync(bundle, dir, { recursive: true });
  const copy = JSON.parse(JSON.stringify(csv)) as Obj;
  edit(copy, dir);
  writeFileSync(join(dir, 'manifests', 'ecr-credential-sync.clusterserviceversion.yaml'), JSON.stringify(copy)); // JSON is YAML
  return dir;
}

describe('bundle-validate on bundle/', () => {
  it('finds no errors', async () => {
    const result = await validate(bundle);
    expect(result.stdout).not.toMatch(/^ERROR/m);
    expect(result.stdout).toMatch(/: 0 error\(s\)/);
    expect(result.code).toBe(0);
  });

  it.each<[string, (csv: Obj, dir: string) => void, RegExp]>([
    ['without installModes', (c) => delete c.spec.installModes, /install modes not found/],
    ['without the LocalEcrCredentialSync CRD', (_c, dir) => rmSync(join(dir, 'manifests', 'ecrsync.io_localecrcredentialsyncs.yaml')), /LocalEcrCredentialSync.*not found in bundle/],
    ['with an unknown capability level', (c) => (c.metadata.annotations.capabilities = 'Superpowers'), /capabilities/],
  ])('fails on a copy %s', async (_name, edit, message) => {
    const dir = brokenCopy(edit);
    try {
      const result = await validate(dir);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bundle/ and the plain manifests', () => {
  it('carries crds/ unchanged (copy them again after editing crds/)', () => {
    const crds = readdirSync(join(root, 'crds'));
    expect(crds).toHaveLength(2);
    for (const file of crds) {
      expect(readFileSync(join(bundle, 'manifests', file), 'utf8')).toEqual(readFileSync(join(root, 'crds', file), 'utf8'));
    }
  });

  it('owns both kinds, with the scopes of crds/', () => {
    const crds = readdirSync(join(root, 'crds')).map((f) => load(readFileSync(join(root, 'crds', f), 'utf8')) as Obj);
    const owned = csv.spec.customresourcedefinitions.owned as Obj[];
    expect(owned.map((o) => [o.name, o.kind, o.version]).sort()).toEqual(
      crds.map((c) => [c.metadata.name, c.spec.names.kind, c.spec.versions[0].name]).sort());
    expect(crds.map((c) => [c.spec.names.kind, c.spec.scope]).sort()).toEqual([['EcrCredentialSync', 'Cluster'], ['LocalEcrCredentialSync', 'Namespaced']]);
  });

  it('deploys what manifests/03-deployment.yaml deploys', () => {
    const deployment = find(docs('manifests/03-deployment.yaml'), 'Deployment', 'ecr-credential-sync');
    const [installed] = csv.spec.install.spec.deployments;
    expect(csv.spec.install.strategy).toBe('deployment');
    expect(installed.name).toBe(deployment.metadata.name);
    expect(installed.spec).toEqual(deployment.spec);
  });

  it('grants the rules of manifests/02-rbac.yaml to the same ServiceAccount', () => {
    const rbac = docs('manifests/02-rbac.yaml');
    const { clusterPermissions, permissions, deployments } = csv.spec.install.spec;
    const account = deployments[0].spec.template.spec.serviceAccountName;
    expect(clusterPermissions).toEqual([{ serviceAccountName: account, rules: find(rbac, 'ClusterRole', 'ecr-credential-sync').rules }]);
    expect(permissions).toEqual([{ serviceAccountName: account, rules: find(rbac, 'Role', 'ecr-credential-sync-leader-election').rules }]);
  });

  it('has the samples of manifests/samples/ as alm-examples, and installs in AllNamespaces mode only', () => {
    const samples = readdirSync(join(root, 'manifests/samples')).map((f) => load(readFileSync(join(root, 'manifests/samples', f), 'utf8')));
    const examples = JSON.parse(csv.metadata.annotations['alm-examples']);
    expect([...examples].sort(byKind)).toEqual([...samples].sort(byKind));
    const modes = Object.fromEntries((csv.spec.installModes as Obj[]).map((m) => [m.type, m.supported]));
    expect(modes).toEqual({ OwnNamespace: false, SingleNamespace: false, MultiNamespace: false, AllNamespaces: true });
    expect(csv.metadata.annotations['features.operators.openshift.io/token-auth-aws']).toBe('true');
  });

  it('names the package and channel in metadata/annotations.yaml', () => {
    const { annotations } = load(readFileSync(join(bundle, 'metadata', 'annotations.yaml'), 'utf8')) as Obj;
    expect(annotations).toMatchObject({
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.package.v1': 'ecr-credential-sync',
      'operators.operatorframework.io.bundle.channels.v1': 'alpha',
      'operators.operatorframework.io.bundle.channel.default.v1': 'alpha',
    });
  });
});

function byKind(a: any, b: any): number {
  return String(a.kind).localeCompare(String(b.kind));
}
