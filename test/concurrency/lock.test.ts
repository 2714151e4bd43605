// The v3lock recipe (src/concurrency/lock.ts) on an in-process 3-member cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lock, unlock } from '../../src/concurrency/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { dec, enc, settledWithin, sleep, startCluster, until } from './cluster.ts';

let nodes: EdgeNode[];
beforeAll(async () => {
  nodes = await startCluster();
}, 30_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

const grant = async (n = 0, ttl = 30) => (await nodes[n].leaseGrant({ TTL: ttl })).ID;
const exists = async (key: Uint8Array) => (await nodes[0].range({ key })).kvs.length === 1;

describe('v3lock recipe', () => {
  it('uncontended: key is name/<lease hex>, created with the lease, header at the key create revision', async () => {
    const lease = await grant();
    const r = await lock(nodes[0], { name: enc('l1'), lease });
    expect(dec(r.key)).toBe(`l1/${lease.toString(16)}`);
    const got = await nodes[1].range({ key: r.key });
    expect(got.kvs[0].lease).toBe(lease);
    expect(got.kvs[0].createRevision).toBe(r.createRevision);
    expect(r.header.revision).toBe(r.createRevision);
    expect(r.header.clusterId).toBe(42n);
    // The same lease locking again keeps its place (the key is reused).
    const again = await lock(nodes[2], { name: enc('l1'), lease });
    expect(dec(again.key)).toBe(dec(r.key));
    expect(again.createRevision).toBe(r.createRevision);
    const u = await unlock(nodes[0], { key: r.key });
    expect(u.header.revision).toBeGreaterThan(r.createRevision);
    expect(await exists(r.key)).toBe(false);
  });

  it('a second locker waits for the first to unlock, then holds with a larger create revision', async () => {
    const [a, b] = [await grant(), await grant()];
    const first = await lock(nodes[0], { name: enc('l2'), lease: a });
    const second = lock(nodes[1], { name: enc('l2'), lease: b });
    expect(await settledWithin(second, 300)).toBe('pending');
    await unlock(nodes[2], { key: first.key });
    const got = await second;
    expect(got.createRevision).toBeGreaterThan(first.createRevision);
    expect(got.header.revision).toBeGreaterThan(got.createRevision);
    await unlock(nodes[0], { key: got.key });
  });

  it('mutual exclusion: 10 contenders read-modify-write one counter without a lost update', async () => {
    const counter = enc('l3-counter');
    await nodes[0].put({ key: counter, value: enc('0') });
    let inside = 0;
    let maxInside = 0;
    const revisions: number[] = [];
    const worker = async (i: number) => {
      const node = nodes[i % 3];
      const lease = (await node.leaseGrant({ TTL: 30 })).ID;
      for (let round = 0; round < 3; round++) {
        const held = await lock(node, { name: enc('l3'), lease });
        revisions.push(held.createRevision);
        inside++;
        maxInside = Math.max(maxInside, inside);
        const cur = Number(dec((await node.range({ key: counter })).kvs[0].value));
        await sleep(2);
        await node.put({ key: counter, value: enc(String(cur + 1)) });
        inside--;
        await unlock(node, { key: held.key });
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, i) => worker(i)));
    expect(maxInside).toBe(1);
    expect(dec((await nodes[0].range({ key: counter })).kvs[0].value)).toBe('30');
    // Holders in order of acquisition: create revisions (fencing tokens) strictly increase.
    for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1]);
  }, 60_000);

  it('a revoked holder lease hands the lock to the next waiter', async () => {
    const [a, b] = [await grant(), await grant()];
    const first = await lock(nodes[0], { name: enc('l4'), lease: a });
    const second = lock(nodes[1], { name: enc('l4'), lease: b });
    expect(await settledWithin(second, 200)).toBe('pending');
    await nodes[0].leaseRevoke({ ID: a });
    const got = await second;
    expect(await exists(first.key)).toBe(false);
    expect(dec(got.key)).toBe(`l4/${b.toString(16)}`);
    await unlock(nodes[0], { key: got.key });
  });

  it('a waiter whose own lease expires while waiting gets `mutex: session is expired`', async () => {
    const [a, b] = [await grant(), await grant()];
    const first = await lock(nodes[0], { name: enc('l5'), lease: a });
    const second = lock(nodes[1], { name: enc('l5'), lease: b });
    expect(await settledWithin(second, 200)).toBe('pending');
    await nodes[0].leaseRevoke({ ID: b }); // the waiter's key goes; it keeps waiting for its predecessor
    expect(await settledWithin(second, 200)).toBe('pending');
    await unlock(nodes[0], { key: first.key });
    await expect(second).rejects.toThrow('mutex: session is expired');
  });

  it('cancelling a waiting Lock deletes the waiter key and does not block later waiters', async () => {
    const [a, b, c] = [await grant(), await grant(), await grant()];
    const first = await lock(nodes[0], { name: enc('l6'), lease: a });
    const abort = new AbortController();
    const waiting = lock(nodes[1], { name: enc('l6'), lease: b }, { signal: abort.signal });
    const bKey = enc(`l6/${b.toString(16)}`);
    await until(() => exists(bKey), 5000, 'the waiter key');
    const third = lock(nodes[2], { name: enc('l6'), lease: c });
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 1, message: 'context canceled' });
    expect(await exists(bKey)).toBe(false);
    await unlock(nodes[0], { key: first.key });
    const got = await third;
    expect(dec(got.key)).toBe(`l6/${c.toString(16)}`);
    await unlock(nodes[0], { key: got.key });
  });

  it('lease 0 grants a fresh 60 s lease (etcd session semantics); an unknown lease is refused', async () => {
    const r = await lock(nodes[0], { name: enc('l7'), lease: 0n });
    expect(r.lease).not.toBe(0n);
    expect(dec(r.key)).toBe(`l7/${r.lease.toString(16)}`);
    expect((await nodes[0].leaseTimeToLive({ ID: r.lease })).grantedTTL).toBe(60);
    await nodes[0].leaseRevoke({ ID: r.lease });
    await expect(lock(nodes[0], { name: enc('l7'), lease: 0x1234567n })).rejects.toThrow(
      'etcdserver: requested lease not found',
    );
  });
});
