// The image's `npm ci` steps run with no network, from the machine's npm cache mounted into the
// build. The cache must hold every package (and npm's metadata for it) that package-lock.json
// names: a dry `npm ci --offline` on the host checks that once per lock, and only when something
// is missing does `npm ci --prefer-offline` fetch it from the registry into the cache.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Log, seconds } from './buildah.ts';
import { run, runOk } from './run.ts';
import { PROJECT_ROOT } from './stack.ts';

const MARKERS = join(PROJECT_ROOT, '.cache', 'images', 'npm-cache-ready');

function lockHash(): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(PROJECT_ROOT, file)));
  return hash.digest('hex').slice(0, 16);
}

async function cacheDir(): Promise<string> {
  const dir = (await runOk('npm', ['config', 'get', 'cache'])).trim();
  if (!dir.startsWith('/')) throw new Error(`npm config get cache gave ${JSON.stringify(dir)}, not a path`);
  return dir;
}

const CI_FLAGS = ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];

/** Returns the npm cache directory, filled for this package-lock.json. */
export async function ensureNpmCache(log: Log): Promise<string> {
  const dir = await cacheDir();
  const marker = join(MARKERS, lockHash());
  if (existsSync(marker) && readFileSync(marker, 'utf8') === dir) return dir;
  const started = Date.now();
  log(`checking that the npm cache ${dir} holds every package of package-lock.json`);
  const work = mkdtempSync(join(tmpdir(), 'ecs-npm-cache-'));
  try {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(PROJECT_ROOT, file), join(work, file));
    const offline = await run('npm', [...CI_FLAGS, '--offline'], { cwd: work });
    if (offline.code !== 0) {
      if (!/ENOTCACHED/.test(offline.stderr)) throw new Error(`npm ci --offline failed:\n${offline.stderr.trim()}`);
      log('some are missing: fetching them from the npm registry into the cache (once per package-lock.json)');
      rmSync(join(work, 'node_modules'), { recursive: true, force: true });
      await runOk('npm', [...CI_FLAGS, '--prefer-offline'], { cwd: work });
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
