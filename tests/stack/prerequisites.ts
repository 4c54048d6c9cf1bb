// Installs what the stack needs where it is missing: Debian packages, moto, and the
// Kubernetes binaries and helm built from the Go module proxy (cached by version).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runOk } from './run.ts';

const here = dirname(fileURLToPath(import.meta.url));

async function has(command: string): Promise<boolean> {
  if (command.startsWith('/')) return existsSync(command);
  return (await run('sh', ['-c', `command -v ${command}`])).code === 0;
}

async function aptInstall(packages: string[], log: (line: string) => void): Promise<void> {
  log(`installing Debian packages: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runOk('apt-get', ['update', '-qq'], { env });
  await runOk('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

type Wanted = ReadonlyArray<readonly [string, string]>;

/** What building and running the operator's image takes (tests/stack/operator-image.ts). */
export const IMAGE_TOOLS: Wanted = [['buildah', 'buildah'], ['skopeo', 'skopeo'], ['runc', 'runc']];

async function missingPackages(wanted: Wanted): Promise<string[]> {
  const missing = new Set<string>();
  for (const [command, pkg] of wanted) if (!(await has(command))) missing.add(pkg);
  return [...missing];
}

/** Installs the Debian package of each [command or file, package] whose command is missing. */
export async function ensurePackages(wanted: Wanted, log: (line: string) => void): Promise<void> {
  const missing = await missingPackages(wanted);
  if (missing.length > 0) await aptInstall(missing, log);
}

/** Fails, saying what installs them, when any of these commands is missing; installs nothing. */
export async function requirePackages(wanted: Wanted, installedBy: string): Promise<void> {
  const missing = await missingPackages(wanted);
  if (missing.length > 0) throw new Error(`missing Debian packages ${missing.join(' ')}: ${installedBy}`);
}

export async function ensureTools(log: (line: string) => void, options: { node?: boolean } = {}): Promise<void> {
  const wanted: Array<readonly [string, string]> = [
    ['skopeo', 'skopeo'],
    ['docker-registry', 'docker-registry'],
    ['openssl', 'openssl'],
  ];
  if (options.node) {
    wanted.push(
      ['containerd', 'containerd'],
      ['runc', 'runc'],
      ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
      // The pod gateway (node/pod-gateway.ts).
      ['ip', 'iproute2'],
      ['iptables', 'iptables'],
      // The operator's image, which tests build, run and deploy on the node.
      ...IMAGE_TOOLS,
      ['cc', 'gcc'],
      // The static pause binary links against glibc's static archive.
      ['/usr/lib/x86_64-linux-gnu/libc.a', 'libc6-dev'],
    );
  }
  await ensurePackages(wanted, log);
  await ensurePrometheus(log);
  if (!(await has('moto_server'))) {
    log('installing moto[server] with pip');
    await runOk('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]']);
  }
  if (!(await has('go'))) throw new Error('Go is required to build the Kubernetes binaries; it was not found on PATH');
}

/**
 * promtool and prometheus (Debian's package, 2.42) for the alert tests. The service the package
 * installs is disabled and stopped: the tests start their own Prometheus on 127.0.0.1 only.
 */
export async function ensurePrometheus(log: (line: string) => void): Promise<void> {
  if (!((await has('/usr/bin/promtool')) && (await has('/usr/bin/prometheus')))) {
    // The package would start its service at once, listening on every interface: a policy-rc.d
    // that refuses every start keeps it down while it installs.
    const policy = '/usr/sbin/policy-rc.d';
    const ours = !existsSync(policy);
    if (ours) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await aptInstall(['prometheus'], log);
    } finally {
      if (ours) rmSync(policy, { force: true });
    }
  }
  // Every time, not only after installing: a machine may have the package from before.
  if (existsSync('/run/systemd/system')) await runOk('systemctl', ['disable', '--now', 'prometheus']);
  else if (existsSync('/etc/init.d/prometheus') && existsSync('/etc/rc2.d') && readdirSync('/etc/rc2.d').some((f) => /^S\d+prometheus$/.test(f))) {
    await runOk('update-rc.d', ['prometheus', 'disable']);
    await run('/etc/init.d/prometheus', ['stop']);
  }
}

/** Builds (or finds cached) etcd, kube-apiserver and kube-controller-manager; returns their directory. */
export function ensureBinaries(log: (line: string) => void): Promise<string> {
  return buildScript('build-binaries.sh', 'the Kubernetes binaries', log);
}

/** Builds (or finds cached) helm at HELM_VERSION; returns the binary's path. */
export function ensureHelm(log: (line: string) => void): Promise<string> {
  return buildScript('build-helm.sh', 'helm', log);
}

/** Runs a build script; its `[build]` lines are progress, its last stdout line is the result. */
function buildScript(script: string, what: string, log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(here, script)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of d.toString().split('\n')) if (line.startsWith('[build]')) log(line.slice(8));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim().split('\n').pop()!);
      else reject(new Error(`building ${what} failed (exit ${code}):\n${err.split('\n').slice(-30).join('\n')}`));
    });
  });
}
