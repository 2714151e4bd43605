/// <reference lib="dom" />
// This tab as a learner of a live cluster: the real core (createNode, joining: no initial membership) persisted
// to IndexedDB, linked to the cluster's Node members over WebSocket (BrowserWebSocketTransport dials each peer
// port; the members answer on the same connection). The leader catches it up with log entries or a snapshot; it
// serves serializable reads and watches from its own replica through etcd's JSON gateway. A reload resumes from
// IndexedDB with the same member ID (the page keeps it), so only what it missed travels again.

import { RealClock } from '../../adapters/runtime/clock.ts';
import { IndexedDbStorage } from '../../adapters/storage/indexeddb/index.ts';
import { BrowserWebSocketTransport } from '../../adapters/transport/websocket/browser.ts';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import type { Clock } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import type { LearnerFromWorker, LearnerKey, LearnerToWorker } from './learner-protocol.ts';

const scope = self as unknown as {
  postMessage(message: LearnerFromWorker): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<LearnerToWorker>) => void): void;
};

const clock: Clock = new RealClock();

let node: EdgeNode | undefined;
/** With auth on, the joining credentials' token: a simple token is valid on every member once it has applied
 * the Authenticate entry, this learner included (it waits until it has). */
let token: string | undefined;
let gateway: FetchHandler | undefined;
const decoder = new TextDecoder();
const KEY_LIMIT = 100;

scope.addEventListener('message', (event) => {
  const msg = event.data;
  if (msg.kind === 'init') {
    start(msg).catch((err: unknown) => scope.postMessage({ kind: 'error', message: String(err) }));
  } else if (msg.kind === 'http') {
    void serve(msg.reqId, msg.path, msg.body);
  } else if (msg.kind === 'close') {
    void (async () => {
      await node?.close().catch(() => {});
      scope.postMessage({ kind: 'closed' });
    })();
  }
});

async function start(config: Extract<LearnerToWorker, { kind: 'init' }>): Promise<void> {
  token = config.token;
  const storage = new IndexedDbStorage(config.dbName);
  const held = await storage.load();
  const recovered = held.entries.at(-1)?.index ?? held.snapshot?.metadata.index ?? 0;
  const memberId = BigInt(config.memberId);
  const transport = new BrowserWebSocketTransport({
    clusterId: BigInt(config.clusterId),
    memberId,
    backoff: { initialMs: 100, maxMs: 2000 },
  });
  node = await createNode({
    id: memberId,
    name: config.name,
    clusterId: BigInt(config.clusterId),
    storage,
    transport,
    clock,
    random: { next: () => Math.random() },
    tickMs: config.tickMs,
    electionTimeoutMs: config.electionTimeoutMs,
  });
  // Its peers from the member list until the log tells it more (the members it can dial: Node members).
  for (const p of config.peers) transport.addPeer(BigInt(p.id), p.url);
  gateway = createGateway(node, { clock });
  scope.postMessage({ kind: 'ready', recovered, snapshot: held.snapshot?.metadata.index ?? 0 });
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      void report();
    }, 100);
  };
  node.onChange(schedule);
  setInterval(schedule, 1000);
  void report();
}

async function report(): Promise<void> {
  if (!node) return;
  const s = node.nodeStatus();
  let keys: LearnerKey[] = [];
  let keyCount = 0;
  try {
    const r = await node.range(
      { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), serializable: true, limit: KEY_LIMIT },
      token ? { token } : undefined,
    );
    keyCount = r.count;
    keys = r.kvs.map((kv) => ({
      key: decoder.decode(kv.key),
      value: decoder.decode(kv.value),
      modRevision: kv.modRevision,
    }));
  } catch {
    // not caught up enough to read yet
  }
  scope.postMessage({
    kind: 'state',
    state: {
      role: s.role,
      term: s.term,
      leader: s.leader.toString(16),
      commit: s.commit,
      applied: s.applied,
      revision: s.revision,
      keys,
      keyCount,
      members: s.members.map((m) => ({ id: m.ID.toString(16), name: m.name, isLearner: m.isLearner })),
    },
  });
}

/** One request through this replica's gateway; the body comes back whole (a watch: its first lines). */
async function serve(reqId: number, path: string, body: string): Promise<void> {
  if (!gateway) {
    scope.postMessage({ kind: 'http', reqId, status: 503, text: 'starting' });
    return;
  }
  const controller = new AbortController();
  try {
    const res = await gateway(
      new Request(`http://learner${path}`, {
        method: 'POST',
        body,
        signal: controller.signal,
        headers: token ? { Authorization: token } : {},
      }),
    );
    let text = '';
    if (path === '/v3/watch' && res.body) {
      // A watch never ends: return its first two lines (created, then the first event).
      const reader = res.body.getReader();
      const lines = new TextDecoder();
      while (text.split('\n').filter((l) => l.trim()).length < 2) {
        const { done, value } = await reader.read();
        if (done) break;
        text += lines.decode(value, { stream: true });
      }
      controller.abort();
    } else {
      text = await res.text();
    }
    scope.postMessage({ kind: 'http', reqId, status: res.status, text });
  } catch (err) {
    scope.postMessage({ kind: 'http', reqId, status: 500, text: String(err) });
  }
}
