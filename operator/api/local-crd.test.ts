// The namespaced kind's CRD is generated from the cluster kind's: the two never drift apart.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { CLUSTER_CRD, LOCAL_CRD, renderLocalCrd } from '../../scripts/local-crd.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const cluster = load(readFileSync(CLUSTER_CRD, 'utf8')) as Json;
const local = load(readFileSync(LOCAL_CRD, 'utf8')) as Json;
const specOf = (crd: Json) => crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;

describe('the LocalEcrCredentialSync CRD', () => {
  it('is what scripts/local-crd.ts makes of the cluster CRD (run npm run crds after editing that)', () => {
    expect(readFileSync(LOCAL_CRD, 'utf8')).toBe(renderLocalCrd(readFileSync(CLUSTER_CRD, 'utf8')));
  });

  it('is namespaced, in the same group and version', () => {
    expect(local.spec).toMatchObject({ group: 'ecrsync.io', scope: 'Namespaced', names: { kind: 'LocalEcrCredentialSync', plural: 'localecrcredentialsyncs' } });
    expect(local.spec.versions.map((v: Json) => v.name)).toEqual(cluster.spec.versions.map((v: Json) => v.name));
  });

  it('has no field that could reach another namespace or the operator token file', () => {
    const spec = specOf(local);
    expect(spec.properties.namespaces).toBeUndefined();
    expect(spec.properties.identity.properties.webIdentity).toBeUndefined();
    expect(spec.properties.identity.properties.serviceAccountRef.properties.namespace).toBeUndefined();
    expect(spec.properties.identity.properties.serviceAccountRef.required).toEqual(['name']);
  });

  it('keeps no validation rule that names a field it lacks (the API server would refuse the CRD)', () => {
    const rules = JSON.stringify(local).match(/"rule":"[^"]*"/g) ?? [];
    expect(rules.filter((r) => /webIdentity|namespaces|\.namespace\b/.test(r))).toEqual([]);
  });

  it.each(['registries', 'secretName', 'secretTemplate', 'serviceAccounts', 'schedule', 'refreshBefore', 'suspend'])('shares %s with the cluster kind', (field) => {
    expect(specOf(local).properties[field]).toEqual(specOf(cluster).properties[field]);
  });

  it('shares the status and the name rule with the cluster kind', () => {
    const root = (crd: Json) => crd.spec.versions[0].schema.openAPIV3Schema;
    expect(root(local).properties.status).toEqual(root(cluster).properties.status);
    expect(root(local)['x-kubernetes-validations']).toEqual(root(cluster)['x-kubernetes-validations']);
  });
});
