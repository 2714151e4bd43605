// A member whose storage fails (a write or fsync error, as a full or broken disk gives) stops at once and reports
// it through NodeOptions.onFatal (the Node CLI then exits 1, as etcd panics); it acknowledges nothing it could not
// make durable, and the rest of the cluster keeps serving with every acknowledged write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
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
