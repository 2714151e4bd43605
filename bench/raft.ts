// bench:raft — entries per second committed and applied on all 3 members of an in-memory cluster.
// 256-byte entries, one per propose(), from 64 concurrent proposers (each waits for its entry to apply on the
// leader before proposing again). Every message is really encoded and decoded with msgpack; batching is the
// core's. Storage is in memory, acknowledged at once. A benchmark, not a test: it prints figures.

import { decode, encode } from '@msgpack/msgpack';
import { RawNode } from '../src/raft/raw-node.ts';
import type { Message, NodeId } from '../src/raft/types.ts';
import { Rng } from '../src/sim/rng.ts';

const PROPOSERS = Number(process.env.PROPOSERS ?? 64);
const ENTRY_BYTES = 256;
const SECONDS = Number(process.env.SECONDS ?? 5);

const ids: NodeId[] = [1n, 2n, 3n];
/** A durable log stand-in: entries after `base`, acknowledged at once. */
class Store {
  base = 0;
  entries: Uint8Array[] = [];
  save(entries: readonly { index: number; data: Uint8Array }[]): void {
    if (entries.length === 0) return;
    this.entries.length = Math.max(0, entries[0].index - this.base - 1);
    for (const e of entries) this.entries.push(e.data.slice());
  }
  compact(index: number): void {
    this.entries = this.entries.slice(Math.max(0, index - this.base));
    this.base = index;
  }
}
const nodes = new Map<NodeId, { raw: RawNode; applied: number; storage: Store }>();
for (const id of ids) {
  const storage = new Store();
  const raw = new RawNode(
    { id, random: new Rng(Number(id)), maxInflightMsgs: 256, maxSizePerMsg: 1024 * 1024 },
    { hardState: { term: 0, vote: 0n, commit: 0 }, entries: [] },
    { voters: ids, learners: [] },
  );
  nodes.set(id, { raw, applied: 0, storage });
}

let inbox: Uint8Array[] = [];
let bytesOnWire = 0;
let messagesOnWire = 0;
const send = (msgs: readonly Message[]) => {
  for (const m of msgs) {
    const frame = encode(m, { useBigInt64: true });
    bytesOnWire += frame.length;
    messagesOnWire++;
    inbox.push(frame);
  }
};

/** Entries applied per node, and the leader's proposals waiting to apply (index → proposer). */
const waiting = new Map<number, number>();
let freeProposers = PROPOSERS;
let appliedOnAll = 0;

function processNode(id: NodeId): void {
  const n = nodes.get(id)!;
  while (n.raw.hasReady()) {
    const rd = n.raw.ready();
    send(rd.messages);
    n.storage.save(rd.entries);
    send(rd.messagesAfterPersist);
    for (const e of rd.committedEntries) {
      n.applied = e.index;
      if (waiting.delete(e.index) && n.raw.basicStatus().role === 'leader') freeProposers++;
    }
    n.raw.advance();
  }
}

function deliver(): void {
  const batch = inbox;
  inbox = [];
  for (const frame of batch) {
    const m = decode(frame, { useBigInt64: true }) as Message;
    nodes.get(m.to)?.raw.step(m);
  }
}

// Elect node 1 (once the bootstrap configuration entries are applied).
for (const id of ids) processNode(id);
nodes.get(1n)!.raw.campaign();
for (let i = 0; i < 50; i++) {
  for (const id of ids) processNode(id);
  deliver();
}
const leader = nodes.get(1n)!;
if (leader.raw.basicStatus().role !== 'leader') throw new Error('no leader');

const payload = new Uint8Array(ENTRY_BYTES).fill(7);
const start = performance.now();
const deadline = start + SECONDS * 1000;
let proposed = 0;
let rounds = 0;
while (performance.now() < deadline) {
  for (let k = 0; k < 1000 && performance.now() < deadline; k++) {
    while (freeProposers > 0) {
      const res = leader.raw.propose(payload);
      if (!res.ok) break;
      waiting.set(res.index!, 1);
      freeProposers--;
      proposed++;
    }
    for (const id of ids) processNode(id);
    deliver();
    rounds++;
    // Bound memory: compact every member's in-memory log behind what all have applied.
    if (rounds % 200 === 0) {
      const minApplied = Math.min(...[...nodes.values()].map((n) => n.applied));
      for (const n of nodes.values()) {
        const snap = n.raw.createSnapshot(new Uint8Array(0));
        if (snap) n.storage.compact(Math.min(snap.metadata.index, minApplied));
      }
      appliedOnAll = minApplied;
    }
  }
}
const seconds = (performance.now() - start) / 1000;
appliedOnAll = Math.min(...[...nodes.values()].map((n) => n.applied));
const rate = appliedOnAll / seconds;
console.log(
  `bench:raft  3 members, ${PROPOSERS} proposers, ${ENTRY_BYTES}-byte entries, msgpack on the wire: ` +
    `${Math.round(rate).toLocaleString('en-US')} entries/s committed and applied on all members ` +
    `(${appliedOnAll.toLocaleString('en-US')} in ${seconds.toFixed(1)}s; ${proposed.toLocaleString('en-US')} proposed; ` +
    `${(messagesOnWire / seconds).toFixed(0)} msgs/s, ${(bytesOnWire / seconds / 1e6).toFixed(1)} MB/s)`,
);
