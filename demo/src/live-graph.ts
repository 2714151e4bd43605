/// <reference lib="dom" />
// The live cluster's network picture: the links (click one to cut, slow, restore it), the member circles (role,
// term and vote, the election timer ring, the leader's heartbeat pulse; drag one onto another to group them, into
// empty space to isolate it; double-click, right-click or long-press one to force its election timeout), and the messages in flight at their place on the wire, labelled, with recent losses.
// It draws what the page shows: the present, or the frame the history scrubber rewound to.

import type { InPageHub } from '../../adapters/transport/in-page/index.ts';
import type { FaultModel } from '../../src/sim/fault-model.ts';
import { roleLabel, roleOf } from './card.ts';
import { drawDrop, drawMessage, msgLabel } from './graph/messages.ts';
import { type Point, svg } from './graph/svg.ts';
import type { LiveHistory, MemberSnapshot } from './history.ts';
import type { Member } from './main.ts';
import { facts, type MessageTap } from './message-tap.ts';
import { linkKey, SLOW_MS, type Topology } from './topology.ts';
import { $ } from './ui.ts';

/** Halo colours of the partition groups (0: the main group, no halo). */
export const GROUP_COLORS = ['transparent', '#f59e0b', '#a855f7'];

export interface LiveGraphDeps {
  readonly members: ReadonlyMap<number, Member>;
  /** A member as shown: live, or as it was in the frame being rewound to. */
  view(m: Member): MemberSnapshot;
  readonly topology: Topology;
  readonly faults: FaultModel;
  readonly hub: InPageHub;
  readonly tap: MessageTap;
  readonly history: LiveHistory;
  readonly tickMs: number;
  /** Double-click, right-click or long-press on a member: force its election timeout. */
  forceTimeout(m: Member): void;
}

export interface LiveGraph {
  /** Where each member sits (the layout for the screen's width). */
  setLayout(pos: Readonly<Record<number, Point>>): void;
  drawLinks(): void;
  drawNodes(): void;
  drawMessages(): void;
}

export function createLiveGraph(deps: LiveGraphDeps): LiveGraph {
  let pos: Readonly<Record<number, Point>> = {};

  function drawLinks(): void {
    const g = $('#links');
    g.replaceChildren();
    for (const [a, b] of [
      [1, 2],
      [1, 3],
      [2, 3],
    ] as const) {
      const state = deps.topology.linkState(a, b);
      const blocked = !deps.faults.canReach(BigInt(a), BigInt(b));
      const p = pos[a];
      const q = pos[b];
      const link = svg('g', {
        class: `link link-${state}${blocked ? ' blocked' : ''}`,
        'data-link': linkKey(a, b),
      });
      link.append(
        svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: 'wire' }),
        svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: 'hit' }),
        svg(
          'text',
          { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 6, class: 'link-label' },
          state === 'cut' ? '✂ cut' : state === 'slow' ? `+${SLOW_MS} ms` : blocked ? 'partitioned' : '',
        ),
      );
      link.addEventListener('click', () => deps.topology.cycleLink(a, b));
      g.append(link);
    }
  }

  /** Member circles are made once and updated each frame (so pointer events and tests see stable elements). */
  const netNodes = new Map<number, SVGElement>();
  function drawNodes(): void {
    const g = $('#nodes');
    for (const m of deps.members.values()) {
      let node = netNodes.get(m.id);
      if (!node) {
        node = svg('g', { 'data-net-node': m.id });
        node.append(
          svg('circle', { r: 34, class: 'halo' }),
          svg('circle', { r: 27, class: 'body' }),
          // The election timer: a ring that empties as the timeout nears (followers and candidates); the leader's
          // ring flashes as it sends heartbeats.
          svg('circle', { r: 30.5, class: 'timer', pathLength: 100, transform: 'rotate(-90)' }),
          svg('circle', { r: 30.5, class: 'pulse' }),
          svg('text', { y: -7, class: 'node-name' }, `n${m.id}`),
          svg('text', { y: 5, class: 'node-role' }),
          svg('text', { y: 16, class: 'node-term' }),
        );
        node.addEventListener('pointerdown', (e) => beginDrag(m, e as PointerEvent));
        const force = (e: Event) => {
          e.preventDefault();
          if (!deps.history.viewing) deps.forceTimeout(m);
        };
        // Double-click with a mouse; the context action (right-click, or a long press on a touch screen).
        node.addEventListener('dblclick', force);
        node.addEventListener('contextmenu', force);
        g.append(node);
        netNodes.set(m.id, node);
      }
      const p = dragging?.id === m.id ? dragging.at : pos[m.id];
      const v = deps.view(m);
      const role = roleOf(v);
      node.setAttribute('class', `net-node role-${role}`);
      node.setAttribute('transform', `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`);
      node.querySelector('.halo')!.setAttribute('fill', GROUP_COLORS[v.group] ?? '#64748b');
      const label = role === 'preCandidate' ? 'pre-cand.' : roleLabel(role);
      const roleText = node.querySelector('.node-role')!;
      if (roleText.textContent !== label) roleText.textContent = label;
      const s = v.state;
      const live = role !== 'down' && role !== 'starting';
      const termText = live && s ? `t${s.term}${s.vote ? ` · v n${s.vote}` : ''}` : '';
      const termEl = node.querySelector('.node-term')!;
      if (termEl.textContent !== termText) termEl.textContent = termText;
      // Election timer: ticks left before this member campaigns, counted down between reports on the cluster clock.
      const timer = node.querySelector('.timer')!;
      let left = 0;
      if (live && s?.timer && role !== 'leader') {
        const now = deps.history.viewing?.t ?? deps.hub.clock.now();
        const elapsedMs = s.timer.elapsed * deps.tickMs + (now - (v.reportedAt ?? now));
        left = Math.max(0, Math.min(1, 1 - elapsedMs / (s.timer.timeout * deps.tickMs)));
      }
      timer.setAttribute('stroke-dasharray', `${(left * 100).toFixed(1)} 100`);
      node.dataset.timerLeft = left.toFixed(2);
      const pulse = node.querySelector('.pulse')!;
      const age = performance.now() - (deps.tap.heartbeatAt.get(m.id) ?? -1e9);
      const pulsing = role === 'leader' && age < 350 && !deps.history.viewing;
      pulse.setAttribute('opacity', pulsing ? (1 - age / 350).toFixed(2) : '0');
    }
  }

  let dragging: { id: number; at: { x: number; y: number }; moved: boolean } | undefined;

  function svgPoint(e: PointerEvent): { x: number; y: number } {
    const s = $('#net') as unknown as SVGSVGElement;
    const m = s.getScreenCTM();
    if (!m) return { x: 0, y: 0 };
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }

  function beginDrag(m: Member, e: PointerEvent): void {
    e.preventDefault();
    dragging = { id: m.id, at: { ...pos[m.id] }, moved: false };
    const move = (ev: PointerEvent) => {
      if (!dragging) return;
      dragging.at = svgPoint(ev);
      dragging.moved = Math.hypot(dragging.at.x - pos[m.id].x, dragging.at.y - pos[m.id].y) > 25;
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      const d = dragging;
      dragging = undefined;
      if (!d?.moved) return;
      const target = [...deps.members.values()].find(
        (o) => o.id !== m.id && Math.hypot(pos[o.id].x - d.at.x, pos[o.id].y - d.at.y) < 80,
      );
      if (target) deps.topology.joinGroup(m, target.group);
      else if (!deps.topology.isAlone(m)) deps.topology.joinGroup(m, deps.topology.freeGroup());
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  /** Messages in flight with a label, at most (one per link direction): the rest are shapes only. */
  const LABELLED = 6;

  function drawMessages(): void {
    const g = $('#msgs');
    g.replaceChildren();
    const past = deps.history.viewing;
    const now = past?.t ?? deps.hub.clock.now();
    const inflight = past?.inflight ?? deps.hub.inFlight();
    const detail = past?.details ?? deps.tap.detail;
    let labelled = 0;
    const labelledLinks = new Set<string>();
    for (const w of inflight.slice(0, 40)) {
      if (deps.tap.droppedByHand.has(w.seq)) continue;
      const p = pos[Number(w.from)];
      const q = pos[Number(w.to)];
      if (!p || !q) continue;
      const f = (now - w.sentAt) / Math.max(1, w.dueAt - w.sentAt);
      // One label per direction of each link (the next message on it), so labels do not pile up.
      const link = `${w.from}>${w.to}`;
      const label = !labelledLinks.has(link) && labelled < LABELLED;
      if (label) {
        labelledLinks.add(link);
        labelled++;
      }
      drawMessage(g, p, q, f, {
        type: w.type,
        seq: w.seq,
        label: label ? msgLabel(facts(w, detail.get(w.seq))) : undefined,
      });
    }
    const t = performance.now();
    for (const d of deps.tap.drops) {
      const age = t - d.at;
      const p = pos[Number(d.w.from)];
      const q = pos[Number(d.w.to)];
      if (age <= 1200 && p && q) drawDrop(g, p, q, msgLabel(facts(d.w, d.m)), 1 - age / 1200);
    }
    $('#inflight').textContent = inflight.length
      ? `${inflight.length} in flight · next: ${msgLabel(facts(inflight[0], detail.get(inflight[0].seq)))} n${inflight[0].from}→n${inflight[0].to}`
      : 'nothing in flight';
  }

  return {
    setLayout: (p) => {
      pos = p;
    },
    drawLinks,
    drawNodes,
    drawMessages,
  };
}
