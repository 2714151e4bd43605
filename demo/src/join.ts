/// <reference lib="dom" />
// "Join a live cluster": this tab becomes a learner of a running edgecd cluster (`npx edgecd`, `npm run
// dev:mixed`). Given a member's client URL, the page adds itself with etcd's MemberAdd (learner, peer URL
// `browser:<tab id>`; the members must allow it: --experimental-browser-learners, on in the local cluster), then
// runs the member in a Web Worker (./learner.worker.ts). The member ID is kept in localStorage per cluster: a
// reload resumes from IndexedDB as the same member, as long as the cluster still lists it.
//
// With auth on, `?join=<url>&user=root&password=…` (or the fields beside the button) authenticates first.
//
// Test and automation hook: `window.edgecdLearner.request(path, body)` sends a request to this tab's replica
// (its JSON gateway) and resolves with { status, text }.

import { browserPeerUrl } from '../../adapters/transport/websocket/browser.ts';
import type { LearnerFromWorker, LearnerState, LearnerToWorker } from './learner-protocol.ts';
import { el } from './ui.ts';

interface Listed {
  ID: string;
  name?: string;
  peerURLs?: string[];
  isLearner?: boolean;
}

interface Saved {
  memberId: string;
  clusterId: string;
  name: string;
}

/** A client URL as people write it: `127.0.0.1:2379` (what the CLI prints) means http://127.0.0.1:2379. */
export function normalizeClientUrl(input: string): string {
  const trimmed = input.trim().replace(/\/+$/, '');
  return /^[a-z]+:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

async function call(
  base: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  // Without a token this stays a simple request (no CORS preflight); the gateway reads JSON regardless.
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: token ? { Authorization: token } : {},
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(String(json.error ?? json.message ?? `HTTP ${res.status}`));
  return json;
}

/** Member lists with IDs as exact strings (the gateway writes uint64 as strings already). */
async function memberList(base: string, token?: string): Promise<{ clusterId: string; members: Listed[] }> {
  const r = await call(base, '/v3/cluster/member/list', {}, token);
  return {
    clusterId: String((r.header as { cluster_id: string }).cluster_id),
    members: (r.members as Listed[] | undefined) ?? [],
  };
}

export interface JoinedTab {
  readonly memberId: string;
  readonly name: string;
  request(path: string, body: unknown): Promise<{ status: number; text: string }>;
  leave(): void;
}

/** Joins (or resumes) as a learner and shows the member's card in `container`. */
export async function joinCluster(
  url: string,
  container: HTMLElement,
  status: (text: string) => void,
  credentials?: { readonly user: string; readonly password: string },
): Promise<JoinedTab> {
  const base = normalizeClientUrl(url);
  // With auth on, adding a member needs root (etcd's rule for every member add): authenticate first.
  const token = credentials
    ? String(
        (
          await call(base, '/v3/auth/authenticate', {
            name: credentials.user,
            password: credentials.password,
          })
        ).token,
      )
    : undefined;
  status(`asking ${base} for the member list…`);
  const { clusterId, members } = await memberList(base, token);
  const storeKey = `edgecd-learner:${base}`;
  let saved = JSON.parse(localStorage.getItem(storeKey) ?? 'null') as Saved | null;
  if (saved && (saved.clusterId !== clusterId || !members.some((m) => m.ID === saved?.memberId)))
    saved = null;
  if (!saved) {
    const name = `tab-${crypto.randomUUID().slice(0, 8)}`;
    status(`adding ${name} as a learner…`);
    const added = await call(
      base,
      '/v3/cluster/member/add',
      { peerURLs: [`browser:${name}`], isLearner: true },
      token,
    );
    saved = { memberId: String((added.member as Listed).ID), clusterId, name };
    localStorage.setItem(storeKey, JSON.stringify(saved));
  }
  const self = saved;
  const peers = members
    .filter((m) => m.ID !== self.memberId && m.peerURLs?.[0] && browserPeerUrl(m.peerURLs[0]) !== undefined)
    .map((m) => ({ id: m.ID, url: m.peerURLs?.[0] ?? '' }));
  const worker = new Worker(new URL('./learner.worker.ts', import.meta.url), { type: 'module' });
  const hexId = BigInt(self.memberId).toString(16);
  const card = el('div', { class: 'member learner-card', 'data-node-id': hexId, 'data-role': 'learner' }, []);
  container.replaceChildren(card);
  const pending = new Map<number, (r: { status: number; text: string }) => void>();
  let nextReq = 1;
  let recovered = 0;
  const post = (m: LearnerToWorker) => worker.postMessage(m);
  worker.onmessage = (event: MessageEvent<LearnerFromWorker>) => {
    const m = event.data;
    if (m.kind === 'ready') {
      recovered = m.recovered;
      const snap = m.snapshot > 0 ? ` (a snapshot at ${m.snapshot})` : '';
      status(`${self.name} (${hexId}) runs; resumed from IndexedDB at index ${recovered}${snap}`);
    } else if (m.kind === 'state') render(card, m.state, self.name, hexId, recovered);
    else if (m.kind === 'http') {
      pending.get(m.reqId)?.({ status: m.status, text: m.text });
      pending.delete(m.reqId);
    } else if (m.kind === 'error') status(`learner failed: ${m.message}`);
  };
  post({
    kind: 'init',
    memberId: self.memberId,
    clusterId: self.clusterId,
    name: self.name,
    dbName: `edgecd-learner-${self.clusterId}-${self.memberId}`,
    peers,
    tickMs: 100,
    electionTimeoutMs: 1000,
    ...(token ? { token } : {}),
  });
  return {
    memberId: self.memberId,
    name: self.name,
    request(path, body) {
      const reqId = nextReq++;
      return new Promise((resolve) => {
        pending.set(reqId, resolve);
        post({ kind: 'http', reqId, path, body: JSON.stringify(body) });
      });
    },
    leave() {
      post({ kind: 'close' });
    },
  };
}

function render(card: HTMLElement, s: LearnerState, name: string, hexId: string, recovered: number): void {
  card.dataset.role = s.role;
  card.dataset.applied = String(s.applied);
  card.dataset.revision = String(s.revision);
  card.dataset.keyCount = String(s.keyCount);
  const leaderName = s.members.find((m) => m.id === s.leader)?.name ?? s.leader;
  card.replaceChildren(
    el('div', { class: 'member-head' }, [
      el('strong', {}, [name]),
      el('span', { class: 'role' }, [` ${s.role}`]),
      el('span', { class: 'muted' }, [
        ` · id ${hexId} · term ${s.term} · leader ${s.leader === '0' ? '—' : leaderName}`,
      ]),
    ]),
    el('div', { class: 'muted' }, [
      `applied ${s.applied} · commit ${s.commit} · revision ${s.revision} · ${s.members.length} members · ` +
        `started from index ${recovered} in IndexedDB`,
    ]),
    el(
      'ul',
      { class: 'keys' },
      s.keys.map((k) => el('li', { 'data-key': k.key }, [`${k.key} = ${k.value}`])),
    ),
  );
}
