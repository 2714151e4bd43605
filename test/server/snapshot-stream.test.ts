// A member whose storage can take a snapshot piece by piece (LogStorage.saveSnapshotStream, as the file WAL does)
// hands it its local snapshots that way, never as one buffer: the pieces are taken over many turns of the event
// loop while clients keep writing, and the cluster restarted from what was stored (snapshots and the entries
// after them, the log behind compacted) has every key's last value, at the same revision on every member.

import { describe, expect, it } from 'vitest';
import { MemoryStorage, MemoryStorageBackend } from '../../adapters/storage/memory/index.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import type { SnapshotSource } from '../../src/storage.ts';
import { startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

class StreamingStorage extends MemoryStorage {
  readonly snapshotsBesideSaves = true; // as the file WAL: saves go on while a snapshot is taken
  streamed = 0;
  whole = 0;
  override async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.whole++;
    return super.saveSnapshot(snapshot);
  }
  /** Takes 333 bytes per turn of the event loop, as a file is written a piece at a time. */
  async saveSnapshotStream(source: SnapshotSource): Promise<void> {
    const data = new Uint8Array(source.size);
    const piece = new Uint8Array(333);
    for (let at = 0; at < data.length; ) {
      const n = source.fill(piece);
      data.set(piece.subarray(0, n), at);
      at += n;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(source.fill(piece)).toBe(0);
    this.streamed++;
    return MemoryStorage.prototype.saveSnapshot.call(this, { metadata: source.metadata, data });
  }
}

describe('snapshots streamed to a storage that takes them in pieces', () => {
  it('are taken while writes go on, and the cluster restarts from them with every value', async () => {
    const backends = new Map<bigint, MemoryStorageBackend>();
    const storages = new Map<bigint, StreamingStorage>();
    const options = { snapshotCount: 60, raft: { snapshotCatchUpEntries: 10 }, requestTimeoutMs: 10_000 };
    const cluster = await startMemoryCluster({
      node: (id) => {
        const backend = new MemoryStorageBackend();
        backends.set(id, backend);
        const storage = new StreamingStorage(backend);
        storages.set(id, storage);
        return { storage, ...options };
      },
    });
    const enc = new TextEncoder();
    const last = new Map<string, string>();
    try {
      const leader = cluster.leader()!;
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < 1200; i = next++) {
            const key = `key/${i % 150}`;
            const value = `value ${i} `.repeat(1 + (i % 9));
            await leader.put({ key: enc.encode(key), value: enc.encode(value) });
            last.set(key, value);
          }
        }),
      );
      for (const storage of storages.values()) {
        expect(storage.streamed).toBeGreaterThan(0);
        expect(storage.whole).toBe(0); // no follower needed one sent
      }
      const target = leader.nodeStatus().applied;
      await waitFor('every member applying it all', () =>
        cluster.nodes.every((n) => n.nodeStatus().applied >= target),
      );
    } finally {
      await cluster.close();
    }
    let stored = 0;
    for (const backend of backends.values()) {
      stored = Math.max(stored, backend.entries.at(-1)?.index ?? 0);
      expect(backend.snapshot?.metadata.index ?? 0).toBeGreaterThan(0);
      expect(backend.entries[0]?.index ?? Number.POSITIVE_INFINITY).toBeGreaterThan(
        backend.snapshot!.metadata.index,
      );
    }

    const restarted = await startMemoryCluster({
      node: (id) => ({ storage: new MemoryStorage(backends.get(id)!), ...options }),
    });
    try {
      const dec = new TextDecoder();
      const revisions = new Set<number>();
      for (const node of restarted.nodes) {
        // Serializable: what this member applied, once it has the whole log again.
        await waitFor('the member applying its log', () => node.nodeStatus().applied >= stored);
        const got = await node.range({
          key: enc.encode('key/'),
          rangeEnd: enc.encode('key0'),
          serializable: true,
        });
        expect(new Map(got.kvs.map((kv) => [dec.decode(kv.key), dec.decode(kv.value)]))).toEqual(last);
        revisions.add(got.header.revision);
      }
      expect(revisions).toEqual(new Set([1201]));
    } finally {
      await restarted.close();
    }
  }, 60_000);
});
