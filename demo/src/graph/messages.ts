/// <reference lib="dom" />
// Messages in flight as the graph draws them, for the live cluster and the seed replay alike: requests as circles
// and responses as squares, coloured by kind, labelled with type, term and index range, moving from the sender's
// edge to the receiver's, each direction on its own side of the wire; a lost one flashes `✕`.

import { type Point, svg } from './svg.ts';

/** What a label needs of a message; `known` is false when only its type and size are known (no term, no index). */
export interface MsgFacts {
  readonly type: string;
  readonly known: boolean;
  readonly term: number;
  readonly index: number;
  readonly commit: number;
  readonly entries: number;
  readonly reject: boolean;
  readonly snapshotIndex: number;
}

export const MSG_CLASS: Readonly<Record<string, string>> = {
  MsgApp: 'append',
  MsgAppResp: 'append',
  MsgTimeoutNow: 'vote',
  MsgHeartbeat: 'heartbeat',
  MsgHeartbeatResp: 'heartbeat',
  MsgVote: 'vote',
  MsgVoteResp: 'vote',
  MsgPreVote: 'vote',
  MsgPreVoteResp: 'vote',
  MsgSnap: 'snapshot',
  MsgSnapResp: 'snapshot',
};

export const RESPONSES: ReadonlySet<string> = new Set([
  'MsgAppResp',
  'MsgHeartbeatResp',
  'MsgVoteResp',
  'MsgPreVoteResp',
  'MsgSnapResp',
  'MsgReadIndexResp',
]);

/** A message's label: what it is, its term, and the log range or commit it carries. */
export function msgLabel(m: MsgFacts): string {
  const ok = m.reject ? '✗' : '✓';
  const t = m.known && m.term ? ` t${m.term}` : '';
  const i = m.index;
  switch (m.type) {
    case 'MsgApp': {
      const n = m.entries;
      const range = n === 0 ? '' : n === 1 ? ` #${i + 1}` : ` #${i + 1}–${i + n}`;
      return `append${t}${m.known ? range : ''}${m.commit ? ` c${m.commit}` : ''}`;
    }
    case 'MsgAppResp':
      return `append ${ok}${t}${m.known ? ` #${i}` : ''}`;
    case 'MsgHeartbeat':
      return `hb${t}${m.commit ? ` c${m.commit}` : ''}`;
    case 'MsgHeartbeatResp':
      return `hb ✓${t}`;
    case 'MsgVote':
      return `vote?${t}${m.known ? ` last #${i}` : ''}`;
    case 'MsgVoteResp':
      return `vote ${ok}${t}`;
    case 'MsgPreVote':
      return `pre-vote?${t}${m.known ? ` last #${i}` : ''}`;
    case 'MsgPreVoteResp':
      return `pre-vote ${ok}${t}`;
    case 'MsgSnap':
      return `snapshot${t}${m.snapshotIndex ? ` to #${m.snapshotIndex}` : ''}`;
    case 'MsgSnapResp':
      return `snap ✓${t}`;
    case 'MsgProp':
      // A follower forwards a client's write to the leader (no term: it is not a Raft RPC).
      return `propose${m.entries ? ` ${m.entries}` : ''}`;
    case 'MsgReadIndex':
      return `read-index?${t}`;
    case 'MsgReadIndexResp':
      return `read-index ✓${t}${m.index ? ` #${m.index}` : ''}`;
    case 'MsgTimeoutNow':
      return `timeout-now${t}`;
    default:
      return `${m.type.replace(/^Msg/, '')}${t}`;
  }
}

/** The radius members are drawn with: messages start and end at their edge, not under them. */
export const NODE_R = 34;

/**
 * Draws one message `f` (0…1) of the way from `p` to `q`, offset to its direction's side of the wire; a label
 * (if given) on the outer side, away from the other direction's traffic.
 */
export function drawMessage(
  g: Element,
  p: Point,
  q: Point,
  f: number,
  msg: { type: string; seq: number | string; label?: string },
): SVGElement {
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const along = NODE_R + Math.max(0, len - 2 * NODE_R) * Math.min(1, Math.max(0, f));
  const x = p.x + ux * along - uy * 8;
  const y = p.y + uy * along + ux * 8;
  const response = RESPONSES.has(msg.type);
  const dot = svg('g', {
    class: `msg msg-${MSG_CLASS[msg.type] ?? 'other'} ${response ? 'msg-response' : 'msg-request'}`,
    transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
    'data-msg': msg.type,
    'data-seq': msg.seq,
  });
  dot.append(
    response ? svg('rect', { x: -5, y: -5, width: 10, height: 10, rx: 1.5 }) : svg('circle', { r: 6 }),
  );
  if (msg.label !== undefined)
    dot.append(svg('text', { x: -uy * 10 + 9, y: ux * 10 + 4, class: 'msg-label' }, msg.label));
  g.append(dot);
  return dot;
}

/** A lost message: `✕` and its label, a third of the way along the wire, fading with `opacity`. */
export function drawDrop(g: Element, p: Point, q: Point, label: string, opacity: number): void {
  const x = p.x + (q.x - p.x) * 0.3;
  const y = p.y + (q.y - p.y) * 0.3;
  g.append(svg('text', { x, y, class: 'drop', opacity: opacity.toFixed(2) }, `✕ ${label}`));
}
