// The shell loop the operator replaces: per namespace, a registry password, then
// `kubectl create secret docker-registry --dry-run -o yaml | kubectl apply`.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { N, P1_HOST, REGION, SHELL_COUNT, SHELL_NAMESPACES, SHELL_TOKEN, STACK_DIR } from '../config.ts';
import { notMintedForWorkload, validP1Secret, workloadPassword } from '../pull-secret.ts';
import { fmtMs, log, round } from '../report.ts';
import type { Run } from '../run.ts';
import { pool, runLimited } from '../support.ts';
import type { Cluster } from './setup.ts';

export interface ShellLoop {
  /** Undefined when the loop could not be measured. */
  perNamespaceMs: number | undefined;
  /** How it got its tokens. */
  mode: string;
}

export async function shellLoop(run: Run, { env, core }: Cluster): Promise<ShellLoop> {
  let shellPerNsMs: number | undefined;
  let shellMode = '';
  await run.phase(`shell loop: kubectl create secret docker-registry | kubectl apply, ${SHELL_COUNT} namespaces`, async () => {
    try {
      // A HOME of its own: the aws CLI caches web-identity credentials in ~/.aws/cli/cache by
      // role and session name, and a cache from another stack's moto answers for the wrong account.
      const home = join(STACK_DIR, 'shell-home');
      mkdirSync(home, { recursive: true });
      const shellEnv = {
        ...process.env,
        HOME: home,
        PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'),
        PATH: `${env.STACK_BIN_DIR}:${process.env.PATH}`,
        KUBECONFIG: env.KUBECONFIG!,
        SERVER: P1_HOST,
        REGION,
      };
      // Can the aws CLI fetch a token here? One untimed call decides (and warms the disk cache).
      let probeMs: number | undefined;
      let useCli = false;
      if (SHELL_TOKEN !== 'sdk') {
        const t = performance.now();
        const probe = await runLimited('bash', ['-c', 'command -v aws >/dev/null && aws ecr get-login-password --region "$REGION"'], shellEnv, 60_000).catch(() => undefined);
        probeMs = performance.now() - t;
        useCli = probe?.code === 0 && (await notMintedForWorkload([probe.stdout.trim()])) === undefined;
        if (!useCli) {
          const why = probe?.code === 0 ? `it printed a password for another account (${probe.stdout.trim().slice(0, 40)})` : `exit ${probe?.code}: ${probe?.stderr.trim().slice(0, 300)}`;
          if (SHELL_TOKEN === 'aws') throw new Error(`aws ecr get-login-password did not work: ${why}`);
          run.results.notes.push(`shell loop: aws ecr get-login-password was not usable (${why}); used the SDK instead`);
        }
      }
      shellMode = useCli
        ? 'aws CLI: PW=$(aws ecr get-login-password) in every iteration'
        : 'no usable aws CLI: one GetAuthorizationToken (@aws-sdk/client-ecr, new client) per iteration, then the kubectl pipeline';
      const pipeline = 'kubectl create secret docker-registry regcred --namespace "$ns" --docker-server="$SERVER" --docker-username=AWS --docker-password="$PW" --dry-run=client -o yaml | kubectl apply --namespace "$ns" -f - >/dev/null';
      const started = performance.now();
      if (useCli) {
        const script = `set -euo pipefail\nfor ns in "$@"; do\n  PW="$(aws ecr get-login-password --region "$REGION")"\n  ${pipeline}\ndone\n`;
        const res = await runLimited('bash', ['-c', script, 'shell-loop', ...SHELL_NAMESPACES], shellEnv, SHELL_COUNT * 60_000);
        if (res.code !== 0) throw new Error(`shell loop exited ${res.code}${res.timedOut ? ' (timed out)' : ''}: ${res.stderr.trim().slice(0, 500)}`);
      } else {
        for (const ns of SHELL_NAMESPACES) {
          const pw = await workloadPassword();
          const res = await runLimited('bash', ['-c', `set -euo pipefail\n${pipeline}`], { ...shellEnv, ns, PW: pw }, 60_000);
          if (res.code !== 0) throw new Error(`kubectl pipeline for ${ns} exited ${res.code}: ${res.stderr.trim().slice(0, 500)}`);
        }
      }
      const totalMs = performance.now() - started;
      const present = await pool(SHELL_NAMESPACES, 8, async (ns) => {
        try {
          return validP1Secret(await core.readNamespacedSecret({ namespace: ns, name: 'regcred' })) === undefined;
        } catch {
          return false;
        }
      });
      shellPerNsMs = totalMs / SHELL_COUNT;
      run.results.figures.shellLoop = {
        mode: shellMode,
        namespaces: SHELL_COUNT,
        ms: round(totalMs),
        perNamespaceMs: round(shellPerNsMs),
        extrapolatedToNMs: round(shellPerNsMs * N),
        validSecrets: present.filter(Boolean).length,
        ...(probeMs !== undefined ? { awsCliProbeMs: round(probeMs) } : {}),
      };
      log(`   shell loop: ${fmtMs(totalMs)} for ${SHELL_COUNT} (${fmtMs(shellPerNsMs)} per namespace; ${shellMode})`);
    } catch (error) {
      run.results.errors.push(`shell loop: ${(error as Error).message}`);
    }
  });
  return { perNamespaceMs: shellPerNsMs, mode: shellMode };
}
