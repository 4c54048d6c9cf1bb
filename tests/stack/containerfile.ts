// Reading the project's Containerfile: its instructions, and the build arguments declared before
// the first FROM (the base images), which `npm run image` replaces with images it makes itself.
import { createHash } from 'node:crypto';

/** Joins continuation lines and drops comments. */
export function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!current && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) out.push(current.trim());
    current = '';
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** `ARG NAME=default` before the first FROM, in order; an ARG without a default maps to undefined. */
export function globalArgs(text: string): Map<string, string | undefined> {
  const args = new Map<string, string | undefined>();
  for (const line of instructions(text)) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') break;
    if (keyword !== 'ARG') continue;
    const arg = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(?:"([^"]*)"|(\S*)))?$/.exec(m[2]!.trim());
    if (!arg) throw new Error(`cannot read the Containerfile's ARG ${m[2]}`);
    args.set(arg[1]!, arg[2] ?? arg[3]);
  }
  return args;
}

/** The image each FROM names, with `${ARG}`/`$ARG` references filled in from `args`. */
export function baseImages(text: string, args: ReadonlyMap<string, string | undefined> = globalArgs(text)): string[] {
  const out: string[] = [];
  for (const line of instructions(text)) {
    const m = /^FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(line);
    if (!m) continue;
    out.push(
      m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_all, braced: string | undefined, bare: string | undefined) => {
        const name = (braced ?? bare)!;
        const value = args.get(name);
        if (value === undefined) throw new Error(`FROM ${m[1]} uses ${name}, which has no value`);
        return value;
      }),
    );
  }
  return out;
}

export interface HashInput {
  /** Path relative to the project root, with forward slashes. */
  path: string;
  content: Buffer | string;
}

/**
 * A short content hash of the files an image is built from plus `extra` strings (such as the
 * base images' IDs): the same inputs in any order give the same hash; a renamed file changes it.
 */
export function contentHash(files: readonly HashInput[], extra: readonly string[] = []): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content) : file.content;
    hash.update(`file ${file.path} ${content.length}\n`).update(content).update('\n');
  }
  for (const item of extra) hash.update(`extra ${item}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** The build-context sources of each COPY/ADD (not those copying `--from` another stage). */
export function copySources(text: string): string[] {
  const out: string[] = [];
  for (const line of instructions(text)) {
    const m = /^(?:COPY|ADD)\s+(.*)$/i.exec(line);
    if (!m) continue;
    let rest = m[1]!.trim();
    const flags: string[] = [];
    for (let flag = /^--(\S+)\s+/.exec(rest); flag; flag = /^--(\S+)\s+/.exec(rest)) {
      flags.push(flag[1]!);
      rest = rest.slice(flag[0].length);
    }
    if (flags.some((f) => f.startsWith('from='))) continue;
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
    out.push(...args.slice(0, -1).map((a) => a.replace(/^\.\//, '').replace(/\/$/, '')));
  }
  return out;
}

interface IgnoreRule {
  include: boolean;
  pattern: RegExp;
}

/** A .containerignore/.dockerignore's rules: `*`, `?` and `**` globs, `!` to let a path back in. */
export function ignoreRules(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const glob = (include ? line.slice(1) : line).trim().replace(/^\/+|\/+$/g, '');
      const source = glob.replace(/\*\*|\*|\?|[.+^${}()|[\]\\]/g, (c) => ({ '**': '.*', '*': '[^/]*', '?': '[^/]' })[c] ?? `\\${c}`);
      return { include, pattern: new RegExp(`^${source}$`) };
    });
}

/** Whether the build context leaves `path` out: the last rule matching it or a parent decides. */
export function ignored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) if (prefixes.some((p) => rule.pattern.test(p))) out = !rule.include;
  return out;
}
