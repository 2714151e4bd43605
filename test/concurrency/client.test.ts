// The portable client library (src/client/): Session, Mutex with fencing tokens, Election.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Election, Mutex, Session, withFencing } from '../../src/client/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { clock, dec, enc, settledWithin, sleep, startCluster, until } from './cluster.ts';

let nodes: EdgeNode[];
beforeAll(async () => {
  nodes = await startCluster();
}, 30_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

describe('Session', () => {
  it('keeps its lease alive past the TTL, and close() revokes it', async () => {
    const s = await Session.create(nodes[1], { clock, ttl: 1 });
    await sleep(2500);
    expect(s.live).toBe(true);
    expect((await nodes[0].leaseTimeToLive({ ID: s.lease })).TTL).toBeGreaterThanOrEqual(0); // -1 = gone
    await s.close();
    expect((await nodes[0].leaseTimeToLive({ ID: s.lease })).TTL).toBe(-1);
  }, 10_000);

  it('notices a revoked lease and reports expiry', async () => {
    const s = await Session.create(nodes[0], { clock, ttl: 1 });
    let fired = false;
    s.onExpired(() => {
      fired = true;
    });
    await nodes[2].leaseRevoke({ ID: s.lease });
    await until(() => s.expired, 3000, 'expiry');
    expect(fired).toBe(true);
    await s.done;
  });
});

describe('Mutex', () => {
  it('10 concurrent lockers increment a counter through guarded txns: no lost update, rising tokens', async () => {
    const counter = enc('c-counter');
    await nodes[0].put({ key: counter, value: enc('0') });
    const tokens: number[] = [];
    const worker = async (i: number) => {
      const session = await Session.create(nodes[i % 3], { clock, ttl: 10 });
      const mutex = new Mutex(session, 'c-lock');
      for (let round = 0; round < 3; round++) {
        const token = await mutex.lock();
        tokens.push(token.revision);
        const cur = await session.node.range({ key: counter });
        await sleep(1);
        const r = await mutex.guardedTxn([
          { requestPut: { key: counter, value: enc(String(Number(dec(cur.kvs[0].value)) + 1)) } },
        ]);
        expect(r.succeeded).toBe(true);
        await mutex.unlock();
      }
      await session.close();
    };
    await Promise.all(Array.from({ length: 10 }, (_, i) => worker(i)));
    expect(dec((await nodes[0].range({ key: counter })).kvs[0].value)).toBe('30');
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
  }, 60_000);

  it('a holder whose lease is revoked loses the lock: its guarded txn fails and the next holder proceeds', async () => {
    const s1 = await Session.create(nodes[0], { clock, ttl: 10 });
    const s2 = await Session.create(nodes[1], { clock, ttl: 10 });
    const m1 = new Mutex(s1, 'c-fence');
    const m2 = new Mutex(s2, 'c-fence');
    const t1 = await m1.lock();
    const pending = m2.lock();
    expect(await settledWithin(pending, 200)).toBe('pending');

    // The holder "pauses"; meanwhile its lease goes (as if it had expired).
    await nodes[2].leaseRevoke({ ID: s1.lease });
    const t2 = await pending;
    expect(t2.revision).toBeGreaterThan(t1.revision);
    expect(await m1.isOwner()).toBe(false);
    expect(await m2.isOwner()).toBe(true);

    // The stale holder wakes up and writes under its old token: fenced out, nothing written.
    const stale = await m1.guardedTxn([{ requestPut: { key: enc('c-fenced'), value: enc('stale') } }]);
    expect(stale.succeeded).toBe(false);
    expect((await nodes[0].range({ key: enc('c-fenced') })).kvs).toHaveLength(0);
    // The same through withFencing on a raw txn.
    const raw = await nodes[0].txn(
      withFencing(t1, { success: [{ requestPut: { key: enc('c-fenced'), value: enc('stale') } }] }),
    );
    expect(raw.succeeded).toBe(false);

    const fresh = await m2.guardedTxn({
      success: [{ requestPut: { key: enc('c-fenced'), value: enc('fresh') } }],
    });
    expect(fresh.succeeded).toBe(true);
    expect(dec((await nodes[0].range({ key: enc('c-fenced') })).kvs[0].value)).toBe('fresh');
    await m2.unlock();
    s1.orphan();
    await s2.close();
  });

  it('lock() aborted while waiting leaves the queue', async () => {
    const s1 = await Session.create(nodes[0], { clock, ttl: 10 });
    const s2 = await Session.create(nodes[1], { clock, ttl: 10 });
    const m1 = new Mutex(s1, 'c-abort');
    const m2 = new Mutex(s2, 'c-abort');
    await m1.lock();
    const abort = new AbortController();
    const waiting = m2.lock({ signal: abort.signal });
    await sleep(100);
    abort.abort();
    await expect(waiting).rejects.toThrow('context canceled');
    expect((await nodes[0].range({ key: enc(`c-abort/${s2.lease.toString(16)}`) })).kvs).toHaveLength(0);
    await s1.close();
    await s2.close();
  });
});

describe('Election', () => {
  it('campaign / proclaim / leader / observe / resign', async () => {
    const s1 = await Session.create(nodes[0], { clock, ttl: 10 });
    const s2 = await Session.create(nodes[2], { clock, ttl: 10 });
    const e1 = new Election(s1, 'c-elect');
    const e2 = new Election(s2, 'c-elect');
    await expect(e1.leader()).rejects.toThrow('election: no leader');
    await expect(e2.proclaim('x')).rejects.toThrow('election: not leader');

    const abort = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const kv of e2.observe({ signal: abort.signal })) seen.push(dec(kv.value));
    })();

    const k1 = await e1.campaign('a');
    expect(e1.token?.revision).toBe(k1.rev);
    const second = e2.campaign('b');
    expect(await settledWithin(second, 200)).toBe('pending');
    await e1.proclaim('a2');
    expect(dec((await e2.leader()).value)).toBe('a2');
    await e1.resign();
    await second;
    expect(dec((await e1.leader()).value)).toBe('b');
    await expect(e1.proclaim('late')).rejects.toThrow('election: not leader');
    await until(() => seen.length === 3, 5000, 'observations');
    expect(seen).toEqual(['a', 'a2', 'b']);
    abort.abort();
    await watching;
    await e2.resign();
    await s1.close();
    await s2.close();
  });
});
