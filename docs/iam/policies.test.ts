// The IAM policies in docs/iam/ stay what the README promises: valid policy documents, least
// privilege, and trust policies that name who may assume the role and under which conditions.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

const dir = fileURLToPath(new URL('.', import.meta.url));
const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json')).sort();
const policy = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as { Version: string; Statement: Statement[] };
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const statements = (file: string) => policy(file).Statement;
const isTrust = (s: Statement) => Boolean(s.Principal) && list(s.Action).some((a) => a.startsWith('sts:AssumeRole'));
/** Actions whose Resource must be "*": they act on no resource that could be named. */
const UNSCOPABLE = new Set(['ecr:GetAuthorizationToken', 'ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken']);
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
const manifest = load(readFileSync(join(dir, '../../manifests/01-serviceaccount.yaml'), 'utf8')) as { metadata: { name: string; namespace: string } };
const OPERATOR_SUBJECT = `system:serviceaccount:${manifest.metadata.namespace}:${manifest.metadata.name}`;

describe('docs/iam', () => {
  it('holds the policies the README lists, and the README lists them all', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(([^)]+\.json)\)/g)].map((m) => m[1]!).sort();
    expect(linked).toEqual(files);
    expect(files.length).toBeGreaterThanOrEqual(9);
  });

  describe.each(files)('%s', (file) => {
    it('is a 2012-10-17 policy of Allow statements, each with a Sid and an action', () => {
      const doc = policy(file);
      expect(doc.Version).toBe('2012-10-17');
      expect(doc.Statement.length).toBeGreaterThan(0);
      for (const s of doc.Statement) {
        expect(s.Effect).toBe('Allow');
        expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/);
        expect(list(s.Action).length).toBeGreaterThan(0);
      }
    });

    it('grants no wildcard action, and "Resource": "*" only to the actions that cannot be scoped', () => {
      for (const s of statements(file)) {
        for (const action of list(s.Action)) expect(action).not.toMatch(/\*/);
        if (list(s.Resource).includes('*')) for (const action of list(s.Action)) expect(UNSCOPABLE).toContain(action);
        for (const resource of list(s.Resource)) if (resource !== '*') expect(resource).toMatch(/^arn:aws:(ecr|iam):/);
      }
    });

    it('asks for an ECR token on "Resource": "*", as it must', () => {
      for (const s of statements(file)) {
        if (list(s.Action).some((a) => UNSCOPABLE.has(a))) expect(s.Resource).toBe('*');
      }
    });

    it('is a trust policy with conditions, a repository policy of pull actions, or a permission policy without principals', () => {
      for (const s of statements(file)) {
        if (isTrust(s)) {
          expect(s.Resource).toBeUndefined();
          expect(Object.keys(s.Condition ?? {}).length).toBeGreaterThan(0);
        } else if (s.Principal) {
          expect(s.Resource).toBeUndefined();
          expect(list(s.Action).sort()).toEqual([...PULL].sort());
        } else {
          expect(list(s.Resource).length).toBeGreaterThan(0);
        }
      }
    });
  });

  const trusts = files.filter((f) => statements(f).some(isTrust));
  it('has a trust policy for each way the operator gets a role', () => {
    expect(trusts.map((f) => relative('.', f))).toEqual(['cross-account/registry-role-trust.json', 'eks-irsa-trust.json', 'eks-pod-identity-trust.json', 'rosa-sts-trust.json']);
  });

  it.each<[string, string]>([
    ['eks-irsa-trust.json', 'sts.amazonaws.com'],
    ['rosa-sts-trust.json', 'openshift'],
  ])('%s lets only the operator\'s ServiceAccount in, for the audience %s', (file, audience) => {
    const [s] = statements(file);
    const provider = s!.Principal!.Federated as string;
    const issuer = provider.replace(/^arn:aws:iam::\d{12}:oidc-provider\//, '');
    expect(issuer).not.toBe(provider);
    expect(s!.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(s!.Condition).toEqual({ StringEquals: { [`${issuer}:sub`]: OPERATOR_SUBJECT, [`${issuer}:aud`]: audience } });
  });

  it('the Pod Identity trust lets only EKS in, from its own account, for the operator\'s ServiceAccount, and lets it tag the session', () => {
    const [s] = statements('eks-pod-identity-trust.json');
    expect(s!.Principal).toEqual({ Service: 'pods.eks.amazonaws.com' });
    expect(list(s!.Action).sort()).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    const conditions = s!.Condition!.StringEquals!;
    expect(conditions['aws:SourceAccount']).toMatch(/^\d{12}$/);
    expect(conditions['aws:RequestTag/eks-cluster-arn']).toMatch(new RegExp(`^arn:aws:eks:[a-z0-9-]+:${conditions['aws:SourceAccount']}:cluster/`));
    expect(`system:serviceaccount:${conditions['aws:RequestTag/kubernetes-namespace']}:${conditions['aws:RequestTag/kubernetes-service-account']}`).toBe(OPERATOR_SUBJECT);
  });

  it('the registry role trusts the operator\'s role only with the external id, and accepts its transitive session tags', () => {
    const [s] = statements('cross-account/registry-role-trust.json');
    expect(s!.Principal!.AWS).toMatch(/^arn:aws:iam::\d{12}:role\//);
    expect(list(s!.Action).sort()).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    expect(s!.Condition).toEqual({ StringEquals: { 'sts:ExternalId': expect.stringMatching(/\S/) } });
  });

  it('the operator may assume exactly the registry role that trusts it', () => {
    const [assume] = statements('cross-account/operator-permissions.json');
    const [trust] = statements('cross-account/registry-role-trust.json');
    expect(assume!.Action).toBe('sts:AssumeRole');
    expect(assume!.Resource).toMatch(/^arn:aws:iam::111111111111:role\//);
    expect(list(trust!.Principal!.AWS)).toEqual(list(statements('cross-account/repository-policy.json')[0]!.Principal!.AWS));
  });
});
