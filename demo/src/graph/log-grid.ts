/// <reference lib="dom" />
// The aligned log grid: one row per member, one column per log index (the last GRID_COLUMNS), so the members'
// logs line up — where they agree, where a follower lags, where an uncommitted tail differs. The commit line is
// the leader's commit index; on the follower rows the leader's view of them shows as `m` (match index) and `n`
// (next index to send); a white corner marks an index where the member dropped an uncommitted entry. Used by the live
// cluster and the seed replay.

import { el, termColor } from '../ui.ts';

export const GRID_COLUMNS = 24;

export interface GridRow {
  readonly id: number;
  /** Absent: nothing known of this member yet (an empty row). */
  readonly log?: {
    readonly firstIndex: number;
    readonly lastIndex: number;
    readonly commit: number;
    readonly applied: number;
    /** Entries after this are not yet durable. */
    readonly stable: number;
    /** The entry's term (undefined: not held), and a short label for its title. */
    term(index: number): number | undefined;
    label(index: number): string;
  };
  /** Down: what it last held, drawn faded. */
  readonly stale: boolean;
  /** The leader's match and next index for this member. */
  readonly progress?: { readonly match: number; readonly next: number };
  /**
   * The terms of uncommitted entries this member held at `index` and dropped (truncated: Raft §5.3, the leader's
   * log wins); undefined where nothing was dropped.
   */
  replaced?(index: number): readonly number[] | undefined;
}

export function renderLogGrid(grid: HTMLElement, rows: readonly GridRow[], commit: number): void {
  const known = rows.filter((r) => r.log);
  if (known.length === 0) {
    grid.replaceChildren();
    return;
  }
  const hi = Math.max(...known.map((r) => r.log!.lastIndex));
  const lo = Math.max(1, hi - GRID_COLUMNS + 1);
  grid.dataset.commit = String(commit);
  grid.style.setProperty('--cols', String(hi - lo + 1));
  const indexes = Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);
  const edge = (i: number) => (i === commit ? ' commit-edge' : '');
  const head = el('div', { class: 'grid-row grid-head' }, [
    el('span', { class: 'grid-name' }, ['index']),
    ...indexes.map((i) => el('span', { class: `grid-idx${edge(i)}`, 'data-index': String(i) }, [String(i)])),
  ]);
  const body = rows.map((r) => {
    const s = r.log;
    const p = r.progress;
    const cells = indexes.map((i) => {
      let cls = 'cell';
      let title = `#${i}`;
      let style = '';
      const term = s && i >= s.firstIndex && i <= s.lastIndex ? s.term(i) : undefined;
      if (!s || i > s.lastIndex) cls += ' none';
      else if (i < s.firstIndex) {
        cls += ' compacted';
        title += ': in the snapshot (log compacted)';
      } else if (term !== undefined) {
        style = `--term:${termColor(term)}`;
        cls += `${i <= s.commit ? ' committed' : ''}${i <= s.applied ? ' applied' : ''}${i > s.stable ? ' unstable' : ''}`;
        title += ` term ${term}${s.label(i) ? `: ${s.label(i)}` : ''}`;
      } else cls += ' none';
      if (r.stale) cls += ' stale';
      const dropped = r.replaced?.(i);
      const attrs: Record<string, string> = { 'data-index': String(i) };
      if (dropped) {
        cls += ' replaced';
        title += ` — replaced an uncommitted entry of term ${dropped.join('/')} (truncated: the leader's log won)`;
        attrs['data-replaced-terms'] = dropped.join(' ');
      }
      const mark = p && i === p.match ? 'm' : p && i === p.next ? 'n' : '';
      return el('span', { class: cls + edge(i), style, title, ...attrs }, mark ? [el('b', {}, [mark])] : []);
    });
    if (p && p.next > hi) cells.push(el('span', { class: 'cell none next-out' }, [el('b', {}, ['n'])]));
    return el('div', { class: 'grid-row', 'data-grid-node': String(r.id) }, [
      el('span', { class: 'grid-name' }, [`n${r.id}`]),
      ...cells,
    ]);
  });
  grid.replaceChildren(head, ...body);
}
