import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseContainerfile } from '../bench/image-runtime.ts';
import { baseImages, contentHash, copySources, globalArgs, ignored, ignoreRules } from './containerfile.ts';
import { runtimeSpec } from './image-run.ts';
import { BASE_IMAGE_ARGS, checkBaseArgs, imageInputs } from './operator-image.ts';
import { PROJECT_ROOT } from './stack.ts';

const PROJECT_CONTAINERFILE = readFileSync(join(PROJECT_ROOT, 'Containerfile'), 'utf8');

describe('the Containerfile build arguments', () => {
  it.each([
    ['reads ARG defaults before the first FROM', 'ARG A=x\nARG B="y z"\nFROM $A\nARG C=later\n', [['A', 'x'], ['B', 'y z']]],
    ['keeps an ARG without a default as undefined', 'ARG A\nFROM scratch\n', [['A', undefined]]],
    ['skips comments and joins continued lines', '# ARG X=no\nARG \\\n  A=x\nFROM $A\n', [['A', 'x']]],
    ['finds none when FROM comes first', 'FROM scratch\nARG A=x\n', []],
  ])('%s', (_title, text, expected) => {
    expect([...globalArgs(text)]).toEqual(expected);
  });

  it('refuses an ARG it cannot read', () => {
    expect(() => globalArgs('ARG A=x B=y\nFROM scratch\n')).toThrow('cannot read');
  });

  it.each([
    ['fills ${NAME} and $NAME from the defaults', 'ARG A=one\nARG B=two\nFROM ${A} AS x\nFROM $B\n', undefined, ['one', 'two']],
    ['takes given values over the defaults', 'ARG A=one\nFROM ${A}\n', new Map([['A', 'local']]), ['local']],
    ['skips a --platform flag', 'FROM --platform=linux/amd64 scratch\n', undefined, ['scratch']],
  ])('baseImages %s', (_title, text, args, expected) => {
    expect(baseImages(text, args)).toEqual(expected);
  });

  it('refuses a FROM whose ARG has no value', () => {
    expect(() => baseImages('ARG A\nFROM ${A}\n')).toThrow('FROM ${A} uses A, which has no value');
  });

  it('the project Containerfile builds on the public Node 24 images unless told otherwise', () => {
    expect(globalArgs(PROJECT_CONTAINERFILE).get(BASE_IMAGE_ARGS.build)).toBe('docker.io/library/node:24-bookworm-slim');
    expect(globalArgs(PROJECT_CONTAINERFILE).get(BASE_IMAGE_ARGS.runtime)).toBe('gcr.io/distroless/nodejs24-debian12:nonroot');
    expect(baseImages(PROJECT_CONTAINERFILE)).toEqual([
      'docker.io/library/node:24-bookworm-slim',
      'docker.io/library/node:24-bookworm-slim',
      'gcr.io/distroless/nodejs24-debian12:nonroot',
    ]);
    expect(() => checkBaseArgs(PROJECT_CONTAINERFILE)).not.toThrow();
  });

  it('a Containerfile without the base image arguments cannot be built locally', () => {
    expect(() => checkBaseArgs('ARG BUILD_IMAGE=x\nFROM $BUILD_IMAGE\n')).toThrow('no ARG RUNTIME_IMAGE');
  });

  it("the benchmarks still read the runtime stage's entrypoint and environment from the project Containerfile", () => {
    const runtime = parseContainerfile(PROJECT_CONTAINERFILE);
    expect(runtime.entrypoint[0]).toBe('/nodejs/bin/node');
    expect(runtime.entrypoint.at(-1)).toBe('dist/operator/main.js');
    expect(runtime.nodeFlags).toEqual(['--max-semi-space-size=1', '--optimize-for-size']);
    expect(runtime.env).toMatchObject({ NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' });
  });
});

describe('the build context', () => {
  it.each([
    ['COPY takes every source but the last argument', 'FROM x\nCOPY a b ./\n', ['a', 'b']],
    ['a copy from another stage is not the context', 'FROM x\nCOPY --from=build /src/dist ./dist\nCOPY --chown=1:1 c ./\n', ['c']],
    ['the JSON form and ADD count too', 'FROM x\nCOPY ["a b", "./"]\nADD ./d/ /d\n', ['a b', 'd']],
  ])('%s', (_title, text, sources) => {
    expect(copySources(text)).toEqual(sources);
  });

  it.each([
    ['a name matches at the top and everything under it', 'node_modules', ['node_modules', 'node_modules/a/b.js'], ['src/node_modules']],
    ['* stays within one directory, ** crosses them', 'a/*.ts\nb/**/*.ts', ['a/x.ts', 'b/x/y.ts'], ['a/x/y.ts', 'a/x.js']],
    ['! lets a path and what is under it back in, the last rule deciding', '*\n!keep\nkeep/drop', ['other', 'keep/drop/x'], ['keep', 'keep/x']],
    ['? is one character; comments and blank lines are no rules', '# x\n\n.stack?', ['.stack1'], ['.stack', 'x']],
  ])('ignore rules: %s', (_title, text, out, kept) => {
    const rules = ignoreRules(text);
    for (const path of out) expect([path, ignored(rules, path)]).toEqual([path, true]);
    for (const path of kept) expect([path, ignored(rules, path)]).toEqual([path, false]);
  });

  const rules = ignoreRules(readFileSync(join(PROJECT_ROOT, '.containerignore'), 'utf8'));

  it('lets in every source the project Containerfile copies, and every file under them', () => {
    const sources = copySources(PROJECT_CONTAINERFILE);
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'operator', 'LICENSE']));
    const files = sources.flatMap((source) =>
      statSync(join(PROJECT_ROOT, source)).isDirectory()
        ? readdirSync(join(PROJECT_ROOT, source), { recursive: true, encoding: 'utf8' }).map((f) => `${source}/${f}`)
        : [source],
    );
    expect(files.filter((path) => ignored(rules, path))).toEqual([]);
  });

  it("leaves out dependencies, build output, buildah's storage, the stack's keys and sockets, git and tests", () => {
    const out = ['node_modules/jest/package.json', 'dist/operator/main.js', '.cache/containers/storage/overlay', '.stack-test/pki/ca.key', '.stack/run/etcd.sock', '.git/HEAD', 'tests/e2e/x.test.ts', 'bench-results/latest.json', 'README.md'];
    expect(out.filter((path) => !ignored(rules, path))).toEqual([]);
  });

  it('is the same for docker as for podman and buildah', () => {
    expect(readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')).toBe(readFileSync(join(PROJECT_ROOT, '.containerignore'), 'utf8'));
  });
});

describe('the image content hash', () => {
  const files = [
    { path: 'a', content: 'one' },
    { path: 'b', content: Buffer.from('two') },
  ];

  it('does not depend on the order of the files', () => {
    expect(contentHash(files)).toBe(contentHash([...files].reverse()));
  });

  it.each([
    ['a changed file', [{ path: 'a', content: 'one!' }, files[1]!], []],
    ['a renamed file', [{ path: 'c', content: 'one' }, files[1]!], []],
    ['content moved between files', [{ path: 'a', content: 'onet' }, { path: 'b', content: 'wo' }], []],
    ['another base image', files, ['base:2']],
  ])('changes with %s', (_title, changed, extra) => {
    expect(contentHash(changed, extra)).not.toBe(contentHash(files));
  });

  it('takes the Containerfile, its ignore file, package files, tsconfigs, LICENSE and operator sources, nothing else', () => {
    const root = mkdtempSync(join(tmpdir(), 'image-inputs-'));
    for (const file of ['Containerfile', '.containerignore', '.dockerignore', 'package.json', 'package-lock.json', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'operator/main.ts', 'operator/core/x.ts', 'tests/a.ts']) {
      mkdirSync(join(root, file, '..'), { recursive: true });
      writeFileSync(join(root, file), file);
    }
    expect(imageInputs(root).map((f) => f.path).sort()).toEqual(
      ['.containerignore', 'Containerfile', 'LICENSE', 'operator/core/x.ts', 'operator/main.ts', 'package-lock.json', 'package.json', 'tsconfig.build.json', 'tsconfig.json'],
    );
  });
});

describe('the runtime spec for running an image', () => {
  const config = { User: '65532:65532', Entrypoint: ['/nodejs/bin/node', 'main.js'], Cmd: ['--default'], Env: ['A=1'], WorkingDir: '/app' };
  type Spec = { process: { args: string[]; user: { uid: number; gid: number }; cwd: string }; root: { readonly: boolean }; linux: { namespaces: Array<{ type: string }> } };
  const spec = (options: Parameters<typeof runtimeSpec>[2]) => runtimeSpec('/root', config, options) as Spec;

  it.each([
    ['runs the entrypoint with the image command', {}, ['/nodejs/bin/node', 'main.js', '--default']],
    ['appends args to the entrypoint instead of the command', { args: ['--help'] }, ['/nodejs/bin/node', 'main.js', '--help']],
    ['replaces the entrypoint with a command', { command: ['/nodejs/bin/node', '--version'] }, ['/nodejs/bin/node', '--version']],
  ])('%s', (_title, options, args) => {
    expect(spec(options).process.args).toEqual(args);
  });

  it("runs as the image's user, or the one given, read-only and in a network namespace of its own", () => {
    expect(spec({}).process.user).toMatchObject({ uid: 65532, gid: 65532 });
    expect(spec({ user: '1000680000:0' }).process.user).toMatchObject({ uid: 1000680000, gid: 0 });
    expect(spec({}).root.readonly).toBe(true);
    expect(spec({}).process.cwd).toBe('/app');
    expect(spec({}).linux.namespaces).toContainEqual({ type: 'network' });
  });

  it('refuses a user by name, which it cannot resolve', () => {
    expect(() => runtimeSpec('/root', { ...config, User: 'nonroot' }, {})).toThrow('not numeric');
  });
});
