/// <reference lib="dom" />
// Draws a replay state in the page's main picture — the graph (members, links blocked by partitions and cuts,
// messages in flight at their place on the wire, losses), the member cards and the aligned log grid — with the
// same elements, classes and data attributes as the live cluster, so the legend and the tests read both alike.

import type { MemberView, TraceEvent } from '../../../src/sim/trace.ts';
import type { Layout } from '../graph/layout.ts';
import { type GridRow, renderLogGrid } from '../graph/log-grid.ts';
import { drawDrop, drawMessage, type MsgFacts, msgLabel } from '../graph/messages.ts';
import { svg } from '../graph/svg.ts';
import { $, el, termColor } from '../ui.ts';
import type { ReplayState, SendEvent } from './recording.ts';

/** Labels drawn at most (one per link direction); the other messages are shapes only. */
const LABELLED = 10;
/** A loss stays visible this long in virtual time (ms). */
const DROP_VISIBLE_MS = 12;

export function sendFacts(e: SendEvent): MsgFacts {
  return { ...e.msg, known: true };
}

export function drawLinks(layout: Layout, ids: readonly number[], state: ReplayState): void {
  const blocked = new Set(state.blocked.map(([a, b]) => `${a}>${b}`));
  const g = $('#links');
  g.replaceChildren();
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const [a, b] = [ids[i], ids[j]];
      const p = layout.pos.get(a)!;
      const q = layout.pos.get(b)!;
      const cut = blocked.has(`${a}>${b}`) || blocked.has(`${b}>${a}`);
      const both = blocked.has(`${a}>${b}`) && blocked.has(`${b}>${a}`);
      const link = svg('g', { class: `link link-ok${cut ? ' blocked' : ''}`, 'data-link': `${a}-${b}` });
      link.append(
        svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: 'wire' }),
        svg(
          'text',
          { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 6, class: 'link-label' },
          cut ? (both ? 'partitioned' : 'one-way cut') : '',
        ),
      );
      g.append(link);
    }
  }
}

export function drawNodes(layout: Layout, ids: readonly number[], state: ReplayState): void {
  const g = $('#nodes');
  g.replaceChildren();
  for (const id of ids) {
    const v = state.members.get(id);
    const p = layout.pos.get(id)!;
    const role = v?.role ?? 'down';
    const node = svg('g', {
      'data-net-node': id,
      'data-role': role,
      class: `net-node role-${role === 'learner' ? 'follower' : role}`,
      transform: `translate(${p.x},${p.y})`,
    });
    node.append(
      svg('circle', { r: 34, class: 'halo', fill: 'transparent' }),
      svg('circle', { r: 27, class: 'body' }),
      svg('text', { y: -7, class: 'node-name' }, `n${id}`),
      svg('text', { y: 5, class: 'node-role' }, v ? roleLabel(role) : 'not yet'),
      svg(
        'text',
        { y: 16, class: 'node-term' },
        v && live(v) ? `t${v.term}${v.vote ? ` · v n${v.vote}` : ''}` : '',
      ),
    );
    g.append(node);
  }
}

/** Messages at their place on the wire at virtual time `vt`, and the losses of the last few ms. */
export function drawMessages(layout: Layout, state: ReplayState, vt: number): void {
  const g = $('#msgs');
  g.replaceChildren();
  const labelled = new Set<string>();
  const flying = [...state.inflight.values()].sort((a, b) => a.due - b.due);
  for (const { send, due } of flying) {
    const p = layout.pos.get(send.msg.from);
    const q = layout.pos.get(send.msg.to);
    if (!p || !q) continue;
    const f = (vt - send.t) / Math.max(1, due - send.t);
    const link = `${send.msg.from}>${send.msg.to}`;
    const label = !labelled.has(link) && labelled.size < LABELLED;
    if (label) labelled.add(link);
    drawMessage(g, p, q, f, {
      type: send.msg.type,
      seq: send.id,
      label: label ? msgLabel(sendFacts(send)) : undefined,
    });
  }
  for (const d of state.drops) {
    const age = vt - d.t;
    const p = layout.pos.get(d.msg.from);
    const q = layout.pos.get(d.msg.to);
    if (age <= DROP_VISIBLE_MS && p && q)
      drawDrop(g, p, q, msgLabel(sendFacts(d)), 1 - age / (DROP_VISIBLE_MS + 4));
  }
}

export function renderCards(ids: readonly number[], state: ReplayState): void {
  const cards = ids.map((id) => {
    const v = state.members.get(id);
    const role = v?.role ?? 'down';
    const dataRole = role === 'preCandidate' ? 'candidate' : role === 'removed' ? 'down' : role;
    const card = el('section', { class: 'member', 'data-node-id': String(id), 'data-role': dataRole }, [
      el('header', {}, [
        el('b', { class: 'name' }, [`n${id}`]),
        el('span', { class: 'role' }, [v ? roleLabel(role) : 'not yet']),
        el('span', { class: 'term' }, [v ? (live(v) ? `term ${v.term}` : `last term ${v.term}`) : '']),
        el('span', { class: 'vote' }, [v && live(v) ? (v.vote ? `voted n${v.vote}` : 'no vote') : '']),
      ]),
      el('div', { class: 'stats' }, [v ? stats(v) : 'joins later in the run (a membership change)']),
      el('div', { class: 'log', 'aria-label': `log of n${id}` }, v ? logBoxes(v) : []),
    ]);
    if (v) {
      Object.assign(card.dataset, {
        term: String(v.term),
        commit: String(v.commit),
        applied: String(v.applied),
        lastIndex: String(v.lastIndex),
      });
    }
    return card;
  });
  $('#members').replaceChildren(...cards);
}

export function renderGrid(ids: readonly number[], state: ReplayState): void {
  const leader = ids.map((id) => state.members.get(id)).find((v) => v?.role === 'leader');
  const progress = new Map((leader?.progress ?? []).map(([id, match, next]) => [id, { match, next }]));
  const rows: GridRow[] = ids.map((id) => {
    const v = state.members.get(id);
    return {
      id,
      stale: !v || !live(v),
      progress: v && v !== leader ? progress.get(id) : undefined,
      log: v && {
        firstIndex: v.firstIndex,
        lastIndex: v.lastIndex,
        commit: v.commit,
        applied: v.applied,
        stable: v.lastIndex,
        term: (i) => termAt(v, i),
        label: () => '',
      },
    };
  });
  renderLogGrid($('#log-grid'), rows, leader?.commit ?? 0);
}

/** One line for an event of the run, as the timeline and the "now" line show it. */
export function describeEvent(e: TraceEvent | undefined): string {
  if (!e) return 'start: every member boots';
  switch (e.kind) {
    case 'note':
      return e.text;
    case 'send': {
      const m = e.msg;
      const fate =
        e.due.length === 0
          ? e.blocked
            ? ' — blocked by the partition'
            : ' — lost'
          : e.due.length > 1
            ? ` — duplicated, arrives at t=${e.due.join(' and t=')}`
            : ` — arrives at t=${e.due[0]}`;
      return `n${m.from} → n${m.to} ${msgLabel(sendFacts(e))}${fate}`;
    }
    case 'deliver':
      return `n${e.to} ${e.stepped ? 'receives' : 'is down: drops'} message #${e.id}`;
    case 'client':
      return e.phase === 'invoke'
        ? `client ${e.client} → n${e.node}: ${e.op}`
        : `client ${e.client} ← n${e.node}: ${e.op} ${e.phase === 'ok' ? `ok ${e.detail}` : `${e.phase} (${e.detail})`}`;
    default:
      return '';
  }
}

function termAt(v: MemberView, i: number): number | undefined {
  const first = v.lastIndex - v.terms.length + 1;
  const t = i >= first && i <= v.lastIndex ? v.terms[i - first] : undefined;
  return t ? t : undefined;
}

function live(v: MemberView): boolean {
  return v.role !== 'down' && v.role !== 'removed';
}

function roleLabel(role: MemberView['role']): string {
  return role === 'preCandidate' ? 'pre-cand.' : role;
}

function stats(v: MemberView): string {
  const marks = `log ${v.firstIndex}…${v.lastIndex} · commit ${v.commit} · applied ${v.applied}`;
  return live(v)
    ? `${marks}${v.lead ? ` · leader n${v.lead}` : ' · no leader'}`
    : `${v.role} · last seen: ${marks}`;
}

function logBoxes(v: MemberView): HTMLElement[] {
  const first = v.lastIndex - v.terms.length + 1;
  const boxes: HTMLElement[] = [];
  v.terms.forEach((term, k) => {
    const i = first + k;
    if (!term) return;
    const cls = `entry${i <= v.commit ? ' committed' : ''}${i <= v.applied ? ' applied' : ''}${i === v.commit ? ' commit-mark' : ''}${i === v.applied ? ' applied-mark' : ''}`;
    boxes.push(
      el(
        'span',
        {
          class: cls,
          style: `--term:${termColor(term)}`,
          title: `#${i} term ${term}`,
          'data-index': String(i),
        },
        [el('i', {}, [String(i)]), el('em', {}, [`t${term}`])],
      ),
    );
  });
  return boxes;
}
