/// <reference lib="dom" />
// The live cluster's timeline: lines from the members' own events (reported at the change, not sampled), the
// page's faults and the client's requests, newest on top, stamped with the cluster's own (dilated, pausable)
// time.

import type { MemberEvent } from './protocol.ts';
import { $, el } from './ui.ts';

let elapsed: () => number = () => 0;

/** Where the timeline's time comes from: cluster time since the page started. */
export function timelineClock(since: () => number): void {
  elapsed = since;
}

export type TimelineKind = 'election' | 'commit' | 'log' | 'snapshot' | 'fault' | 'client' | 'info' | 'step';

/**
 * One line on the timeline, stamped with the cluster's own (dilated, pausable) time. `collapse`: a line with the
 * same key right on top is updated in place (its count grows) instead of adding another, so that stepping through
 * quiet time does not flood the list.
 */
export function log(
  kind: TimelineKind,
  text: string,
  collapse?: { key: string; text: (n: number) => string },
): void {
  const list = $('#timeline-list');
  const secs = (elapsed() / 1000).toFixed(1);
  const top = list.firstElementChild as HTMLElement | null;
  if (collapse && top?.dataset.collapse === collapse.key) {
    const n = Number(top.dataset.count ?? 1) + 1;
    top.dataset.count = String(n);
    top.replaceChildren(el('time', {}, [`${secs}s`]), collapse.text(n));
    return;
  }
  const attrs: Record<string, string> = { class: `ev-${kind}`, 'data-kind': kind };
  if (collapse) Object.assign(attrs, { 'data-collapse': collapse.key, 'data-count': '1' });
  list.prepend(el('li', attrs, [el('time', {}, [`${secs}s`]), collapse ? collapse.text(1) : text]));
  while (list.children.length > 300) list.lastElementChild?.remove();
}

/** The timeline from a member's own events (reported at the change, not sampled). */
export function logMemberEvent(id: number, e: MemberEvent): void {
  const n = `n${id}`;
  switch (e.type) {
    case 'role':
      if (e.to === 'leader') log('election', `${n} becomes leader for term ${e.term}`);
      else if (e.from === 'leader') log('election', `${n} steps down in term ${e.term} (now ${e.to})`);
      else if (e.to === 'candidate') log('election', `${n} campaigns: candidate for term ${e.term}`);
      else if (e.to === 'preCandidate')
        log('election', `${n} election timeout: pre-candidate (asks before term ${e.term + 1})`);
      else if (e.from === 'candidate' || e.from === 'preCandidate')
        log('election', `${n} gives up its campaign (now ${e.to}, term ${e.term})`);
      break;
    case 'term':
      if (e.role !== 'candidate' && e.role !== 'leader')
        log('election', `${n} moves to term ${e.to} (from ${e.from})`);
      break;
    case 'truncated':
      log(
        'log',
        `${n} drops uncommitted ${e.from === e.to ? `entry #${e.from}` : `entries #${e.from}…#${e.to}`} (term ${e.terms.join(', ')}): the leader's log wins`,
      );
      break;
    case 'snapshot-installed':
      log('snapshot', `${n} installed a snapshot up to #${e.index} from the leader`);
      break;
    case 'compacted':
      log('snapshot', `${n} took a snapshot: log before #${e.firstIndex} compacted`);
      break;
    case 'commit':
      log('commit', `${n} commits #${e.index}${e.label ? ` (${e.label})` : ''}`, {
        key: `commit-${id}`,
        text: (k) =>
          `${n} commits #${e.index}${e.label ? ` (${e.label})` : ''}${k > 1 ? ` · ${k} commits in a row` : ''}`,
      });
      break;
  }
}

/**
 * The timeline's filter (#timeline-filter): each toggle shows or hides one kind of line, those already there and
 * those yet to come (the list's `data-hide` names the hidden kinds; the stylesheet hides them). The live page and
 * the seed replay share it.
 */
export function startTimelineFilter(): void {
  const list = $('#timeline-list');
  const hidden = new Set<string>();
  for (const b of Array.from(
    document.querySelectorAll<HTMLButtonElement>('#timeline-filter [data-filter]'),
  )) {
    b.addEventListener('click', () => {
      const kind = b.dataset.filter!;
      if (hidden.has(kind)) hidden.delete(kind);
      else hidden.add(kind);
      b.setAttribute('aria-pressed', String(!hidden.has(kind)));
      list.dataset.hide = [...hidden].join(' ');
    });
  }
}
