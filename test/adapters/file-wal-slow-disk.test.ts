// A disk slower than the election timeout under the leader: every fdatasync of its WAL takes 1.2 s (injected
// through the WAL's WalFs layer, over the real file system in temp dirs). An in-process 3-member cluster
// (createNode, file WALs, the memory transport, the real clock) takes writes from a client meanwhile; then:
// - no acknowledged write is lost: each is read back, linearizably, from every member once the disk is fast;
// - the WAL warns as etcd does: `slow fdatasync` with `took` and `expected-duration` 1s, and only the slow one;
// - leadership moves away from the slow member: as in etcd, a host handles one Ready at a time, so while the
//   leader's save is in flight its heartbeats wait with everything else and the followers elect another leader.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFs, type WalFs } from '../../adapters/storage/file-wal/fs.ts';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import type { LogFields, Logger } from '../../src/env.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

const SLOW_MS = 1200;

class RecordingLogger implements Logger {
  readonly events: { level: string; message: string; fields: LogFields }[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'error', message, fields });
  }
}

/** nodeFs whose fdatasync and fsync (and O_DSYNC writes) take SLOW_MS longer while `slow.on` is set. */
function slowFs(slow: { on: boolean }): WalFs {
  const pause = () => (slow.on ? new Promise<void>((r) => setTimeout(r, SLOW_MS)) : Promise.resolve());
  return {
    ...nodeFs,
    async open(path, mode) {
      const file = await nodeFs.open(path, mode);
      return {
        write: async (data, position) => {
          if (mode === 'r+d') await pause();
          await file.write(data, position);
        },
        datasync: async () => {
          await pause();
          await file.datasync();
        },
        sync: async () => {
          await pause();
          await file.sync();
        },
        truncate: (length) => file.truncate(length),
        size: () => file.size(),
        close: () => file.close(),
      };
    },
  };
}

describe('a slow disk under the leader', () => {
  let dir: string;
  let cluster: MemoryCluster;
  const slow = new Map<bigint, { on: boolean }>();
  const logs = new Map<bigint, RecordingLogger>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgecd-slow-disk-'));
    const storages = new Map<bigint, FileWalStorage>();
    for (const id of [1n, 2n, 3n]) {
      slow.set(id, { on: false });
      logs.set(id, new RecordingLogger());
      storages.set(
        id,
        await FileWalStorage.open(join(dir, `m${id}`), { fs: slowFs(slow.get(id)!), logger: logs.get(id) }),
      );
    }
    cluster = await startMemoryCluster({
      size: 3,
      node: (id) => ({
        storage: storages.get(id)!,
        logger: logs.get(id),
        tickMs: 20,
        electionTimeoutMs: 300,
        requestTimeoutMs: 5000,
      }),
    });
  }, 60_000);
  afterAll(async () => {
    for (const s of slow.values()) s.on = false;
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('leadership moves away from the slow member', async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    await waitFor('a leader', () => cluster.leader() !== undefined);
    const before = cluster.leader()!.nodeStatus();
    const slowId = before.id;
    slow.get(slowId)!.on = true;
    // One write makes the leader save; its disk holds the save (and the heartbeats behind it) for 1.2 s.
    const write = cluster
      .leader()!
      .put({ key: enc('slow'), value: enc('1') })
      .catch(() => undefined);
    await waitFor('another leader', () => (cluster.leader()?.nodeStatus().id ?? slowId) !== slowId, 30_000);
    const after = cluster.leader()!.nodeStatus();
    expect(after.id).not.toBe(slowId);
    expect(after.term).toBeGreaterThan(before.term);
    slow.get(slowId)!.on = false;
    await write;
    // Its saves begun while slow finish; every member catches up before the next test looks at the logs.
    await waitFor('a warning from the slow member', () =>
      logs.get(slowId)!.events.some((e) => e.message === 'slow fdatasync'),
    );
    await waitFor('members caught up', () => {
      const commit = cluster.leader()?.nodeStatus().commit ?? -1;
      return cluster.nodes.every((n) => n.nodeStatus().applied >= commit);
    });
    for (const log of logs.values()) log.events.length = 0;
  }, 60_000);

  it('no acknowledged write is lost, and the WAL warns "slow fdatasync"', async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const slowId = cluster.leader()!.nodeStatus().id;
    slow.get(slowId)!.on = true;

    // A client writing through whichever member leads (or any while none does): 8 writes.
    const acked: string[] = [];
    for (let i = 0; i < 8; i++) {
      const target = cluster.leader() ?? cluster.nodes[i % 3];
      try {
        await target.put({ key: enc(`k${i}`), value: enc(`v${i}`) });
        acked.push(`k${i}`);
      } catch {
        // not acknowledged: it may or may not have been applied
      }
    }
    expect(acked.length).toBeGreaterThan(0);

    // The disk recovers; every acknowledged write is on every member.
    slow.get(slowId)!.on = false;
    for (const node of cluster.nodes) {
      for (let attempt = 0; ; attempt++) {
        try {
          for (const key of acked) {
            const r = await node.range({ key: enc(key) });
            expect(new TextDecoder().decode(r.kvs[0]?.value)).toBe(`v${key.slice(1)}`);
          }
          break;
        } catch (err) {
          // A linearizable read may time out while the cluster settles after the leader change.
          if (attempt >= 5 || !/timed out|no leader|leader changed/.test(String(err))) throw err;
        }
      }
    }

    const warned = logs.get(slowId)!.events.filter((e) => e.message === 'slow fdatasync');
    expect(warned.length).toBeGreaterThan(0);
    expect(warned[0].fields).toEqual({
      took: expect.stringMatching(/^\d+\.\d{3}s$/),
      'expected-duration': '1s',
    });
    expect(Number.parseFloat(String(warned[0].fields.took))).toBeGreaterThan(1);
    for (const id of [1n, 2n, 3n].filter((id) => id !== slowId)) {
      expect(logs.get(id)!.events.some((e) => e.message === 'slow fdatasync')).toBe(false);
    }
  }, 90_000);
});
