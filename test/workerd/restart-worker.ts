// A Worker for miniflare-restart.test.ts, bundled with esbuild and run by Miniflare's API from Node: one
// SQLite-backed Durable Object whose fetch handler opens a DurableObjectStorage, loads, and on `/write` saves a
// fixed scenario (a received 3 MB snapshot, a 2.5 MB entry, a uint64 vote). Both routes answer with a summary
// of a LoadedState (sizes and checksums instead of bytes): `/write` of what it wrote, `/read` of what it loaded.

import { DurableObject } from 'cloudflare:workers';
import { DurableObjectStorage } from '../../adapters/storage/durable-object/index.ts';
import type { Entry, Snapshot } from '../../src/raft/types.ts';
import type { LoadedState } from '../../src/storage.ts';

function pattern(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = (i * 131 + seed * 17 + (i >>> 11)) & 0xff;
  return data;
}

function scenario(): LoadedState {
  const snapshot: Snapshot = {
    metadata: { index: 40, term: 3, confState: { voters: [1n, 0xffff_ffff_ffff_ffffn], learners: [9n] } },
    data: pattern(3_000_000, 1),
  };
  const entries: Entry[] = [
    { index: 41, term: 3, type: 'confChange', data: pattern(10, 2) },
    { index: 42, term: 3, type: 'normal', data: pattern(2_500_000, 3) },
    { index: 43, term: 3, type: 'normal', data: new Uint8Array(0) },
  ];
  return { hardState: { term: 3, vote: 0xffff_ffff_ffff_ffffn, commit: 42 }, snapshot, entries };
}

/** FNV-1a, 32 bits. */
function checksum(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h;
}

function summary(state: LoadedState) {
  const { hardState, snapshot, entries } = state;
  return {
    hardState: { term: hardState.term, vote: hardState.vote.toString(), commit: hardState.commit },
    snapshot: snapshot && {
      index: snapshot.metadata.index,
      term: snapshot.metadata.term,
      voters: snapshot.metadata.confState.voters.map(String),
      learners: snapshot.metadata.confState.learners.map(String),
      size: snapshot.data.length,
      checksum: checksum(snapshot.data),
    },
    entries: entries.map((e) => ({
      index: e.index,
      term: e.term,
      type: e.type,
      size: e.data.length,
      checksum: checksum(e.data),
    })),
  };
}

export class RestartTestObject extends DurableObject {
  async fetch(request: Request): Promise<Response> {
    const storage = new DurableObjectStorage(this.ctx.storage);
    const loaded = await storage.load();
    let result = loaded;
    if (new URL(request.url).pathname === '/write') {
      if (loaded.entries.length > 0 || loaded.snapshot) return new Response('not empty', { status: 409 });
      result = scenario();
      await storage.save({ snapshot: result.snapshot, entries: result.entries, hardState: result.hardState });
    }
    await storage.close();
    return Response.json(summary(result));
  }
}

export default {
  fetch(): Response {
    return new Response('edgecd restart test worker');
  },
};
