import { createNode, cryptoRandom } from 'edgecd';
import { FaultModel, MemoryNetwork, MemoryStorage, RealClock } from 'edgecd/memory';

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
await nodes[0].put({ key: text.encode('greeting'), value: text.encode('hello') });
const got = await nodes[2].range({ key: text.encode('greeting') }); // linearizable, from another member
console.log(new TextDecoder().decode(got.kvs[0].value), 'at revision', got.header.revision);
await Promise.all(nodes.map((n) => n.close()));
