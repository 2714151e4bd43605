// The client port's non-RPC endpoints: /health, /version, /metrics (etcd 3.4's etcdhttp handlers) and edgecd's
// own /edgecd/v1/cluster-state feed for the demo.

import type { Clock } from '../../env.ts';
import { type EdgeNode, ETCD_VERSION, type NodeStatus } from '../../server/node.ts';
import { CORS_HEADERS, jsonResponse, plainText } from './http.ts';

/** etcd's versionHandler: `/version` reports the server and cluster versions. */
export function versionResponse(): Response {
  return jsonResponse(JSON.stringify({ etcdserver: ETCD_VERSION, etcdcluster: '3.4.0' }), 200);
}

/**
 * etcd 3.4's /health: `{"health":"true"}` (200), or `{"health":"false"}` through http.Error (503, trailing
 * newline) when any alarm is active, the member sees no leader, or a quorum read does not complete within a
 * second (EdgeNode.health). Both are text/plain, as Go sniffs and http.Error sets them.
 */
export async function healthResponse(node: EdgeNode): Promise<Response> {
  if (await node.health()) return jsonResponse('{"health":"true"}', 200, 'text/plain; charset=utf-8');
  return plainText('{"health":"false"}', 503);
}

/**
 * Counts leader changes the way etcd's raft loop does: each change to a different, known leader. It looks after
 * every state change, so it reads the cheap serving() state (nodeStatus() builds the member list and more: 1-2% of
 * a member's CPU under load, all of it here).
 */
export class LeaderChangeCounter {
  count = 0;
  private lead = 0n;

  constructor(node: EdgeNode) {
    this.observe(node.serving().leader);
    node.onChange(() => this.observe(node.serving().leader));
  }

  private observe(lead: bigint): void {
    if (lead !== 0n && lead !== this.lead) this.count++;
    this.lead = lead;
  }
}

function metric(lines: string[], name: string, type: string, help: string, samples: [string, number][]) {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
}

/** The etcd metric names dashboards rely on (ETCD-NOTES §6b) that edgecd can compute, in Prometheus text. */
export async function metricsText(node: EdgeNode, leaderChanges: LeaderChangeCounter): Promise<string> {
  // The host's own view: /metrics needs no credentials in etcd, while Status is root only once auth is on.
  const s = node.nodeStatus();
  const diskSize = await node.diskSize();
  const lines: string[] = [];
  metric(
    lines,
    'etcd_debugging_mvcc_compact_revision',
    'gauge',
    'The revision of the last compaction in store.',
    [['', s.compactRevision]],
  );
  metric(lines, 'etcd_debugging_mvcc_current_revision', 'gauge', 'The current revision of store.', [
    ['', s.revision],
  ]);
  metric(lines, 'etcd_debugging_mvcc_keys_total', 'gauge', 'Total number of keys.', [['', s.keys]]);
  metric(lines, 'etcd_debugging_mvcc_watcher_total', 'gauge', 'Total number of watchers.', [
    ['', s.watchers],
  ]);
  metric(
    lines,
    'etcd_mvcc_db_total_size_in_bytes',
    'gauge',
    'Total size of the underlying database physically allocated in bytes.',
    [['', diskSize]],
  );
  metric(
    lines,
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'gauge',
    'Total size of the underlying database logically in use in bytes.',
    [['', s.dbSize]],
  );
  metric(
    lines,
    'etcd_server_has_leader',
    'gauge',
    'Whether or not a leader exists. 1 is existence, 0 is not.',
    [['', s.leader !== 0n ? 1 : 0]],
  );
  metric(lines, 'etcd_server_quota_backend_bytes', 'gauge', 'Current backend storage quota size in bytes.', [
    ['', s.quotaBytes],
  ]);
  metric(
    lines,
    'etcd_server_id',
    'gauge',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    [[`{server_id="${s.id.toString(16)}"}`, 1]],
  );
  metric(
    lines,
    'etcd_server_is_leader',
    'gauge',
    'Whether or not this member is a leader. 1 if is, 0 otherwise.',
    [['', s.role === 'leader' ? 1 : 0]],
  );
  metric(
    lines,
    'etcd_server_is_learner',
    'gauge',
    'Whether or not this member is a learner. 1 if is, 0 otherwise.',
    [['', s.role === 'learner' ? 1 : 0]],
  );
  metric(lines, 'etcd_server_leader_changes_seen_total', 'counter', 'The number of leader changes seen.', [
    ['', leaderChanges.count],
  ]);
  metric(
    lines,
    'etcd_server_proposals_failed_total',
    'counter',
    'The total number of failed proposals seen.',
    [['', s.proposalsFailed]],
  );
  metric(
    lines,
    'etcd_server_proposals_pending',
    'gauge',
    'The current number of pending proposals to commit.',
    [['', s.proposalsPending]],
  );
  metric(
    lines,
    'etcd_server_proposals_applied_total',
    'gauge',
    'The total number of consensus proposals applied.',
    [['', s.applied]],
  );
  metric(
    lines,
    'etcd_server_proposals_committed_total',
    'gauge',
    'The total number of consensus proposals committed.',
    [['', s.commit]],
  );
  metric(
    lines,
    'etcd_server_version',
    'gauge',
    "Which version is running. 1 for 'server_version' label with current version.",
    [[`{server_version="${ETCD_VERSION}"}`, 1]],
  );
  return `${lines.join('\n')}\n`;
}

export function metricsResponse(text: string): Response {
  return new Response(text, {
    status: 200,
    headers: { ...CORS_HEADERS, 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' },
  });
}

/** One cluster-state snapshot: the NodeStatus with IDs as decimal strings (JSON has no bigint). */
export function clusterStateJson(s: NodeStatus): string {
  return JSON.stringify({
    id: String(s.id),
    name: s.name,
    role: s.role,
    term: s.term,
    leader: String(s.leader),
    commit: s.commit,
    applied: s.applied,
    lastIndex: s.lastIndex,
    revision: s.revision,
    compactRevision: s.compactRevision,
    members: s.members.map((m) => ({
      ID: String(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: m.isLearner,
    })),
  });
}

/** At most this many snapshots a second per connection (when a clock is given). */
const MAX_STATES_PER_SECOND = 20;

/**
 * GET /edgecd/v1/cluster-state — a live feed of this member's view of the cluster, for the demo.
 *
 * Format: newline-delimited JSON (Content-Type application/x-ndjson), one object per line:
 *   {"id":"1","name":"n1","role":"leader","term":2,"leader":"1","commit":12,"applied":12,"lastIndex":12,
 *    "revision":5,"compactRevision":0,"members":[{"ID":"1","name":"n1","peerURLs":["…"],"clientURLs":["…"],
 *    "isLearner":false}]}
 * With `Accept: text/event-stream` the same objects arrive as Server-Sent Events (`data: {…}\n\n`).
 * The first snapshot is sent at once, then one after each change (identical snapshots are skipped), at most 20
 * a second when the gateway has a clock, and only as fast as the client reads. IDs are decimal strings; role is
 * leader|follower|candidate|preCandidate|learner; leader "0" means none known. The stream ends when the client
 * disconnects.
 */
export function clusterStateResponse(node: EdgeNode, request: Request, clock: Clock | undefined): Response {
  const sse = (request.headers.get('accept') ?? '').includes('text/event-stream');
  const encoder = new TextEncoder();
  const signal = request.signal;
  let dirty = true;
  let closed = false;
  let last = '';
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let wake: (() => void) | undefined;
  let cancelWait: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = node.onChange(() => {
    dirty = true;
    notify();
  });
  const stop = () => {
    closed = true;
    unsubscribe();
    notify();
    cancelWait?.();
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  const minGapMs = 1000 / MAX_STATES_PER_SECOND;

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          while (!dirty && !closed) await new Promise<void>((resolve) => (wake = resolve));
          if (closed) {
            controller.close();
            return;
          }
          if (clock) {
            const wait = lastSentAt + minGapMs - clock.now();
            if (wait > 0) {
              // Changes during the pause only keep `dirty` set; a disconnect ends the pause at once.
              await new Promise<void>((resolve) => {
                const timer = clock.setTimer(wait, resolve);
                cancelWait = () => {
                  timer.cancel();
                  resolve();
                };
              });
              cancelWait = undefined;
              if (closed) continue;
            }
            lastSentAt = clock.now();
          }
          dirty = false;
          const json = clusterStateJson(node.nodeStatus());
          if (json === last) continue;
          last = json;
          controller.enqueue(encoder.encode(sse ? `data: ${json}\n\n` : `${json}\n`));
          return;
        }
      },
      cancel() {
        signal.removeEventListener('abort', stop);
        stop();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    status: 200,
    headers: {
      ...CORS_HEADERS,
      'Content-Type': sse ? 'text/event-stream' : 'application/x-ndjson',
      'Cache-Control': 'no-cache',
    },
  });
}
