// Starting, finding and stopping the stack's background processes by recorded pid.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export function pidFile(dir: string, name: string): string {
  return join(dir, 'run', `${name}.pid`);
}

export function logFile(dir: string, name: string): string {
  return join(dir, 'logs', `${name}.log`);
}

export function readPid(dir: string, name: string): number | undefined {
  const file = pidFile(dir, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); /proc tells the truth.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Starts a detached process whose output goes to its log file and records its pid. */
export function startProcess(
  dir: string,
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  const out = openSync(logFile(dir, name), 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env, cwd: dir });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    child.unref();
    writeFileSync(pidFile(dir, name), `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Removes the pid file. */
export async function stopProcess(dir: string, name: string, graceMs = 10_000): Promise<boolean> {
  const pid = readPid(dir, name);
  rmSync(pidFile(dir, name), { force: true });
  if (!isAlive(pid)) return false;
  signalGroup(pid!, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) signalGroup(pid!, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  // Detached children lead their own process group; signal the group so helpers die too.
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, stillAlive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (stillAlive && !stillAlive()) throw new Error(`${what}: the process exited`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${Math.round(timeoutMs / 1000)}s`);
    await sleep(250);
  }
}
