/// <reference lib="dom" />
// Attach to a live edgecd cluster (Node processes): reads the gateway's NDJSON feed
// GET <url>/edgecd/v1/cluster-state from the given member, and from every other member whose http(s) client URL
// it lists, and shows each member's own view live (role, term, leader, commit, applied, revision).

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
  members: { ID: string; name: string; clientURLs: string[] }[];
}

export function startAttach(): void {
  const rows = new Map<string, { state: LiveState; url: string; at: number }>();
  const streams = new Map<string, AbortController>();
  const status = $('#attach-status');
  const attachBtn = $('#attach') as HTMLButtonElement;
  const detachBtn = $('#detach') as HTMLButtonElement;

  function render(): void {
    const names = new Map<string, string>();
    for (const r of rows.values()) for (const m of r.state.members) names.set(m.ID, m.name || m.ID);
    const body = $('#live tbody');
    body.replaceChildren(
      ...[...rows.values()]
        .sort((a, b) => a.state.name.localeCompare(b.state.name))
        .map(({ state: s, url }) =>
          el('tr', { 'data-live-id': s.id, 'data-live-role': s.role, class: `live-${s.role}` }, [
            el('td', { title: url }, [s.name || s.id]),
            el('td', {}, [s.role]),
            el('td', {}, [String(s.term)]),
            el('td', {}, [s.leader === '0' ? '—' : (names.get(s.leader) ?? s.leader)]),
            el('td', {}, [String(s.commit)]),
            el('td', {}, [String(s.applied)]),
            el('td', {}, [String(s.revision)]),
          ]),
        ),
    );
  }

  async function follow(url: string): Promise<void> {
    const base = url.replace(/\/+$/, '');
    if (streams.has(base)) return;
    const controller = new AbortController();
    streams.set(base, controller);
    try {
      const res = await fetch(`${base}/edgecd/v1/cluster-state`, { signal: controller.signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      status.textContent = `streaming from ${[...streams.keys()].join(', ')}`;
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
  }

  attachBtn.addEventListener('click', () => {
    const url = ($('#attach-url') as HTMLInputElement).value.trim();
    if (!url) return;
    status.textContent = `connecting to ${url}…`;
    attachBtn.disabled = true;
    detachBtn.disabled = false;
    void follow(url).finally(() => {
      if (streams.size === 0) {
        attachBtn.disabled = false;
        detachBtn.disabled = true;
      }
    });
  });
  detachBtn.addEventListener('click', () => {
    for (const c of streams.values()) c.abort();
    streams.clear();
    rows.clear();
    render();
    status.textContent = 'detached';
    attachBtn.disabled = false;
    detachBtn.disabled = true;
  });
}
