// Node → Durable Object over HTTP: a Node TcpTransport whose peer address is the Worker's
// /edgecd/peer/<member> URL sends HTTP batches that `wrangler dev --local` routes to that EdgecdMember's
// PEER_FETCH_PATH. The route is opt-in (EDGECD_PEER_HTTP = "on"); wrangler dev takes it from this process's
// environment (CLOUDFLARE_INCLUDE_PROCESS_ENV). Runs in Node (project `cloudflare-wrangler`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeReply,
  encodeBatch,
  encodeMessage,
  PEER_CONTENT_TYPE,
} from '../../adapters/transport/fetch/index.ts';
import { TcpTransport } from '../../adapters/transport/tcp/index.ts';
import type { Message } from '../../src/raft/types.ts';
import { Inbox } from '../conformance/transport.ts';
import { startWranglerDev, type WranglerDev } from './wrangler.ts';

let dev: WranglerDev | undefined;
let cluster: { clusterId: bigint; members: { name: string; id: bigint }[] };

beforeAll(async () => {
  process.env.CLOUDFLARE_INCLUDE_PROCESS_ENV = 'true';
  process.env.EDGECD_PEER_HTTP = 'on';
  try {
    dev = await startWranglerDev();
  } finally {
    delete process.env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
    delete process.env.EDGECD_PEER_HTTP;
  }
  const info = (await (await fetch(`${dev.baseUrl}/`)).json()) as {
    clusterId: string;
    members: { name: string; id: string }[];
  };
  cluster = {
    clusterId: BigInt(info.clusterId),
    members: info.members.map((m) => ({ name: m.name, id: BigInt(m.id) })),
  };
});

afterAll(async () => {
  await dev?.stop();
});

/** Harmless to the Durable Object group: a pre-vote with an empty log is always rejected and changes no term. */
const preVote = (from: bigint, to: bigint): Message => ({
  type: 'MsgPreVote',
  from,
  to,
  term: 1,
  index: 0,
  logTerm: 0,
});

const NODE_ID = 0x0de0_0000_0000_0001n;
/** A sender the members know: member-1 (its pre-votes are harmless, see preVote). */
const sender = () => cluster.members[0].id;

/** POSTs one batch from `from` to a member through the Worker's peer route. */
async function postBatch(
  clusterId: bigint,
  target: { name: string; id: bigint },
  from: bigint,
  path?: string,
) {
  const res = await fetch(`${dev?.baseUrl ?? ''}${path ?? `/edgecd/peer/${target.name}`}`, {
    method: 'POST',
    headers: { 'content-type': PEER_CONTENT_TYPE },
    body: encodeBatch({
      cluster: clusterId,
      from,
      to: target.id,
      messages: [encodeMessage(preVote(from, target.id))],
    }) as Uint8Array<ArrayBuffer>,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/**
 * Waits until a member takes batches from member-1: a member just woken by the first request applies its
 * bootstrap membership (and so learns its peers) a moment after it starts; until then it refuses senders.
 */
async function warm(target: { name: string; id: bigint }): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await postBatch(cluster.clusterId, target, sender());
    if (r.status === 200 && decodeReply(r.bytes).ok) return;
    if (Date.now() > deadline) throw new Error(`member ${target.name} never took a batch`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Node member → Durable Object member through the Worker (wrangler dev)', () => {
  it('delivers HTTP batches from a TcpTransport to a member at /edgecd/peer/<name>', async () => {
    const base = dev?.baseUrl ?? '';
    const target = cluster.members[1];
    await warm(target);
    const inbox = new Inbox();
    const node = new TcpTransport({
      clusterId: cluster.clusterId,
      memberId: sender(),
      listen: { host: '127.0.0.1', port: 0 },
      requestTimeoutMs: 30_000,
    });
    await node.start(inbox);
    try {
      node.addPeer(target.id, `${base}/edgecd/peer/${target.name}`);
      node.send([preVote(sender(), target.id)]);
      const deadline = Date.now() + 45_000;
      while (node.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(node.pending).toBe(0);
      expect(node.stats(target.id).sent).toBe(1);
      expect(inbox.unreachable).toEqual([]);
    } finally {
      await node.close();
    }
  });

  it('answers a batch with the member reply: ok for this cluster, a refusal for another', async () => {
    const target = cluster.members[2];
    const post = (clusterId: bigint, path?: string, from = sender()) =>
      postBatch(clusterId, target, from, path);
    await warm(target);
    const good = await post(cluster.clusterId);
    expect(good.status).toBe(200);
    expect(decodeReply(good.bytes)).toEqual({ ok: true });
    const other = await post(cluster.clusterId + 1n);
    expect(decodeReply(other.bytes)).toMatchObject({ ok: false, code: 'cluster' });
    // A sender that is no member of this cluster: refused by the member.
    const stranger = await post(cluster.clusterId, undefined, NODE_ID);
    expect(decodeReply(stranger.bytes)).toMatchObject({ ok: false, code: 'member' });
    // Without EDGECD_PEER_SECRET only the Worker's own members have a peer route.
    expect((await post(cluster.clusterId, '/edgecd/peer/no-such-member')).status).toBe(403);
  });
});
