/// <reference lib="dom" />
// An attached live cluster in the page's main picture: one circle per member on the ring layout the replay uses
// (any number of members, any runtime), wires between them, and one card per member with what its own feed says
// (role, term, leader, commit, applied, revision). Circles and cards carry the same classes and data attributes as
// the in-page cluster's, so the legend and the styles read them alike. A member with no feed is drawn as what the
// others' member lists say of it: "unreachable" (greyed, retried with backoff) or "no client URL" (a tab).
// What a remote feed does not carry — messages in flight, election timers, the log's entries — is not drawn.

import { ringLayout } from './graph/layout.ts';
import { svg } from './graph/svg.ts';
import { $, el } from './ui.ts';

/** One member of an attached cluster, as the page knows it. */
export interface AttachedMember {
  readonly id: string;
  readonly name: string;
  readonly runtime: 'node' | 'durable-object' | 'tab';
  /** `streaming`: its own feed is live; else why there is none. */
  readonly reach: 'streaming' | 'unreachable' | 'no client URL';
  /** Its role as it reports it (leader, follower, candidate, preCandidate, learner); else learner or voter from the lists. */
  readonly role: string;
  /** Its own last report: current while streaming, the last one seen when unreachable. */
  readonly state?: {
    readonly term: number;
    readonly leader: string;
    readonly commit: number;
    readonly applied: number;
    readonly revision: number;
  };
  /** Unreachable: failed attempts so far, and the wait before the next one (ms). */
  readonly retry?: { readonly attempts: number; readonly waitMs: number };
}

/** The role a circle and a card show: the member's own word, or why it has none. */
function shownRole(m: AttachedMember): string {
  if (m.reach === 'unreachable') return 'unreachable';
  return m.role === 'preCandidate' ? 'candidate' : m.role;
}

/** Draws the attached cluster in #net and #members (replacing whatever they showed). */
export function drawAttached(list: readonly AttachedMember[], narrow: boolean): void {
  const members = [...list].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  // The ring layout takes numeric ids: members sit by their place in the sorted list.
  const layout = ringLayout(
    members.map((_, i) => i),
    narrow,
  );
  const net = $('#net');
  net.setAttribute('viewBox', `0 0 ${layout.w} ${layout.h}`);
  net.style.setProperty('--net-aspect', `${layout.w} / ${layout.h}`);
  const names = new Map(members.map((m) => [m.id, m.name || m.id]));

  const links = $('#links');
  links.replaceChildren();
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      const p = layout.pos.get(i)!;
      const q = layout.pos.get(j)!;
      const gone = members[i].reach === 'unreachable' || members[j].reach === 'unreachable';
      const link = svg('g', {
        class: `link link-ok${gone ? ' link-unknown' : ''}`,
        'data-link': `${members[i].id}-${members[j].id}`,
      });
      link.append(svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: 'wire' }));
      links.append(link);
    }
  }

  const nodes = $('#nodes');
  nodes.replaceChildren(
    ...members.map((m, i) => {
      const p = layout.pos.get(i)!;
      const role = shownRole(m);
      const s = m.reach === 'streaming' ? m.state : undefined;
      const node = svg('g', {
        'data-net-node': m.id,
        'data-node-id': m.id,
        'data-role': role,
        'data-runtime': m.runtime,
        class: `net-node attached role-${role === 'unreachable' ? 'down' : role}`,
        transform: `translate(${p.x},${p.y})`,
      });
      node.append(
        svg('circle', { r: 34, class: 'halo', fill: 'transparent' }),
        svg('circle', { r: 27, class: 'body' }),
        svg('text', { y: -7, class: 'node-name' }, short(m.name || m.id)),
        svg('text', { y: 5, class: 'node-role' }, role),
        svg(
          'text',
          { y: 16, class: 'node-term' },
          s ? `t${s.term} · ${runtimeLabel(m.runtime)}` : runtimeLabel(m.runtime),
        ),
      );
      return node;
    }),
  );
  $('#msgs').replaceChildren();

  $('#members').replaceChildren(...members.map((m) => card(m, names)));
}

function card(m: AttachedMember, names: ReadonlyMap<string, string>): HTMLElement {
  const role = shownRole(m);
  const s = m.state;
  const live = m.reach === 'streaming';
  const stats = !s
    ? m.reach === 'no client URL'
      ? `${m.role} · no client URL: listed by the others, its state is not streamed`
      : `${m.role} · unreachable, nothing seen yet`
    : live
      ? `commit ${s.commit} · applied ${s.applied} · rev ${s.revision} · ${s.leader === '0' ? 'no leader' : `leader ${names.get(s.leader) ?? s.leader}`}`
      : `last seen: term ${s.term}, commit ${s.commit}, applied ${s.applied}, rev ${s.revision}`;
  const retry = m.retry
    ? `retried with backoff: ${m.retry.attempts} failed attempt${m.retry.attempts === 1 ? '' : 's'}, next in ${(m.retry.waitMs / 1000).toFixed(1)} s`
    : '';
  const section = el(
    'section',
    {
      class: `member attached${m.reach === 'unreachable' ? ' unreachable' : ''}`,
      'data-node-id': m.id,
      'data-role': role,
      'data-runtime': m.runtime,
      'data-reach': m.reach,
      'data-name': m.name,
      title: `member ${m.id}`,
    },
    [
      el('header', {}, [
        el('b', { class: 'name' }, [m.name || m.id]),
        el('span', { class: 'role' }, [role]),
        el('span', { class: 'term' }, [s ? (live ? `term ${s.term}` : `last term ${s.term}`) : '']),
        el('span', { class: 'runtime muted' }, [runtimeLabel(m.runtime)]),
      ]),
      el('div', { class: 'stats' }, [stats]),
      ...(retry ? [el('div', { class: 'retry muted' }, [retry])] : []),
    ],
  );
  if (s) {
    Object.assign(section.dataset, {
      term: String(s.term),
      commit: String(s.commit),
      applied: String(s.applied),
      revision: String(s.revision),
    });
  }
  return section;
}

function runtimeLabel(r: AttachedMember['runtime']): string {
  return r === 'durable-object' ? 'Durable Object' : r === 'tab' ? 'browser tab' : 'Node';
}

/** A name that fits in a circle. */
function short(name: string): string {
  return name.length > 9 ? `${name.slice(0, 8)}…` : name;
}
