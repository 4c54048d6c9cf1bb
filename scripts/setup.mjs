// Runs before every npm script that needs dependencies. Plain JavaScript, so the machine's
// own (older) Node can run it: it installs node_modules, which brings Node 24 for the rest.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');

function stale() {
  // A git worktree that borrows another checkout's node_modules through a symlink must not
  // reinstall: `npm ci` would empty the shared directory under every other checkout.
  if (lstatSync(join(root, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink()) return false;
  if (!existsSync(marker)) return true;
  if (!existsSync(join(root, 'node_modules', '.bin', 'node'))) return true;
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs;
}

if (stale()) {
  process.stderr.write('[setup] installing npm dependencies\n');
  // No update check of npm itself; this `npm ci` also leaves every package of the lock in the npm
  // cache, which the image build and its tests read offline (tests/stack/npm-cache.ts).
  const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
  const npm = (args) => execFileSync('npm', [...args, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env });
  try {
    npm(existsSync(lock) ? ['ci'] : ['install']);
  } catch {
    // A registry mirror that lacks some platform's optional packages can leave a lock that
    // `npm ci` calls out of sync; `npm install` still honours every version the lock pins.
    process.stderr.write('[setup] npm ci failed; falling back to npm install\n');
    npm(['install']);
  }
}

if (process.argv.includes('--build')) {
  const main = join(root, 'dist', 'operator', 'main.js');
  const sources = readdirSync(join(root, 'operator'), { recursive: true }).map((f) => join(root, 'operator', f));
  const newest = Math.max(0, ...sources.map((file) => statSync(file).mtimeMs));
  if (!existsSync(main) || newest > statSync(main).mtimeMs) {
    process.stderr.write('[setup] building the operator\n');
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  }
}
