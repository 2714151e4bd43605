// A whole-history check the per-key linearizability checker cannot make (src/sim/linearizability/kv-model.ts
// ignores revisions): etcd's revision is one global clock. So, across all keys:
//   - acknowledged writes have distinct revisions;
//   - real-time order is revision order: if A completed before B was invoked, rev(A) <= rev(B), and < when B is a
//     write (it creates a revision after everything A saw). Reads report the store revision they read at.

import { isIndeterminate, type KvOperation } from '../../../src/sim/linearizability/index.ts';

function revisionOf(op: KvOperation): number | undefined {
  if (isIndeterminate(op.output) || (op.input.op !== 'get' && op.input.op !== 'put')) return undefined;
  const r = (op.output as { revision?: number }).revision;
  return typeof r === 'number' && r > 0 ? r : undefined;
}

/** Returns a description of each violation (at most `limit`). */
export function checkRevisionOrder(history: readonly KvOperation[], limit = 10): string[] {
  const ops = history
    .map((op) => ({ op, rev: revisionOf(op) }))
    .filter((x): x is { op: KvOperation; rev: number } => x.rev !== undefined);
  const problems: string[] = [];
  const writers = new Map<number, KvOperation>();
  for (const { op, rev } of ops) {
    if (op.input.op !== 'put') continue;
    const other = writers.get(rev);
    if (other) problems.push(`two writes at revision ${rev}: ${describe(other)} and ${describe(op)}`);
    writers.set(rev, op);
  }
  // Sweep in invocation order, folding in every operation that completed before it.
  const byReturn = [...ops].sort((a, b) => a.op.return - b.op.return);
  const byCall = [...ops].sort((a, b) => a.op.call - b.op.call);
  let i = 0;
  let max: { op: KvOperation; rev: number } | undefined;
  for (const b of byCall) {
    while (i < byReturn.length && byReturn[i].op.return < b.op.call) {
      if (!max || byReturn[i].rev > max.rev) max = byReturn[i];
      i++;
    }
    if (!max) continue;
    const ok = b.op.input.op === 'put' ? b.rev > max.rev : b.rev >= max.rev;
    if (!ok && problems.length < limit) {
      problems.push(
        `${describe(b.op)} at revision ${b.rev} began after ${describe(max.op)} at revision ${max.rev} ended`,
      );
    }
  }
  return problems.slice(0, limit);
}

function describe(op: KvOperation): string {
  const v = op.input.op === 'put' ? `, ${JSON.stringify(op.input.value)}` : '';
  return `client ${op.clientId} ${op.input.op}(${JSON.stringify(op.input.key)}${v}) [${op.call.toFixed(1)}, ${op.return.toFixed(1)}]`;
}
