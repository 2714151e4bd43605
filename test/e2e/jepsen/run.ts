// A Jepsen-style round against a real 3-member edgecd cluster: clients run a mixed workload while the nemesis
// injects faults and heals; then everything is healed, and the history is checked for linearizability (the
// simulator's Porcupine-style checker, per key), the members for convergence (same revision and HashKV), and
// every acknowledged write that nothing could have overwritten for being readable on every member.

import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../../adapters/runtime/node/grpc/proto.ts';
import {
  checkOperations,
  etcdKvModel,
  isIndeterminate,
  type KvOperation,
} from '../../../src/sim/linearizability/index.ts';
import { Rng } from '../../../src/sim/rng.ts';
import { freePort, TestCluster } from '../cluster-harness.ts';
import { ALL_NEMESES, Nemesis, type NemesisKind } from './nemesis.ts';
import { PeerProxy } from './proxy.ts';
import { checkReplays, replay } from './replay.ts';
import { checkRevisionOrder } from './revisions.ts';
import { newEtcdClient, Workload } from './workload.ts';

export interface JepsenCluster {
  readonly cluster: TestCluster;
  readonly proxies: Map<string, PeerProxy>;
  /** Member name → member ID (decimal). */
  readonly ids: Map<string, string>;
  close(): Promise<void>;
}

export async function startJepsenCluster(): Promise<JepsenCluster> {
  const proxyPorts = new Map<string, number>();
  const cluster = await TestCluster.prepare({
    // Small snapshot interval: restarted and partitioned members also catch up through snapshots.
    snapshotCount: 200,
    extraFlags: ['--experimental-snapshot-catchup-entries', '50'],
    advertisePeerPort: (m) => proxyPorts.get(m.name),
  });
  const proxies = new Map<string, PeerProxy>();
  for (const m of cluster.members) {
    const p = new PeerProxy(m.name, m.peerPort);
    await p.listen(await freePort());
    proxies.set(m.name, p);
    proxyPorts.set(m.name, p.port);
  }
  const close = async () => {
    await cluster.close();
    for (const p of proxies.values()) await p.close();
  };
  try {
    await cluster.startAll();
    const ids = new Map<string, string>();
    for (const m of cluster.members) ids.set(m.name, (await cluster.status(m.name)).header.member_id);
    return { cluster, proxies, ids, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface RoundOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly nemeses: readonly NemesisKind[];
  readonly clients?: number;
  readonly keys?: number;
  /** Quiet time between faults and fault duration, in ms (each drawn uniformly from [lo, hi]). */
  readonly quietMs?: readonly [number, number];
  readonly faultMs?: readonly [number, number];
  /** Chance that another fault is added before healing (faults overlap). Default 0.25. */
  readonly overlap?: number;
}

export interface RoundResult {
  readonly history: KvOperation[];
  readonly nemesisLog: string[];
  readonly stats: Workload['stats'];
  readonly linearizable: { result: string; steps: number; explanation?: string };
  readonly convergence: { revision: number; hash: string } | { error: string };
  readonly lostWrites: string[];
  /** Disagreements between the members' watch replays of the round's keys and the history (see replay.ts). */
  readonly replay: string[];
  /** Violations of revision order across keys (see revisions.ts). */
  readonly revisionOrder: string[];
  /** Nemesis-time checks that failed (e.g. a cut-off member still leading). */
  readonly faultViolations: string[];
  readonly summary: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRound(j: JepsenCluster, opts: RoundOptions): Promise<RoundResult> {
  const rng = new Rng(opts.seed);
  const random = () => rng.next();
  const keys = Array.from({ length: opts.keys ?? 4 }, (_, i) => `jepsen/s${opts.seed}/k${i}`);
  const endpoints = j.cluster.members.map((m) => j.cluster.endpoint(m.name));
  const workload = new Workload(
    { endpoints, clients: opts.clients ?? 6, keys, timeoutMs: [500, 3000], random },
    `s${opts.seed}`,
  );
  const nemesis = new Nemesis(j.cluster, j.proxies, j.ids, random);
  const draw = ([lo, hi]: readonly [number, number]) => lo + random() * (hi - lo);
  const quiet = opts.quietMs ?? [800, 2000];
  const fault = opts.faultMs ?? [1500, 4000];
  const kinds = opts.nemeses.length > 0 ? opts.nemeses : ALL_NEMESES;

  workload.start();
  const end = performance.now() + opts.seconds * 1000;
  try {
    while (performance.now() < end) {
      await sleep(draw(quiet));
      if (performance.now() >= end) break;
      await nemesis.inject(kinds[Math.floor(random() * kinds.length)]);
      await sleep(draw(fault));
      if (random() < (opts.overlap ?? 0.25)) {
        await nemesis.inject(kinds[Math.floor(random() * kinds.length)]);
        await sleep(draw(fault));
      }
      await nemesis.heal();
    }
  } finally {
    await nemesis.heal();
  }
  // Everything is healed: let the cluster settle under load, then stop the clients.
  await j.cluster.waitHealthy(undefined, 30_000).catch(() => undefined);
  await sleep(1500);
  await workload.stop();

  // Final reads: one linearizable get per key from every member (they join the checked history).
  const finals = new Map<string, (string | null)[]>();
  for (const [i, m] of j.cluster.members.entries()) {
    const client = newEtcdClient(j.cluster.endpoint(m.name), 5000);
    try {
      for (const key of keys) {
        for (let attempt = 0; attempt < 20; attempt++) {
          const op = await workload.run(client, 1000 + i, { op: 'get', key });
          if (op && !isIndeterminate(op.output) && 'value' in op.output) {
            const seen = finals.get(key) ?? [];
            seen.push(op.output.value);
            finals.set(key, seen);
            break;
          }
          await sleep(250);
        }
      }
    } finally {
      client.close();
    }
  }
  workload.close();

  const report = checkOperations(etcdKvModel, workload.history);
  const convergence = await waitConverged(j.cluster);
  let replayProblems: string[] = [];
  if ('revision' in convergence) {
    try {
      const prefix = `jepsen/s${opts.seed}/`;
      const replays = await Promise.all(
        j.cluster.members.map((m) => replay(j.cluster.endpoint(m.name), prefix, convergence.revision)),
      );
      replayProblems = checkReplays(workload.history, replays);
    } catch (e) {
      replayProblems = [String(e)];
    }
  }
  const lostWrites = findLostWrites(workload.history, keys, finals, j.cluster.members.length);
  const s = workload.stats;
  const summary =
    `seed ${opts.seed}: ${workload.history.length} ops (${s.ok} ok, ${s.indeterminate} indeterminate, ` +
    `${s.failed} failed; ${JSON.stringify(s.byOp)}), ${nemesis.log.length} nemesis events, ` +
    `linearizability ${report.result} in ${report.steps} steps, convergence ${JSON.stringify(convergence)}\n` +
    `  errors: ${[...s.errors]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([m, n]) => `${n}× ${m}`)
      .join(' | ')}`;
  return {
    history: workload.history,
    nemesisLog: nemesis.log,
    stats: s,
    linearizable: { result: report.result, steps: report.steps, explanation: report.explanation },
    convergence,
    lostWrites,
    replay: replayProblems,
    revisionOrder: checkRevisionOrder(workload.history),
    faultViolations: nemesis.violations,
    summary,
  };
}

/**
 * For each key: if the write invoked last (put, delete, or CAS that succeeded or may have) was acknowledged and
 * overlapped no other write, nothing can have overwritten it, so every member must finally read its value (null
 * after a delete). Returns a description per violation.
 */
export function findLostWrites(
  history: readonly KvOperation[],
  keys: readonly string[],
  finals: ReadonlyMap<string, readonly (string | null)[]>,
  members: number,
): string[] {
  const problems: string[] = [];
  for (const key of keys) {
    const writes = history.filter(
      (o) =>
        o.input.key === key &&
        (o.input.op === 'put' ||
          o.input.op === 'delete' ||
          (o.input.op === 'cas' &&
            (isIndeterminate(o.output) || (o.output as { succeeded: boolean }).succeeded))),
    );
    const acked = writes.filter((o) => !isIndeterminate(o.output));
    // The write invoked last; if it was acknowledged and overlapped no other write (an indeterminate one overlaps
    // everything after its invocation), it is surely the final value.
    const byCall = [...writes].sort((a, b) => a.call - b.call);
    const last = byCall[byCall.length - 1];
    if (!last || isIndeterminate(last.output)) continue;
    const concurrent = writes.filter((o) => o !== last && o.return >= last.call);
    if (concurrent.length > 0) continue;
    const value =
      last.input.op === 'put' ? last.input.value : last.input.op === 'cas' ? last.input.newValue : null;
    const seen = finals.get(key) ?? [];
    if (seen.length !== members || seen.some((v) => v !== value)) {
      problems.push(
        `${key}: last acknowledged write ${JSON.stringify(value)} (of ${acked.length}), final reads ${JSON.stringify(seen)}`,
      );
    }
  }
  return problems;
}

/** HashKV over raw gRPC (the etcd3 client has no HashKV): the member's revision and hash. */
export function hashKV(endpoint: string, timeoutMs = 3000): Promise<{ revision: string; hash: string }> {
  const Maintenance = grpc.makeGenericClientConstructor(
    loadServices()['etcdserverpb.Maintenance'],
    'Maintenance',
  );
  const client = new Maintenance(endpoint, grpc.credentials.createInsecure());
  type Reply = { header?: { revision?: string }; hash?: number };
  type Unary = (
    req: object,
    opts: grpc.CallOptions,
    cb: (e: grpc.ServiceError | null, r?: Reply) => void,
  ) => void;
  const method = (client as unknown as Record<string, Unary>).HashKV;
  return new Promise((resolve, reject) => {
    method.call(client, { revision: '0' }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve({ revision: res?.header?.revision ?? '0', hash: String(res?.hash ?? 0) });
    });
  });
}

/** Polls every member's HashKV until all report the same revision and hash (bounded). */
export async function waitConverged(
  cluster: TestCluster,
  timeoutMs = 30_000,
): Promise<{ revision: number; hash: string } | { error: string }> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    try {
      const rs = await Promise.all(cluster.members.map((m) => hashKV(cluster.endpoint(m.name))));
      const revs = rs.map((r) => r.revision);
      const hashes = rs.map((r) => r.hash);
      last = `revisions ${revs.join(',')} hashes ${hashes.join(',')}`;
      if (new Set(revs).size === 1 && new Set(hashes).size === 1) {
        return { revision: Number(revs[0]), hash: hashes[0] };
      }
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(300);
  }
  return { error: `not converged in ${timeoutMs} ms: ${last}` };
}
