// The image's `npm ci` steps run with no network, from the machine's npm cache mounted into the
// build. The cache must hold every package (and npm's metadata for it) that package-lock.json
// names: a dry `npm ci --offline` on the host checks that once per lock. Only `npm run image` may
// then fetch what is missing (`npm ci --prefer-offline`, once); a test never reaches the registry
// and fails instead, telling what to run. `npm test` runs `npm ci` before the tests (scripts/
// setup.mjs), which leaves every package of the lock in the cache.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Log, seconds } from './buildah.ts';
import { run, runOk } from './run.ts';
import { PROJECT_ROOT } from './stack.ts';

const MARKERS = join(PROJECT_ROOT, '.cache', 'images', 'npm-cache-ready');

/** What every host npm call runs with: no update check, audit or funding requests to the registry. */
export function npmEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
}

export interface NpmCacheOptions {
  /** Fetch what the cache lacks from the npm registry (`npm run image`); otherwise fail. */
  mayFetch: boolean;
  /** The environment npm runs in (a test points npm_config_cache elsewhere). */
  env?: NodeJS.ProcessEnv;
}

function lockHash(): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(PROJECT_ROOT, file)));
  return hash.digest('hex').slice(0, 16);
}

async function cacheDir(env: NodeJS.ProcessEnv): Promise<string> {
  const dir = (await runOk('npm', ['config', 'get', 'cache'], { env })).trim();
  if (!dir.startsWith('/')) throw new Error(`npm config get cache gave ${JSON.stringify(dir)}, not a path`);
  return dir;
}

const CI_FLAGS = ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];

/** The error when the cache lacks packages and fetching them is not allowed here. */
export function cacheLacks(npmError: string, dir?: string): Error {
  const first = npmError.split('\n').find((line) => /ENOTCACHED|request to/.test(line))?.trim() ?? npmError.trim().split('\n')[0];
  const cache = dir ? `the npm cache ${dir}` : 'the npm cache';
  return new Error(`run \`npm run image\` (or \`npm ci\`) first: ${cache} lacks packages that package-lock.json names, and tests do not fetch them (${first})`);
}

/** Returns the npm cache directory, checked to hold every package of this package-lock.json. */
export async function ensureNpmCache(log: Log, options: NpmCacheOptions): Promise<string> {
  const env = npmEnv(options.env);
  const dir = await cacheDir(env);
  const marker = join(MARKERS, lockHash());
  if (existsSync(marker) && readFileSync(marker, 'utf8') === dir) return dir;
  const started = Date.now();
  log(`checking that the npm cache ${dir} holds every package of package-lock.json`);
  const work = mkdtempSync(join(tmpdir(), 'ecs-npm-cache-'));
  try {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(PROJECT_ROOT, file), join(work, file));
    const offline = await run('npm', [...CI_FLAGS, '--offline'], { cwd: work, env });
    if (offline.code !== 0) {
      if (!/ENOTCACHED/.test(offline.stderr)) throw new Error(`npm ci --offline failed:\n${offline.stderr.trim()}`);
      if (!options.mayFetch) throw cacheLacks(offline.stderr, dir);
      log('some are missing: fetching them from the npm registry into the cache (once per package-lock.json)');
      rmSync(join(work, 'node_modules'), { recursive: true, force: true });
      await runOk('npm', [...CI_FLAGS, '--prefer-offline'], { cwd: work, env });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync(MARKERS, { recursive: true });
  writeFileSync(marker, dir);
  log(`npm cache ready (${seconds(started)})`);
  return dir;
}

/** After a build found the cache lacking (someone cleaned it): check it again next time. */
export function forgetNpmCache(): void {
  rmSync(join(MARKERS, lockHash()), { force: true });
}
