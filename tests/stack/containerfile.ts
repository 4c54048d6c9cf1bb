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
