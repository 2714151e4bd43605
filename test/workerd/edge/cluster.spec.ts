// A 3-member edgecd cluster in SQLite-backed Durable Objects (EdgecdMember, wrangler.toml's bindings), inside
// workerd: it elects a leader, replicates a write (read back from another member), survives one member being
// reset (its instance aborted, its storage kept) and keeps serving — and the Worker answers etcd's gateway,
// with auth (simple tokens, RBAC) working through it.

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
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = token ? { authorization: token } : {};
  const request = new Request(`http://edgecd.test${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers,
  });
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

  // Last: it turns auth on (and off again at the end).
  it('auth through the Worker: a token from one member is accepted by every member; RBAC applies', async () => {
    await leader();
    const ok = async (r: Promise<{ status: number; json: Record<string, unknown> }>) => {
      const res = await r;
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return res.json;
    };
    await ok(gateway(undefined, '/v3/auth/user/add', { name: 'root', password: 'rootpw' }));
    await ok(gateway(undefined, '/v3/auth/role/add', { name: 'root' }));
    await ok(gateway(undefined, '/v3/auth/user/grant', { user: 'root', role: 'root' }));
    await ok(gateway(undefined, '/v3/auth/enable', {}));
    const noToken = await gateway(undefined, '/v3/kv/range', { key: b64('via-worker') });
    expect(noToken.status).toBe(400);
    expect(noToken.json.error).toBe('etcdserver: user name is empty');
    const bad = await gateway(undefined, '/v3/auth/authenticate', { name: 'root', password: 'nope' });
    expect(bad.json.error).toBe('etcdserver: authentication failed, invalid user ID or password');
    const root = (await ok(gateway(undefined, '/v3/auth/authenticate', { name: 'root', password: 'rootpw' })))
      .token as string;
    expect(root).toMatch(/^[A-Za-z]{16}\.\d+$/);
    await ok(gateway(undefined, '/v3/auth/role/add', { name: 'app' }, root));
    await ok(
      gateway(
        undefined,
        '/v3/auth/role/grant',
        { name: 'app', perm: { permType: 'READWRITE', key: b64('/app/'), range_end: b64('/app0') } },
        root,
      ),
    );
    await ok(gateway(undefined, '/v3/auth/user/add', { name: 'alice', password: 'alicepw' }, root));
    await ok(gateway(undefined, '/v3/auth/user/grant', { user: 'alice', role: 'app' }, root));
    const alice = (
      await ok(gateway(undefined, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' }))
    ).token as string;
    // Simple tokens are assigned on every member when Authenticate applies: each member takes alice's token.
    for (const name of NAMES) {
      await ok(gateway(name, '/v3/kv/put', { key: b64(`/app/${name}`), value: b64('v') }, alice));
      const denied = await gateway(name, '/v3/kv/put', { key: b64('/etc/x'), value: b64('v') }, alice);
      expect(denied.status).toBe(403);
      expect(denied.json.error).toBe('etcdserver: permission denied');
    }
    const forged = await gateway(undefined, '/v3/kv/range', { key: b64('/app/') }, 'forged.1');
    expect(forged.status).toBe(401);
    await ok(gateway(undefined, '/v3/auth/disable', {}, root));
    await ok(gateway(undefined, '/v3/kv/range', { key: b64('via-worker') }));
  });
});
