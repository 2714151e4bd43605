// A snapshot written over several tasks (src/server/snapshotter.ts): with 16 keyspace records per task, the
// leader's snapshots of a few hundred keys span many turns of its event loop while clients keep writing. Proved
// from outside: the member applied further entries while a snapshot was being written (its saved snapshot's index
// is below what it had applied when it saved it), and a follower cut off meanwhile catches up from those
// snapshots (MsgSnap, its log behind was compacted) and ends with the leader's exact keyspace (HashKV).

import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

/** Memory storage that notes each saved snapshot's index beside what its member had applied by then. */
class NotingStorage extends MemoryStorage {
  readonly saved: { index: number; applied: number }[] = [];
  node?: EdgeNode;
  override async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.saved.push({ index: snapshot.metadata.index, applied: this.node?.nodeStatus().applied ?? 0 });
    return super.saveSnapshot(snapshot);
  }
}

describe('snapshots written a few records per task', () => {
  it('let the member go on applying, and a follower catches up from them with the same keyspace', async () => {
    const storages = new Map<bigint, NotingStorage>();
    const cluster = await startMemoryCluster({
      node: (id) => {
        const storage = new NotingStorage();
        storages.set(id, storage);
        return {
          storage,
          snapshotCount: 150,
          snapshotStepRecords: 16,
          raft: { snapshotCatchUpEntries: 10 },
          requestTimeoutMs: 10_000,
        };
      },
    });
    try {
      for (const node of cluster.nodes) storages.get(node.nodeStatus().id)!.node = node;
      const leader = cluster.leader()!;
      const follower = cluster.nodes.find((n) => n !== leader)!;
      const followerId = follower.nodeStatus().id;
      cluster.faults.isolate(followerId);

      const enc = new TextEncoder();
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < 900; i = next++) {
            await leader.put({ key: enc.encode(`key/${i % 300}`), value: enc.encode(`value ${i}`) });
          }
        }),
      );

      const saved = storages.get(leader.nodeStatus().id)!.saved;
      expect(saved.length).toBeGreaterThan(0);
      expect(saved.some((s) => s.applied > s.index)).toBe(true);

      cluster.faults.heal();
      const target = leader.nodeStatus().applied;
      await waitFor('the follower catching up', () => follower.nodeStatus().applied >= target, 20_000);
      expect(storages.get(followerId)!.backend.snapshot?.metadata.index ?? 0).toBeGreaterThan(0);
      const revision = (await leader.status()).header.revision;
      const hashes = await Promise.all(cluster.nodes.map((n) => n.hashKV({ revision })));
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    } finally {
      await cluster.close();
    }
  }, 60_000);

  it('a large keyspace is not rewritten every --snapshot-count entries; a follower behind the log gets one when it needs it', async () => {
    const storages = new Map<bigint, NotingStorage>();
    const cluster = await startMemoryCluster({
      node: (id) => {
        const storage = new NotingStorage();
        storages.set(id, storage);
        return { storage, snapshotCount: 50, raft: { snapshotCatchUpEntries: 10 }, requestTimeoutMs: 10_000 };
      },
    });
    try {
      for (const node of cluster.nodes) storages.get(node.nodeStatus().id)!.node = node;
      const leader = cluster.leader()!;
      const follower = cluster.nodes.find((n) => n !== leader)!;
      const followerId = follower.nodeStatus().id;
      const enc = new TextEncoder();
      const big = new Uint8Array(2048).fill(7);
      for (let i = 0; i < 200; i++) await leader.put({ key: enc.encode(`big/${i}`), value: big });
      const saved = storages.get(leader.nodeStatus().id)!.saved;
      const before = saved.length;
      expect(before).toBeGreaterThan(0);

      // 200 small puts (4 × --snapshot-count) add far less than a quarter of the 400 KB keyspace: no snapshot is
      // written, while the leader's log in memory is compacted behind them all the same.
      cluster.faults.isolate(followerId);
      const isolatedAt = leader.nodeStatus().applied;
      for (let i = 0; i < 200; i++)
        await leader.put({ key: enc.encode('small'), value: enc.encode(`v${i}`) });
      expect(saved.length).toBe(before);

      cluster.faults.heal();
      const target = leader.nodeStatus().applied;
      await waitFor('the follower catching up', () => follower.nodeStatus().applied >= target, 20_000);
      // It needed entries the leader no longer had: the leader took one snapshot for it, which it restored.
      expect(saved.length).toBe(before + 1);
      expect(storages.get(followerId)!.backend.snapshot?.metadata.index ?? 0).toBeGreaterThan(isolatedAt);
      const revision = (await leader.status()).header.revision;
      const hashes = await Promise.all(cluster.nodes.map((n) => n.hashKV({ revision })));
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    } finally {
      await cluster.close();
    }
  }, 60_000);

  it('an idle leader whose last snapshot is at its applied index sends that state to a follower behind its log', async () => {
    const cluster = await startMemoryCluster({
      node: () => ({ snapshotCount: 50, raft: { snapshotCatchUpEntries: 10 }, requestTimeoutMs: 10_000 }),
    });
    try {
      const leader = cluster.leader()!;
      const follower = cluster.nodes.find((n) => n !== leader)!;
      cluster.faults.isolate(follower.nodeStatus().id);
      const enc = new TextEncoder();
      for (let i = 0; i < 120; i++)
        await leader.put({ key: enc.encode(`k${i % 7}`), value: enc.encode(`v${i}`) });
      // Defragment stores a snapshot at the applied index (not kept in memory); nothing is written after it.
      await leader.defragment();
      cluster.faults.heal();
      const target = leader.nodeStatus().applied;
      await waitFor('the follower catching up', () => follower.nodeStatus().applied >= target, 20_000);
      const revision = (await leader.status()).header.revision;
      const hashes = await Promise.all(cluster.nodes.map((n) => n.hashKV({ revision })));
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    } finally {
      await cluster.close();
    }
  }, 60_000);
});
