// The v3election recipe (src/concurrency/election.ts) on an in-process 3-member cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  campaign,
  type LeaderResponse,
  leader,
  observe,
  proclaim,
  resign,
} from '../../src/concurrency/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { dec, enc, settledWithin, startCluster, until } from './cluster.ts';

let nodes: EdgeNode[];
beforeAll(async () => {
  nodes = await startCluster();
}, 30_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

const grant = async (n = 0, ttl = 30) => (await nodes[n].leaseGrant({ TTL: ttl })).ID;

describe('v3election recipe', () => {
  it('leader on an empty election is `election: no leader` (Unknown, code 2)', async () => {
    await expect(leader(nodes[0], { name: enc('e0') })).rejects.toMatchObject({
      code: 2,
      message: 'election: no leader',
    });
  });

  it('campaign / leader / proclaim / resign, with a second candidate taking over', async () => {
    const [a, b] = [await grant(), await grant()];
    const first = await campaign(nodes[0], { name: enc('e1'), lease: a, value: enc('p1') });
    expect(dec(first.leader.name)).toBe('e1');
    expect(dec(first.leader.key)).toBe(`e1/${a.toString(16)}`);
    expect(first.leader.lease).toBe(a);
    expect(first.leader.rev).toBe(first.header.revision);

    const l = await leader(nodes[1], { name: enc('e1') });
    expect(dec(l.kv.value)).toBe('p1');
    expect(l.kv.createRevision).toBe(first.leader.rev);

    const second = campaign(nodes[2], { name: enc('e1'), lease: b, value: enc('p2') });
    expect(await settledWithin(second, 300)).toBe('pending');

    const p = await proclaim(nodes[1], { leader: first.leader, value: enc('p1b') });
    expect(p.header.revision).toBeGreaterThan(first.leader.rev);
    const after = await leader(nodes[0], { name: enc('e1') });
    expect(dec(after.kv.value)).toBe('p1b');
    expect(after.kv.lease).toBe(a); // proclaim puts with the leader's lease

    // The waiting candidate cannot proclaim: its key's create revision is not the leader's.
    const bKey = enc(`e1/${b.toString(16)}`);
    await until(async () => (await nodes[0].range({ key: bKey })).kvs.length === 1, 5000, 'b key');
    await expect(
      proclaim(nodes[0], { leader: { ...first.leader, key: bKey, lease: b }, value: enc('x') }),
    ).rejects.toMatchObject({ code: 2, message: 'election: not leader' });

    const r = await resign(nodes[0], { leader: first.leader });
    expect(r.header.revision).toBeGreaterThan(p.header.revision);
    const won = await second;
    expect(dec(won.leader.key)).toBe(`e1/${b.toString(16)}`);
    expect(won.leader.rev).toBeGreaterThan(first.leader.rev);
    expect(dec((await leader(nodes[0], { name: enc('e1') })).kv.value)).toBe('p2');

    // The old leadership is stale now: proclaim fails, resign is a harmless no-op.
    await expect(proclaim(nodes[0], { leader: first.leader, value: enc('zombie') })).rejects.toThrow(
      'election: not leader',
    );
    await resign(nodes[0], { leader: first.leader });
    expect(dec((await leader(nodes[0], { name: enc('e1') })).kv.value)).toBe('p2');
    await resign(nodes[0], { leader: won.leader });
    await expect(leader(nodes[0], { name: enc('e1') })).rejects.toThrow('election: no leader');
  });

  it('missing leader key is refused with etcd text', async () => {
    await expect(proclaim(nodes[0], { value: enc('x') })).rejects.toThrow('"leader" field must be provided');
    await expect(resign(nodes[0], {})).rejects.toThrow('"leader" field must be provided');
  });

  it('re-campaigning on the same lease keeps the place and proclaims the new value', async () => {
    const a = await grant();
    const first = await campaign(nodes[0], { name: enc('e2'), lease: a, value: enc('v1') });
    const again = await campaign(nodes[1], { name: enc('e2'), lease: a, value: enc('v2') });
    expect(again.leader.rev).toBe(first.leader.rev);
    expect(dec((await leader(nodes[0], { name: enc('e2') })).kv.value)).toBe('v2');
    await nodes[0].leaseRevoke({ ID: a });
  });

  it('observe: waits for a first leader, then reports proclaims and leader changes', async () => {
    const abort = new AbortController();
    const seen: LeaderResponse[] = [];
    const done = (async () => {
      for await (const r of observe(nodes[1], { name: enc('e3') }, { signal: abort.signal })) seen.push(r);
    })();
    const [a, b] = [await grant(), await grant()];
    const first = await campaign(nodes[0], { name: enc('e3'), lease: a, value: enc('one') });
    await until(() => seen.length === 1, 5000, 'first observation');
    expect(dec(seen[0].kv.value)).toBe('one');
    expect(seen[0].header.revision).toBe(first.leader.rev);

    await proclaim(nodes[0], { leader: first.leader, value: enc('two') });
    await until(() => seen.length === 2, 5000, 'proclaim observed');
    expect(dec(seen[1].kv.value)).toBe('two');

    const second = campaign(nodes[2], { name: enc('e3'), lease: b, value: enc('three') });
    await nodes[0].leaseRevoke({ ID: a }); // the leader's lease ends: the next candidate leads
    await second;
    await until(() => seen.length === 3, 5000, 'new leader observed');
    expect(dec(seen[2].kv.value)).toBe('three');
    expect(dec(seen[2].kv.key)).toBe(`e3/${b.toString(16)}`);
    // A candidate queued behind the leader does not show up.
    expect(seen.map((r) => dec(r.kv.value))).toEqual(['one', 'two', 'three']);
    abort.abort();
    await done;
  });

  it('observe starts with the current leader when there is one', async () => {
    const a = await grant();
    await campaign(nodes[0], { name: enc('e4'), lease: a, value: enc('now') });
    const it = observe(nodes[2], { name: enc('e4') });
    const r = await it.next();
    expect(r.done).toBe(false);
    expect(dec((r.value as LeaderResponse).kv.value)).toBe('now');
    await it.return(undefined);
    await nodes[0].leaseRevoke({ ID: a });
  });

  it('cancelling a waiting Campaign removes the candidacy', async () => {
    const [a, b] = [await grant(), await grant()];
    await campaign(nodes[0], { name: enc('e5'), lease: a, value: enc('a') });
    const abort = new AbortController();
    const waiting = campaign(
      nodes[1],
      { name: enc('e5'), lease: b, value: enc('b') },
      { signal: abort.signal },
    );
    const bKey = enc(`e5/${b.toString(16)}`);
    await until(async () => (await nodes[0].range({ key: bKey })).kvs.length === 1, 5000, 'candidate key');
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 1, message: 'context canceled' });
    expect((await nodes[0].range({ key: bKey })).kvs).toHaveLength(0);
    await nodes[0].leaseRevoke({ ID: a });
  });
});
