// The CRD as kubectl reads it. kubectl shows a `type: date` column as an age ("5m"), and a time
// in the future as `<invalid>`, so only times in the past may be date columns.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}

const crd = load(readFileSync(new URL('../../crds/ecrsync.io_ecrcredentialsyncs.yaml', import.meta.url), 'utf8')) as {
  spec: { versions: Array<{ name: string; additionalPrinterColumns?: PrinterColumn[] }> };
};
const columns = crd.spec.versions.flatMap((v) => v.additionalPrinterColumns ?? []);
const column = (name: string) => columns.find((c) => c.name === name);

/** Fields that only ever hold a time at or before the moment they are read. */
const PAST_TIMES = ['.metadata.creationTimestamp', '.status.lastRefreshTime'];

describe('the CRD printer columns', () => {
  it('show an age only for times in the past', () => {
    const dates = columns.filter((c) => c.type === 'date');
    expect(dates.length).toBeGreaterThan(0);
    for (const c of dates) expect(PAST_TIMES).toContain(c.jsonPath);
  });

  it.each<[string, string, number | undefined]>([
    ['Token Expires', '.status.tokenExpiresAt', undefined],
    ['Next Refresh', '.status.nextRefreshTime', 1],
  ])('print %s as the timestamp it is', (name, jsonPath, priority) => {
    expect(column(name)).toMatchObject({ name, type: 'string', jsonPath });
    expect(column(name)!.priority).toBe(priority);
  });

  it('print Last Refresh as an age, in the wide view', () => {
    expect(column('Last Refresh')).toMatchObject({ name: 'Last Refresh', type: 'date', jsonPath: '.status.lastRefreshTime', priority: 1 });
  });

  it('print where the credentials came from, in the wide view', () => {
    expect(column('Credentials')).toMatchObject({ name: 'Credentials', type: 'string', jsonPath: '.status.tokens[0].credentialSource', priority: 1 });
  });

  it('end with Age', () => {
    expect(columns.at(-1)).toMatchObject({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });
  });
});

describe('the registries schema', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const registries = (crd as any).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.registries;
  const item = registries.items as { properties: Record<string, { type: string; description: string }>; required?: string[]; 'x-kubernetes-validations': Array<{ rule: string; fieldPath?: string }> };

  it('is an atomic list: a list map needs its keys on every entry, and an ECR Public entry has no accountId nor region', () => {
    expect(registries['x-kubernetes-list-type']).toBe('atomic');
    expect(registries['x-kubernetes-list-map-keys']).toBeUndefined();
    expect(item.required).toBeUndefined();
  });

  it('points each registry rule that names a field at a property the registry has', () => {
    const paths = item['x-kubernetes-validations'].flatMap((v) => (v.fieldPath ? [v.fieldPath.replace(/^\./, '')] : []));
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(Object.keys(item.properties)).toContain(path);
  });

  it('documents on the public field the IAM actions ECR Public needs', () => {
    expect(item.properties.public!.type).toBe('boolean');
    expect(item.properties.public!.description).toMatch(/ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken/);
  });
});
