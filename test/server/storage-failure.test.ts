// A member whose storage fails (a write or fsync error, as a full or broken disk gives) stops at once and reports
// it through NodeOptions.onFatal (the Node CLI then exits 1, as etcd panics); it acknowledges nothing it could not
// make durable, and the rest of the cluster keeps serving with every acknowledged write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemorySpill } from '../../src/mvcc/memory-spill.ts';
import type { ValueSpill } from '../../src/mvcc/value-store.ts';
import type { PersistBatch } from '../../src/storage.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

class FailingStorage extends MemoryStorage {
  failing = false;
  override save(batch: PersistBatch): Promise<void> {
    if (this.failing)
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    return super.save(batch);
  }
}

const broken = new FailingStorage();
const fatal: unknown[] = [];
let c: MemoryCluster;
const enc = new TextEncoder();

beforeAll(async () => {
  c = await startMemoryCluster({
    node: (id) => (id === 3n ? { storage: broken, onFatal: (e) => fatal.push(e) } : {}),
  });
});
afterAll(async () => {
  await c?.close();
});

describe('storage failure', () => {
  it('stops the member, reports it once, and the others keep every acknowledged write', async () => {
    const leader = c.nodes.find((n) => n.nodeStatus().role === 'leader' && n.id !== 3n) ?? c.nodes[0];
    for (let i = 0; i < 5; i++) await leader.put({ key: enc.encode(`before/${i}`), value: enc.encode('v') });
    broken.failing = true;
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        await c.nodes[0].put({ key: enc.encode(`after/${i}`), value: enc.encode('v') });
        acked.push(`after/${i}`);
      } catch {
        // a put in flight while leadership moved away from the broken member may fail: not acknowledged
      }
    }
    await waitFor('the broken member reports', () => fatal.length > 0);
    expect(fatal.length).toBe(1);
    expect(String(fatal[0])).toContain('EIO');
    // It serves nothing any more.
    await expect(c.nodes[2].put({ key: enc.encode('x'), value: enc.encode('v') })).rejects.toThrow();
    expect(acked.length).toBeGreaterThan(0);
    for (const n of c.nodes.slice(0, 2)) {
      // A put whose answer was lost may still have committed: every acknowledged one is there, maybe more.
      for (const key of acked) expect((await n.range({ key: enc.encode(key) })).count).toBe(1);
    }
  });
});

describe('a value spill that cannot be read back', () => {
  class SpillingStorage extends MemoryStorage {
    failing = false;
    valueSpill(): ValueSpill {
      const spill = new MemorySpill();
      return {
        write: (position, bytes) => spill.write(position, bytes),
        read: (position, into) => {
          if (this.failing) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
          spill.read(position, into);
        },
      };
    }
  }

  it('stops the member as soon as an entry needs a value it cannot read; the others keep serving', async () => {
    const storage = new SpillingStorage();
    const reported: unknown[] = [];
    const cluster = await startMemoryCluster({
      // 1 KiB of values in memory on member 3: the rest are in its spill.
      node: (id) => (id === 3n ? { storage, valueCacheBytes: 1024, onFatal: (e) => reported.push(e) } : {}),
    });
    try {
      const value = new Uint8Array(2000).fill(7); // 100 of them fill 3 segments of 64 KiB
      for (let i = 0; i < 100; i++) await cluster.nodes[0].put({ key: enc.encode(`k/${i}`), value });
      await waitFor(
        'member 3 applies them',
        async () => (await cluster.nodes[2].range({ key: enc.encode('k/99') })).count === 1,
      );
      storage.failing = true;
      // Overwriting k/0 reads its previous value (the event's prevKv), long since spilled on member 3.
      await cluster.nodes[0].put({ key: enc.encode('k/0'), value }).catch(() => {}); // its answer may be lost if 3 led
      await waitFor('member 3 reports', () => reported.length > 0);
      expect(String(reported[0])).toContain('value spill: cannot read');
      expect(String(reported[0])).toContain('EIO');
      await expect(cluster.nodes[2].put({ key: enc.encode('x'), value })).rejects.toThrow(
        'etcdserver: server stopped',
      );
      // If member 3 led, the others elect a new leader first.
      await waitFor('the others take writes', () =>
        cluster.nodes[0].put({ key: enc.encode('after'), value }).then(
          () => true,
          () => false,
        ),
      );
      for (const n of cluster.nodes.slice(0, 2)) {
        expect((await n.range({ key: enc.encode('after') })).count).toBe(1);
        expect((await n.range({ key: enc.encode('k/0') })).kvs[0].version).toBe(2);
      }
    } finally {
      await cluster.close();
    }
  });
});
