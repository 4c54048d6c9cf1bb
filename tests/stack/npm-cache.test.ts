// The npm cache check as tests run it: strictly offline. Runs the machine's npm against an empty
// cache of its own, with proxies pointing at a dead local port should npm try the network anyway.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheLacks, ensureNpmCache, npmEnv } from './npm-cache.ts';

describe('the npm cache for the image build', () => {
  it('turns off the update check, audit and funding requests of every npm call', () => {
    expect(npmEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' });
  });

  it('fails in a test with what to run when the cache lacks packages, fetching nothing', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'empty-npm-cache-'));
    const dead = 'http://127.0.0.1:9';
    const env = { ...process.env, npm_config_cache: cache, HTTP_PROXY: dead, HTTPS_PROXY: dead, http_proxy: dead, https_proxy: dead, npm_config_proxy: dead, npm_config_https_proxy: dead, NO_PROXY: '127.0.0.1,localhost' };
    try {
      const checked = ensureNpmCache(() => {}, { mayFetch: false, env });
      await expect(checked).rejects.toThrow(`run \`npm run image\` (or \`npm ci\`) first: the npm cache ${cache} lacks packages`);
      await expect(checked).rejects.toThrow(/ENOTCACHED/);
      // Nothing was fetched into it.
      expect(readdirSync(cache).filter((f) => f !== '_logs')).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 60_000);

  it('names the first line npm gave about the missing package', () => {
    const error = cacheLacks('npm error code ENOTCACHED\nnpm error request to https://registry.npmjs.org/x failed: cache mode is only-if-cached\n');
    expect(error.message).toBe('run `npm run image` (or `npm ci`) first: the npm cache lacks packages that package-lock.json names, and tests do not fetch them (npm error code ENOTCACHED)');
  });
});
