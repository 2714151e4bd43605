/// <reference lib="dom" />
// A live member's card: role, term and vote, its log as coloured boxes (commit and applied marks, what is not yet
// durable), its keyspace and leases as the member itself reports them, and its Kill / Isolate / Time out buttons. A
// member that is down shows what it last held, never a leader it no longer knows.

import type { MemberState } from './protocol.ts';
import { el, termColor } from './ui.ts';

export type ShownRole = MemberState['role'] | 'starting' | 'down';

/** What a card shows of a member. */
export interface CardMember {
  readonly id: number;
  readonly up: boolean;
  readonly starting: boolean;
  readonly state?: MemberState;
  readonly recoveredLastIndex?: number;
  readonly group: number;
  readonly card: HTMLElement;
}

export function buildCard(
  id: number,
  actions: { kill(): void; isolate(): void; timeout(): void },
): HTMLElement {
  const card = el('section', { class: 'member', 'data-node-id': String(id), 'data-role': 'down' }, [
    el('header', {}, [
      el('b', { class: 'name' }, [`n${id}`]),
      el('span', { class: 'role' }, ['starting']),
      el('span', { class: 'term' }),
      el('span', { class: 'vote' }),
    ]),
    el('div', { class: 'stats' }),
    el('div', { class: 'log', 'aria-label': `log of n${id}` }),
    el('h3', {}, ['Keyspace']),
    el('ul', { class: 'keyspace' }),
    el('h3', {}, ['Leases']),
    el('ul', { class: 'leases' }),
    el('footer', {}, [
      el('button', { class: 'kill', title: 'Terminate the worker (a crash)' }, ['Kill']),
      el('button', { class: 'isolate', title: 'Cut it off from the others' }, ['Isolate']),
      el(
        'button',
        {
          class: 'timeout',
          title:
            'Force its election timeout: its timer runs out now and it campaigns as on a real timeout (pre-vote first). ' +
            `Also key ${id}, or double-click (right-click, long-press) its circle`,
        },
        ['Time out ', el('kbd', {}, [String(id)])],
      ),
      el('span', { class: 'recovered muted' }),
    ]),
  ]);
  card.querySelector('.kill')!.addEventListener('click', actions.kill);
  card.querySelector('.isolate')!.addEventListener('click', actions.isolate);
  card.querySelector('.timeout')!.addEventListener('click', actions.timeout);
  return card;
}

/** What a member is, as the card and its circle both show it (one source, so they never disagree). */
export function roleOf(m: CardMember): ShownRole {
  if (m.up && m.state) return m.state.role;
  return m.starting || m.up ? 'starting' : 'down';
}

export function roleLabel(role: ShownRole): string {
  return role === 'preCandidate' ? 'pre-candidate' : role;
}

export function renderCard(m: CardMember, role: ShownRole, alone: boolean, groupColor: string): void {
  const card = m.card;
  const s = m.state;
  const dataRole = role === 'preCandidate' ? 'candidate' : role === 'starting' ? 'down' : role;
  card.dataset.role = dataRole;
  card.dataset.up = String(m.up);
  card.querySelector('.role')!.textContent = roleLabel(role);
  card.querySelector('.kill')!.textContent = m.up || m.starting ? 'Kill' : 'Restart';
  card.querySelector('.isolate')!.textContent = alone ? 'Rejoin' : 'Isolate';
  // A leader has no election timer (it checks quorum instead), a learner never campaigns, a down member has no clock.
  (card.querySelector('.timeout') as HTMLButtonElement).disabled =
    !m.up || role === 'leader' || role === 'learner' || role === 'starting' || role === 'down';
  card.style.setProperty('--group', groupColor);
  card.dataset.group = String(m.group);
  if (m.recoveredLastIndex !== undefined) {
    card.dataset.recoveredLastIndex = String(m.recoveredLastIndex);
    // Say what IndexedDB held at start only until this run has written to it; then say what it holds now.
    card.querySelector('.recovered')!.textContent =
      m.recoveredLastIndex > 0
        ? `recovered ${m.recoveredLastIndex} entries from IndexedDB`
        : s && s.stable > 0
          ? `IndexedDB: log to #${s.stable}`
          : 'fresh IndexedDB';
  }
  if (!s) return;
  card.dataset.term = String(s.term);
  card.dataset.commit = String(s.commit);
  card.dataset.applied = String(s.applied);
  card.dataset.lastIndex = String(s.lastIndex);
  card.dataset.stable = String(s.stable);
  card.dataset.revision = String(s.revision);
  const live = role !== 'down' && role !== 'starting';
  card.querySelector('.term')!.textContent = live ? `term ${s.term}` : `last term ${s.term}`;
  card.querySelector('.vote')!.textContent = !live ? '' : s.vote ? `voted n${s.vote}` : 'no vote';
  // A member that is down has no view of the cluster: show what it last held, never a leader it no longer knows.
  card.querySelector('.stats')!.textContent = live
    ? `log ${s.firstIndex}…${s.lastIndex} · commit ${s.commit} · applied ${s.applied} · rev ${s.revision}` +
      (s.leader ? ` · leader n${s.leader}` : ' · no leader')
    : `${role === 'down' ? 'worker terminated' : 'starting'} · last seen: log ${s.firstIndex}…${s.lastIndex}, commit ${s.commit}`;

  const logEl = card.querySelector('.log')!;
  logEl.replaceChildren(
    ...s.log.map((e) =>
      el(
        'span',
        {
          class: `entry${e.index <= s.commit ? ' committed' : ''}${e.index <= s.applied ? ' applied' : ''}${e.index > s.stable ? ' unstable' : ''}`,
          style: `--term:${termColor(e.term)}`,
          title: `#${e.index} term ${e.term}: ${e.label}${e.index === s.commit ? ' (commit)' : ''}${e.index === s.applied ? ' (applied)' : ''}`,
          'data-index': String(e.index),
        },
        [el('i', {}, [String(e.index)]), el('em', {}, [e.label])],
      ),
    ),
  );
  const commitBox = logEl.querySelector(`[data-index="${s.commit}"]`);
  commitBox?.classList.add('commit-mark');
  const appliedBox = logEl.querySelector(`[data-index="${s.applied}"]`);
  appliedBox?.classList.add('applied-mark');
  logEl.scrollLeft = logEl.scrollWidth;

  const keys = card.querySelector('.keyspace')!;
  keys.replaceChildren(
    ...(s.keys.length === 0
      ? [el('li', { class: 'muted' }, ['(empty)'])]
      : s.keys.map((k) =>
          el('li', { 'data-key': k.key }, [
            el('code', {}, [k.key]),
            '=',
            el('span', { class: 'value' }, [k.value]),
            el('small', {}, [` v${k.version} @${k.modRevision}${k.lease ? ` lease ${k.lease}` : ''}`]),
          ]),
        )),
    ...(s.keyCount > s.keys.length
      ? [el('li', { class: 'muted' }, [`… ${s.keyCount - s.keys.length} more`])]
      : []),
  );
  const leases = card.querySelector('.leases')!;
  leases.replaceChildren(
    ...(s.leases.length === 0
      ? [el('li', { class: 'muted' }, ['(none)'])]
      : s.leases.map((l) =>
          el('li', { 'data-lease': l.id }, [
            el('code', {}, [l.id]),
            // Only the leader's lessor counts down (etcd's primary lessor); a follower's figure would jump.
            ` TTL ${l.ttl}s · ${
              s.role !== 'leader'
                ? 'expiry kept by the leader'
                : l.remaining >= 0
                  ? `${l.remaining}s left`
                  : 'expired'
            } · ${l.keys} keys`,
          ]),
        )),
  );
}
