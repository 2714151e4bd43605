// Maintenance.Defragment does real work for edgecd's storage: a snapshot at the applied index, after which the
// file WAL drops the segments before it. The member restarts from what is left with every key intact.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { tempDir } from '../adapters/file-wal/helpers.ts';
import { waitFor } from '../support/memory-cluster.ts';

const enc = new TextEncoder();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function member(dir: string): Promise<EdgeNode> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const node = await createNode({
    id: 1n,
    name: 'd1',
    clusterId: 7n,
    members: [{ id: 1n, name: 'd1', peerURLs: ['mem://d1'] }],
    storage: await FileWalStorage.open(dir, { segmentSize: 8 * 1024 }),
    transport: network.transport(1n),
    clock,
    random: cryptoRandom,
    tickMs: 10,
    electionTimeoutMs: 100,
  });
  await waitFor('a leader', () => node.nodeStatus().role === 'leader');
  return node;
}

describe('Defragment', () => {
  it('takes a snapshot and drops the WAL segments before it; a restart finds every key', async () => {
    const tmp = await tempDir('edgecd-defrag-');
    cleanups.push(tmp.remove);
    let node = await member(tmp.dir);
    for (let i = 0; i < 300; i++)
      await node.put({ key: enc.encode(`k${i}`), value: new Uint8Array(200).fill(i % 256) });
    const segments = async () =>
      (await readdir(join(tmp.dir, 'wal'))).filter((f) => f.endsWith('.wal')).length;
    const before = await segments();
    expect(before).toBeGreaterThan(3);
    // Through the gateway, as etcdctl defrag's JSON twin.
    const res = await createGateway(node)(
      new Request('http://x/v3/maintenance/defragment', { method: 'POST', body: '{}' }),
    );
    expect(res.status).toBe(200);
    const after = await segments();
    expect(after).toBeLessThan(before);
    expect((await readdir(join(tmp.dir, 'snap'))).some((f) => f.endsWith('.snap'))).toBe(true);
    await node.close();
    node = await member(tmp.dir);
    cleanups.push(() => node.close());
    const all = await node.range({ key: enc.encode('k'), rangeEnd: enc.encode('l'), countOnly: true });
    expect(all.count).toBe(300);
  }, 60_000);

  it('a restart refuses a snapshot file damaged where its keyspace is read, naming the damage (not the decoder)', async () => {
    const tmp = await tempDir('edgecd-defrag-');
    cleanups.push(tmp.remove);
    const node = await member(tmp.dir);
    // 6 MB: more than the restore's window reads at once (4 MiB), so that decoding meets the damage first.
    for (let i = 0; i < 300; i++)
      await node.put({ key: enc.encode(`k${i}`), value: new Uint8Array(20_000).fill(7) });
    await createGateway(node)(
      new Request('http://x/v3/maintenance/defragment', { method: 'POST', body: '{}' }),
    );
    await node.close();
    const snap = (await readdir(join(tmp.dir, 'snap')))
      .filter((f) => f.endsWith('.snap'))
      .sort()
      .at(-1)!;
    const path = join(tmp.dir, 'snap', snap);
    const bytes = await readFile(path);
    // The length of key k10 (the u32 before its bytes) made huge: decoding stops there, long before the last byte.
    const at = bytes.indexOf(Buffer.from('k10\x20\x4e', 'latin1'));
    expect(at).toBeGreaterThan(0);
    bytes.writeUInt32LE(0x7fff_0000, at - 4);
    await writeFile(path, bytes);
    await expect(member(tmp.dir)).rejects.toThrow(
      new RegExp(`${snap} at byte offset 0: payload CRC mismatch`),
    );
  }, 60_000);
});
