/// <reference lib="dom" />
// Attach to a live edgecd cluster: reads the gateway's NDJSON feed GET <url>/edgecd/v1/cluster-state from the
// given member, and from every other member whose http(s) client URL it lists (Node members, and Durable Object
// members through their Worker's /edgecd/member/<name>), and shows each member's own view live (role, term,
// leader, commit, applied, revision). Members with no feed (browser tabs, members that are down) are listed from
// the others' member lists, marked with their runtime and "no client URL" or "unreachable"; a lost feed is
// retried with backoff. `127.0.0.1:2379` (what the CLI prints) means http://127.0.0.1:2379.
// While attached, the page's main graph and cards show these members (`onView`); the table is the compact list.

import type { AttachedMember } from './attach-view.ts';
import { normalizeClientUrl } from './join.ts';
import { $, el } from './ui.ts';

interface LiveState {
  id: string;
  name: string;
  role: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  revision: number;
  members: { ID: string; name: string; clientURLs: string[]; peerURLs?: string[]; isLearner?: boolean }[];
}

/** Which runtime a member runs on, from its peer URL. */
export function runtimeOf(peerURL: string | undefined): 'node' | 'durable-object' | 'tab' {
  if (!peerURL) return 'node';
  if (peerURL.startsWith('browser:')) return 'tab';
  if (/[?&]member=/.test(peerURL) || /\/edgecd\/peer\/./.test(peerURL)) return 'durable-object';
  return 'node';
}

export interface AttachHooks {
  /** The attached cluster's members after each change (empty while connecting); undefined once detached. */
  onView(members: readonly AttachedMember[] | undefined): void;
}

export function startAttach(hooks: AttachHooks): void {
  const rows = new Map<string, { state: LiveState; url: string; at: number }>();
  /** Each member's last report, kept when its feed is lost (its card then says what it last held). */
  const lastSeen = new Map<string, LiveState>();
  /** When each client URL will be tried again. */
  const retryAt = new Map<string, number>();
  const streams = new Map<string, AbortController>();
  const status = $('#attach-status');
  const attachBtn = $('#attach') as HTMLButtonElement;
  const detachBtn = $('#detach') as HTMLButtonElement;
  const failures = new Map<string, number>();
  let attached = false;

  function render(): void {
    const listed = new Map<string, LiveState['members'][number]>();
    for (const r of rows.values()) for (const m of r.state.members) listed.set(m.ID, m);
    const name = (id: string) => listed.get(id)?.name || id;
    const live = [...rows.values()].map(({ state: s, url }) => {
      const runtime = runtimeOf(listed.get(s.id)?.peerURLs?.[0]);
      return el(
        'tr',
        { 'data-live-id': s.id, 'data-live-role': s.role, 'data-runtime': runtime, class: `live-${s.role}` },
        [
          el('td', { title: url }, [s.name || s.id]),
          el('td', {}, [runtime]),
          el('td', {}, [s.role]),
          el('td', {}, [String(s.term)]),
          el('td', {}, [s.leader === '0' ? '—' : name(s.leader)]),
          el('td', {}, [String(s.commit)]),
          el('td', {}, [String(s.applied)]),
          el('td', {}, [String(s.revision)]),
        ],
      );
    });
    const silent = [...listed.values()]
      .filter((m) => !rows.has(m.ID))
      .map((m) => {
        const runtime = runtimeOf(m.peerURLs?.[0]);
        const why = m.clientURLs.some((u) => /^https?:/.test(u)) ? 'unreachable' : 'no client URL';
        const role = m.isLearner ? 'learner' : 'voter';
        return el(
          'tr',
          { 'data-live-id': m.ID, 'data-live-role': why, 'data-runtime': runtime, class: 'live-unreachable' },
          [
            el('td', { title: m.peerURLs?.[0] ?? '' }, [m.name || m.ID]),
            el('td', {}, [runtime]),
            el('td', { colspan: '6' }, [`${role} · ${why}`]),
          ],
        );
      });
    $('#live tbody').replaceChildren(...live.sort(byName), ...silent);
    if (!attached) return;
    const view: AttachedMember[] = [...rows.values()].map(({ state: s }) => ({
      id: s.id,
      name: s.name || listed.get(s.id)?.name || s.id,
      runtime: runtimeOf(listed.get(s.id)?.peerURLs?.[0]),
      reach: 'streaming',
      role: s.role,
      state: s,
    }));
    for (const m of listed.values()) {
      if (rows.has(m.ID)) continue;
      const url = m.clientURLs.find((u) => /^https?:/.test(u));
      const base = url && normalizeClientUrl(url);
      const attempts = (base && failures.get(base)) || 0;
      view.push({
        id: m.ID,
        name: m.name || m.ID,
        runtime: runtimeOf(m.peerURLs?.[0]),
        reach: url ? 'unreachable' : 'no client URL',
        role: m.isLearner ? 'learner' : 'voter',
        state: lastSeen.get(m.ID),
        retry:
          base && attempts > 0
            ? { attempts, waitMs: Math.max(0, (retryAt.get(base) ?? Date.now()) - Date.now()) }
            : undefined,
      });
    }
    hooks.onView(view);
  }

  const byName = (a: HTMLElement, b: HTMLElement) =>
    (a.firstChild?.textContent ?? '').localeCompare(b.firstChild?.textContent ?? '');

  /** Members waiting out their backoff: discovering them again in another member's list must not retry early. */
  const backingOff = new Set<string>();

  async function follow(url: string): Promise<void> {
    const base = normalizeClientUrl(url);
    if (streams.has(base) || backingOff.has(base)) return;
    const controller = new AbortController();
    streams.set(base, controller);
    try {
      const res = await fetch(`${base}/edgecd/v1/cluster-state`, { signal: controller.signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      status.textContent = `streaming from ${[...streams.keys()].join(', ')}`;
      failures.delete(base);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          if (!line) continue;
          const s = JSON.parse(line) as LiveState;
          rows.set(s.id, { state: s, url: base, at: Date.now() });
          lastSeen.set(s.id, s);
          for (const m of s.members) {
            for (const u of m.clientURLs) if (/^https?:/.test(u) && !rows.has(m.ID)) void follow(u);
          }
          render();
        }
      }
      status.textContent = `${base}: stream ended`;
    } catch (err) {
      if (!controller.signal.aborted) status.textContent = `${base}: ${(err as Error).message}`;
    } finally {
      streams.delete(base);
      for (const [id, r] of rows) if (r.url === base) rows.delete(id);
      render();
    }
    // Still attached: try this member again, waiting longer after each failure (at most 10 s).
    if (!controller.signal.aborted && attached) {
      const wait = Math.min(10_000, 500 * 2 ** (failures.get(base) ?? 0));
      failures.set(base, (failures.get(base) ?? 0) + 1);
      backingOff.add(base);
      retryAt.set(base, Date.now() + wait);
      render();
      setTimeout(() => {
        backingOff.delete(base);
        if (attached) void follow(base);
      }, wait);
    }
  }

  attachBtn.addEventListener('click', () => {
    const url = ($('#attach-url') as HTMLInputElement).value.trim();
    if (!url) return;
    status.textContent = `connecting to ${url}…`;
    attachBtn.disabled = true;
    detachBtn.disabled = false;
    attached = true;
    hooks.onView([]);
    void follow(url);
  });
  detachBtn.addEventListener('click', () => {
    attached = false;
    backingOff.clear();
    failures.clear();
    retryAt.clear();
    lastSeen.clear();
    for (const c of streams.values()) c.abort();
    streams.clear();
    rows.clear();
    render();
    hooks.onView(undefined);
    status.textContent = 'detached';
    attachBtn.disabled = false;
    detachBtn.disabled = true;
  });
}
