import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreSnapshot } from '../../adapters/runtime/node/restore.ts';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  newClusterState,
  SnapshotFileError,
  snapshotChunks,
} from '../../src/server/snapshot-file.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const enc = (s: string) => new TextEncoder().encode(s);

function stateMachine(): ServerStateMachine {
  return new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
}

/** A state machine with some history, leases and an old membership. */
function populated(): ServerStateMachine {
  const sm = stateMachine();
  sm.members.add(99n, { peerURLs: ['http://old:2380'], name: 'old' }, false);
  sm.apply({ type: 'leaseGrant', request: { ID: 7n, TTL: 60 } }, 0);
  for (let i = 0; i < 50; i++) {
    sm.apply({ type: 'put', request: { key: enc(`k${i % 10}`), value: enc(`v${i}`) } }, 0);
  }
  sm.apply({ type: 'put', request: { key: enc('leased'), value: enc('x'), lease: 7n } }, 0);
  sm.apply({ type: 'compact', request: { revision: 20 } }, 0);
  sm.appliedIndex = 1234;
  return sm;
}

async function fileOf(sm: ServerStateMachine): Promise<Uint8Array> {
  return encodeSnapshotFile({
    clusterId: 0xfeedn,
    memberId: 0xbeefn,
    revision: sm.mvcc.revision,
    appliedIndex: sm.appliedIndex,
    data: sm.snapshot(),
  });
}

describe('the edgecd snapshot file', () => {
  it('round-trips, and its size is a multiple of 512 plus the 32-byte sha256 trailer', async () => {
    for (const size of [0, 1, 455, 456, 457, 5000, 100_000]) {
      const data = new Uint8Array(size).map((_, i) => i % 251);
      const file = await encodeSnapshotFile({
        clusterId: 0xffff_ffff_ffff_fff0n,
        memberId: 2n,
        revision: 42,
        appliedIndex: 77,
        data,
      });
      expect(file.length % 512).toBe(32);
      expect(file.length - 32 - 56 - size).toBeLessThan(512);
      const back = await decodeSnapshotFile(file);
      expect(back).toEqual({
        clusterId: 0xffff_ffff_ffff_fff0n,
        memberId: 2n,
        revision: 42,
        appliedIndex: 77,
        data,
        format: 'edgecd',
      });
      // The trailer is the sha256 of everything before it.
      const digest = new Uint8Array(
        await crypto.subtle.digest('SHA-256', file.subarray(0, file.length - 32)),
      );
      expect(file.subarray(file.length - 32)).toEqual(digest);
    }
  });

  it('refuses a corrupt trailer, a flipped data byte, a truncated file and a foreign file', async () => {
    const file = await fileOf(populated());
    const badTrailer = file.slice();
    badTrailer[badTrailer.length - 1] ^= 1;
    await expect(decodeSnapshotFile(badTrailer)).rejects.toThrow(
      'snapshot file is corrupt: sha256 checksum mismatch',
    );
    const badData = file.slice();
    badData[100] ^= 0x80;
    await expect(decodeSnapshotFile(badData)).rejects.toThrow(SnapshotFileError);
    await expect(decodeSnapshotFile(file.subarray(0, file.length - 1))).rejects.toThrow(
      /not an edgecd snapshot: size/,
    );
    // Right size and a valid trailer, but not ours (e.g. someone else's 512-aligned file + sha256).
    const foreign = new Uint8Array(512 + 32);
    foreign.set(new Uint8Array(await crypto.subtle.digest('SHA-256', foreign.subarray(0, 512))), 512);
    await expect(decodeSnapshotFile(foreign)).rejects.toThrow(/bad magic/);
  });

  it('chunks carry remaining_bytes down to 0 and concatenate back to the file', async () => {
    const file = await encodeSnapshotFile({
      clusterId: 1n,
      memberId: 1n,
      revision: 1,
      appliedIndex: 1,
      data: new Uint8Array(70_000),
    });
    const chunks = [...snapshotChunks(file, 32 * 1024)];
    expect(chunks.map((c) => c.blob.length)).toEqual([32768, 32768, file.length - 65536]);
    expect(chunks.map((c) => c.remainingBytes)).toEqual([file.length - 32768, file.length - 65536, 0]);
    expect(Buffer.concat(chunks.map((c) => c.blob))).toEqual(Buffer.from(file));
  });

  it('newClusterState keeps the keyspace and leases, replaces the members, resets the applied index', async () => {
    const original = populated();
    const file = await decodeSnapshotFile(await fileOf(original));
    const members = [
      { id: 11n, name: 'a', peerURLs: ['http://a:2380'] },
      { id: 12n, name: 'b', peerURLs: ['http://b:2380'] },
      { id: 13n, name: 'c', peerURLs: ['http://c:2380'] },
    ];
    const { snapshot, hardState } = newClusterState(file, members);
    expect(snapshot.metadata).toEqual({
      index: 3,
      term: 1,
      confState: { voters: [11n, 12n, 13n], learners: [] },
    });
    expect(hardState).toEqual({ term: 1, vote: 0n, commit: 3 });
    const restored = stateMachine();
    restored.restore(snapshot.data);
    expect(restored.appliedIndex).toBe(3);
    expect(restored.mvcc.revision).toBe(original.mvcc.revision);
    expect(restored.mvcc.compactRevision).toBe(20);
    expect(restored.mvcc.hashKV(0)).toEqual(original.mvcc.hashKV(0));
    expect(restored.lessor.get(7n)).toBeDefined();
    expect(restored.members.list().map((m) => [m.ID, m.name, m.peerURLs])).toEqual([
      [11n, 'a', ['http://a:2380']],
      [12n, 'b', ['http://b:2380']],
      [13n, 'c', ['http://c:2380']],
    ]);
    expect(restored.members.isRemoved(99n)).toBe(false);
    // Deterministic: every member of the new cluster computes the same bytes.
    expect(newClusterState(file, members).snapshot.data).toEqual(snapshot.data);
  });

  it('restoreSnapshot writes a file WAL that loads as that snapshot, and refuses a corrupt file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecd-restore-'));
    try {
      const path = join(dir, 'snap.db');
      const bytes = await fileOf(populated());
      writeFileSync(path, bytes);
      const initialCluster = new Map([
        ['a', ['http://127.0.0.1:1']],
        ['b', ['http://127.0.0.1:2']],
      ]);
      const base = {
        snapshotPath: path,
        initialCluster,
        initialClusterToken: 't',
      };
      const r = await restoreSnapshot({
        ...base,
        name: 'a',
        dataDir: join(dir, 'a'),
        initialAdvertisePeerUrls: ['http://127.0.0.1:1'],
      });
      expect(r.index).toBe(2);
      const storage = await FileWalStorage.open(join(dir, 'a', 'member'));
      const loaded = await storage.load();
      await storage.close();
      expect(loaded.hardState).toEqual({ term: 1, vote: 0n, commit: 2 });
      expect(loaded.snapshot?.metadata.index).toBe(2);
      expect(loaded.entries).toEqual([]);
      // An existing data dir is refused.
      await expect(
        restoreSnapshot({
          ...base,
          name: 'a',
          dataDir: join(dir, 'a'),
          initialAdvertisePeerUrls: ['http://127.0.0.1:1'],
        }),
      ).rejects.toThrow(/exists/);
      // A corrupt file is refused before anything is written.
      const bad = bytes.slice();
      bad[bad.length - 5] ^= 1;
      writeFileSync(path, bad);
      await expect(
        restoreSnapshot({
          ...base,
          name: 'b',
          dataDir: join(dir, 'b'),
          initialAdvertisePeerUrls: ['http://127.0.0.1:2'],
        }),
      ).rejects.toThrow('sha256 checksum mismatch');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
