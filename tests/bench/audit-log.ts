// The stack's audit log (STACK_AUDIT_LOG, writes only, with their author), when it has one.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

const AUDIT_WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Where the audit log ends now; undefined when there is none. */
export function auditMark(file: string | undefined): number | undefined {
  if (!file) return undefined;
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** Writes logged since `mark`, counted by "user verb resource"; undefined if the log is gone or rotated. */
export function auditWritesSince(file: string | undefined, mark: number | undefined): Record<string, number> | undefined {
  if (!file || mark === undefined) return undefined;
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return undefined;
  }
  if (size < mark) return undefined;
  const buffer = Buffer.alloc(size - mark);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, mark);
  } finally {
    closeSync(fd);
  }
  const counts: Record<string, number> = {};
  for (const line of buffer.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const event = JSON.parse(line) as { stage?: string; verb?: string; user?: { username?: string }; objectRef?: { resource?: string; subresource?: string } };
      if (event.stage !== 'ResponseComplete' || !AUDIT_WRITE_VERBS.has(event.verb ?? '')) continue;
      const resource = `${event.objectRef?.resource ?? ''}${event.objectRef?.subresource ? `/${event.objectRef.subresource}` : ''}`;
      const key = `${event.user?.username ?? '?'} ${event.verb} ${resource}`;
      counts[key] = (counts[key] ?? 0) + 1;
    } catch {
      /* a partial last line */
    }
  }
  return counts;
}

/** Writes by `user` in a breakdown from auditWritesSince; undefined when there is no breakdown. */
export const auditWritesBy = (counts: Record<string, number> | undefined, user: string) =>
  counts === undefined ? undefined : Object.entries(counts).filter(([k]) => k.startsWith(`${user} `)).reduce((sum, [, v]) => sum + v, 0);
