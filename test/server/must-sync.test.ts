// etcd-io/raft's MustSync in the member: a Ready that only moves the commit index is handed to storage marked
// `commitOnly` (written without a sync); every Ready with entries, a snapshot, or a new term or vote is not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import type { HardState } from '../../src/raft/types.ts';
import type { PersistBatch } from '../../src/storage.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

class RecordingStorage extends MemoryStorage {
  readonly batches: PersistBatch[] = [];
  override save(batch: PersistBatch): Promise<void> {
    this.batches.push(batch);
    return super.save(batch);
  }
}

const storages = new Map<bigint, RecordingStorage>();
let c: MemoryCluster;

beforeAll(async () => {
  c = await startMemoryCluster({
    node: (id) => {
      const storage = new RecordingStorage();
      storages.set(id, storage);
      return { storage };
    },
  });
});
afterAll(async () => {
  await c?.close();
});

describe('MustSync', () => {
  it('marks commit-index-only batches, and only those', async () => {
    const enc = new TextEncoder();
    const leader = c.leader();
    if (!leader) throw new Error('no leader');
    for (let i = 0; i < 20; i++) await leader.put({ key: enc.encode(`k${i}`), value: enc.encode('v') });
    await waitFor('followers apply', () =>
      c.nodes.every((n) => n.nodeStatus().applied >= leader.nodeStatus().commit),
    );
    let commitOnly = 0;
    for (const storage of storages.values()) {
      let last: HardState = { term: 0, vote: 0n, commit: 0 };
      for (const b of storage.batches) {
        const hs = b.hardState;
        const only =
          b.entries.length === 0 && !b.snapshot && !!hs && hs.term === last.term && hs.vote === last.vote;
        expect(!!b.commitOnly).toBe(only);
        if (b.commitOnly) commitOnly++;
        if (hs) last = hs;
      }
    }
    // The leader learns commits from acknowledgements: those Readies carry nothing else.
    expect(commitOnly).toBeGreaterThan(0);
  });
});
