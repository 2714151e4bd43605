// The README's "embed the core" example, kept as a test so it cannot silently break. Keep the two in sync.
import { expect, it } from 'vitest';

it('README example: a 3-member in-process cluster through createNode', async () => {
  // --- README example begins ---
  const { createNode, cryptoRandom } = await import('../../src/index.ts');
  const { MemoryStorage } = await import('../../adapters/storage/memory/index.ts');
  const { MemoryNetwork } = await import('../../adapters/transport/memory/index.ts');
  const { RealClock } = await import('../../adapters/runtime/clock.ts');
  const { FaultModel } = await import('../../src/sim/fault-model.ts');

  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom)); // in-process links, no faults
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  const nodes = await Promise.all(
    members.map((m) =>
      createNode({
        id: m.id,
        name: m.name,
        clusterId: 42n,
        members,
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
      }),
    ),
  );

  const text = new TextEncoder();
  const put = await nodes[0].put({ key: text.encode('greeting'), value: text.encode('hello') });
  const got = await nodes[2].range({ key: text.encode('greeting') }); // linearizable, from another member
  console.log(new TextDecoder().decode(got.kvs[0].value), 'at revision', got.header.revision);
  await Promise.all(nodes.map((n) => n.close()));
  // --- README example ends ---

  expect(put.header.revision).toBe(2);
  expect(new TextDecoder().decode(got.kvs[0].value)).toBe('hello');
  expect(got.header.revision).toBeGreaterThanOrEqual(2);
});
