// After a round: the whole history of the round's keys, replayed by a watch from revision 1 on every member, must
//   - be the same on every member (event by event: type, key, value, mod revision);
//   - contain every acknowledged put at the revision its response reported, with its value;
//   - hold each (unique) written value at most once (a proposal applied twice would show it twice), and only
//     values some client wrote.

import { isIndeterminate, type KvOperation } from '../../../src/sim/linearizability/index.ts';
import { newEtcdClient } from './workload.ts';

export interface ReplayEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

/** Every event under `prefix` from revision 1 up to `untilRevision`, as one member's watch delivers them. */
export async function replay(
  endpoint: string,
  prefix: string,
  untilRevision: number,
  timeoutMs = 15_000,
): Promise<ReplayEvent[]> {
  const client = newEtcdClient(endpoint, 5000);
  const events: ReplayEvent[] = [];
  try {
    const watcher = await client.watch().prefix(prefix).startRevision('1').create();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`replay from ${endpoint} incomplete after ${timeoutMs} ms`)),
        timeoutMs,
      );
      watcher.on('data', (res) => {
        for (const e of res.events) {
          events.push({
            type: String(e.type).toLowerCase() === 'delete' ? 'delete' : 'put',
            key: e.kv.key.toString(),
            value: e.kv.value?.toString() ?? '',
            revision: Number(e.kv.mod_revision),
          });
        }
        if (Number(res.header.revision) >= untilRevision) {
          clearTimeout(timer);
          resolve();
        }
      });
      watcher.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    await watcher.cancel();
  } finally {
    client.close();
  }
  return events;
}

export function checkReplays(history: readonly KvOperation[], replays: readonly ReplayEvent[][]): string[] {
  const problems: string[] = [];
  const [first, ...rest] = replays;
  if (!first) return ['no replay'];
  const fmt = (e: ReplayEvent | undefined) =>
    e ? `${e.type} ${e.key}=${JSON.stringify(e.value)}@${e.revision}` : 'none';
  rest.forEach((other, i) => {
    const n = Math.max(first.length, other.length);
    for (let k = 0; k < n; k++) {
      const a = first[k];
      const b = other[k];
      if (
        !a ||
        !b ||
        a.type !== b.type ||
        a.key !== b.key ||
        a.value !== b.value ||
        a.revision !== b.revision
      ) {
        problems.push(`member replays differ at event ${k}: ${fmt(a)} vs ${fmt(b)} (replay ${i + 2})`);
        break;
      }
    }
  });
  const byRevision = new Map(first.map((e) => [e.revision, e] as const));
  for (let k = 1; k < first.length; k++) {
    if (first[k].revision <= first[k - 1].revision)
      problems.push(`replay goes back: ${fmt(first[k - 1])} then ${fmt(first[k])}`);
  }
  const written = new Set<string>();
  for (const op of history) {
    if (op.input.op === 'put') written.add(op.input.value);
    if (op.input.op === 'cas') written.add(op.input.newValue);
  }
  const seen = new Map<string, ReplayEvent>();
  for (const e of first) {
    if (e.type !== 'put') continue;
    const before = seen.get(e.value);
    if (before) problems.push(`value written twice: ${fmt(before)} and ${fmt(e)}`);
    seen.set(e.value, e);
    if (!written.has(e.value)) problems.push(`value nobody wrote: ${fmt(e)}`);
  }
  for (const op of history) {
    if (op.input.op !== 'put' || isIndeterminate(op.output)) continue;
    const rev = (op.output as { revision?: number }).revision;
    if (rev === undefined) continue;
    const e = byRevision.get(rev);
    if (e?.type !== 'put' || e.key !== op.input.key || e.value !== op.input.value) {
      problems.push(
        `acknowledged put ${op.input.key}=${JSON.stringify(op.input.value)}@${rev} replays as ${fmt(e)}`,
      );
    }
  }
  return problems.slice(0, 20);
}
