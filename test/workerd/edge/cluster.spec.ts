// A 3-member edgecd cluster in SQLite-backed Durable Objects (EdgecdMember, wrangler.toml's bindings), inside
// workerd: it elects a leader, replicates a write (read back from another member), survives one member being
// reset (its instance aborted, its storage kept) and keeps serving — and the Worker answers etcd's gateway.

import { runInDurableObject, SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EdgecdEnv, MemberStatus } from '../../../adapters/runtime/cloudflare/member.ts';

const edgeEnv = env as unknown as EdgecdEnv;
const NAMES = ['member-1', 'member-2', 'member-3'];
const b64 = (s: string) => btoa(s);

function stub(name: string) {
  return edgeEnv.EDGECD_MEMBER.get(edgeEnv.EDGECD_MEMBER.idFromName(name));
}

async function statuses(): Promise<MemberStatus[]> {
  return Promise.all(NAMES.map((n) => stub(n).memberStatus()));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The leader's name once all three members agree on one. */
async function leader(): Promise<string> {
  return waitFor('a leader all members agree on', async () => {
    const s = await statuses();
    const leaders = s.filter((m) => m.role === 'leader');
    if (leaders.length !== 1) return undefined;
    if (!s.every((m) => m.leader === leaders[0].id)) return undefined;
    return leaders[0].name;
  });
}

async function gateway(
  name: string | undefined,
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const request = new Request(`http://edgecd.test${path}`, { method: 'POST', body: JSON.stringify(body) });
  const res = name === undefined ? await SELF.fetch(request) : await stub(name).fetch(request);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function values(r: { json: Record<string, unknown> }): string[] {
  return ((r.json.kvs as { value: string }[] | undefined) ?? []).map((kv) => atob(kv.value));
}

describe('edgecd in Durable Objects (workerd)', () => {
  it('elects one leader among three members', async () => {
    const name = await leader();
    expect(NAMES).toContain(name);
    const s = await statuses();
    expect(new Set(s.map((m) => m.id)).size).toBe(3);
    expect(new Set(s.map((m) => m.term)).size).toBe(1);
  });

  it('replicates a put: written through one member, read back from another', async () => {
    const lead = await leader();
    const follower = NAMES.find((n) => n !== lead)!;
    const other = NAMES.find((n) => n !== lead && n !== follower)!;
    // Written through a follower (forwarded to the leader through Raft)…
    const put = await gateway(follower, '/v3/kv/put', { key: b64('replicated'), value: b64('v1') });
    expect(put.status).toBe(200);
    // …read linearizably from the other follower and from the leader.
    for (const name of [other, lead]) {
      const r = await gateway(name, '/v3/kv/range', { key: b64('replicated') });
      expect(r.status).toBe(200);
      expect(values(r)).toEqual(['v1']);
    }
    // A serializable read on the other follower sees it once applied there (replication, not forwarding).
    await waitFor('the write applied on every member', async () => {
      const s = await statuses();
      return s.every((m) => m.revision >= Number((put.json.header as { revision: string }).revision))
        ? true
        : undefined;
    });
    const local = await gateway(other, '/v3/kv/range', { key: b64('replicated'), serializable: true });
    expect(values(local)).toEqual(['v1']);
  });

  it('survives the leader being reset (instance aborted, storage kept) and keeps serving', async () => {
    const lead = await leader();
    const before = await stub(lead).memberStatus();
    await expect(
      runInDurableObject(stub(lead) as never, (_instance: unknown, state: { abort(reason?: string): void }) =>
        state.abort('test: reset the leader'),
      ),
    ).rejects.toThrow();
    // Writes through the Worker keep working (the next leader is elected within an election timeout or two).
    for (let i = 0; i < 5; i++) {
      const r = await waitFor('a write after the reset', async () => {
        const res = await gateway(undefined, '/v3/kv/put', { key: b64('after-reset'), value: b64(`w${i}`) });
        return res.status === 200 ? res : undefined;
      });
      expect(r.status).toBe(200);
    }
    // The reset member is a new instance that recovered its log from storage and caught up.
    const after = await waitFor('the reset member back and caught up', async () => {
      const s = await stub(lead).memberStatus();
      return s.instance !== before.instance && s.applied >= before.applied ? s : undefined;
    });
    expect(after.term).toBeGreaterThanOrEqual(before.term);
    const r = await gateway(lead, '/v3/kv/range', { key: b64('replicated') });
    expect(values(r)).toEqual(['v1']);
    const latest = await gateway(lead, '/v3/kv/range', { key: b64('after-reset') });
    expect(values(latest)).toEqual(['w4']);
    await leader();
  });

  it('the Worker serves the gateway: /v3/kv/put, /v3/kv/range, /health, /version', async () => {
    const put = await gateway(undefined, '/v3/kv/put', { key: b64('via-worker'), value: b64('hello') });
    expect(put.status).toBe(200);
    expect((put.json.header as Record<string, string>).revision).toMatch(/^\d+$/);
    for (let i = 0; i < 6; i++) {
      const r = await gateway(undefined, '/v3/kv/range', { key: b64('via-worker') });
      expect(r.status).toBe(200);
      expect(values(r)).toEqual(['hello']);
      expect(r.json.count).toBe('1');
    }
    const health = await SELF.fetch('http://edgecd.test/health');
    expect(await health.json()).toEqual({ health: 'true' });
    const version = (await (await SELF.fetch('http://edgecd.test/version')).json()) as Record<string, string>;
    expect(version.etcdserver).toBe('3.4.23');
    const missing = await SELF.fetch('http://edgecd.test/nope');
    expect(missing.status).toBe(404);
  });

  it('keeps timers going through the alarm', async () => {
    const s = await statuses();
    expect(s.every((m) => m.alarms.set > 0)).toBe(true);
  });
});
