// edgecd's state ↔ etcd 3.4's backend buckets: the file `Maintenance.Snapshot` streams reads back (through our
// bbolt reader) into the same keyspace, history, compaction point and leases, with the same HashKV; the few
// protobuf messages round-trip; an etcd file with an unfinished compaction resumes it.
import { describe, expect, it } from 'vitest';
import { bucketEntries, bucketValue, childBucket, readBolt } from '../../src/bbolt/index.ts';
import {
  decodeKeyValue,
  decodeLease,
  decodeRole,
  decodeUser,
  encodeKeyValue,
  encodeLease,
  encodeRole,
  encodeUser,
} from '../../src/server/etcd-proto.ts';
import {
  decodeEtcdBackend,
  encodeEtcdBackend,
  etcdStateOf,
  keyspaceOf,
} from '../../src/server/etcd-snapshot.ts';
import {
  encodeEtcdSnapshotFile,
  newClusterState,
  readSnapshotFile,
  SnapshotFileError,
} from '../../src/server/snapshot-file.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function stateMachine(): ServerStateMachine {
  return new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
}

/** History with overwrites, deletes, a multi-op txn, leases (one checkpointed), a compaction, big values. */
function populated(): ServerStateMachine {
  const sm = stateMachine();
  sm.members.add(0xabcdefn, { peerURLs: ['http://a:2380'], name: 'a' }, false);
  sm.members.add(0x12n, { peerURLs: ['http://b:2380'] }, true);
  sm.members.remove(0x12n);
  sm.apply({ type: 'leaseGrant', request: { ID: 0x7000000000000001n, TTL: 600 } }, 0);
  sm.apply({ type: 'leaseGrant', request: { ID: 5n, TTL: 30 } }, 0);
  sm.apply({ type: 'leaseCheckpoint', checkpoints: [{ id: 5n, remainingTtl: 12 }] }, 0);
  for (let i = 0; i < 400; i++) {
    const value = i % 97 === 3 ? 'y'.repeat(9000) : `v${i}`;
    sm.apply({ type: 'put', request: { key: enc(`k/${i % 150}`), value: enc(value) } }, 0);
  }
  sm.apply({ type: 'deleteRange', request: { key: enc('k/10'), rangeEnd: enc('k/11') } }, 0);
  sm.apply(
    {
      type: 'txn',
      request: {
        compare: [],
        success: [
          { requestPut: { key: enc('t/a'), value: enc('1'), lease: 0x7000000000000001n } },
          { requestDeleteRange: { key: enc('k/1') } },
          { requestPut: { key: enc('t/b'), value: enc('2') } },
        ],
        failure: [],
      },
    },
    0,
  );
  sm.apply({ type: 'compact', request: { revision: 250 } }, 0);
  sm.apply({ type: 'put', request: { key: enc('k/2'), value: enc('after') } }, 0);
  sm.appliedIndex = 4321;
  return sm;
}

describe('etcd 3.4 backend buckets', () => {
  it('protobuf messages round-trip', () => {
    const kv = { key: enc('k'), createRevision: 3, modRevision: 9, version: 4, value: enc('v'), lease: -2n };
    expect(decodeKeyValue(encodeKeyValue(kv))).toEqual(kv);
    const lease = { id: 0x7fffffffffffffffn, ttl: 9_000_000_000, remainingTtl: 17 };
    expect(decodeLease(encodeLease(lease))).toEqual(lease);
    const user = { name: 'alice', password: '$2a$10$abc', roles: ['r1', 'root'], noPassword: false };
    expect(decodeUser(encodeUser(user))).toEqual(user);
    expect(decodeUser(encodeUser({ ...user, password: '', noPassword: true })).noPassword).toBe(true);
    const role = {
      name: 'r1',
      permissions: [
        { permType: 'READ' as const, key: enc('a') },
        { permType: 'READWRITE' as const, key: enc('b'), rangeEnd: enc('c') },
        { permType: 'WRITE' as const, key: enc('\0'), rangeEnd: enc('\0') },
      ],
    };
    expect(decodeRole(encodeRole(role))).toEqual(role);
    // gogoproto's bytes for a Lease: fields 1..3 as varints.
    expect([...encodeLease({ id: 1n, ttl: 2, remainingTtl: 0 })]).toEqual([0x08, 1, 0x10, 2]);
  });

  it('writes every bucket etcd 3.4 has, with its encodings', () => {
    const sm = populated();
    const db = readBolt(encodeEtcdBackend(etcdStateOf(sm)));
    expect(db.root.items.map((i) => dec(i.key))).toEqual([
      'alarm',
      'auth',
      'authRoles',
      'authUsers',
      'cluster',
      'key',
      'lease',
      'members',
      'members_removed',
      'meta',
    ]);
    const meta = childBucket(db.root, 'meta')!;
    expect(Buffer.from(bucketValue(meta, 'consistent_index')!).readBigUInt64BE()).toBe(4321n);
    const compact = bucketValue(meta, 'finishedCompactRev')!;
    expect(compact.length).toBe(17);
    expect(Buffer.from(compact).readBigUInt64BE()).toBe(250n);
    expect(dec(bucketValue(childBucket(db.root, 'cluster')!, 'clusterVersion')!)).toBe('3.4.0');
    expect(dec(bucketValue(childBucket(db.root, 'members')!, 'abcdef')!)).toBe(
      '{"id":11259375,"peerURLs":["http://a:2380"],"name":"a"}',
    );
    expect(dec(bucketValue(childBucket(db.root, 'members_removed')!, '12')!)).toBe('removed');
    const leases = [...bucketEntries(childBucket(db.root, 'lease')!)].map((e) => decodeLease(e.value));
    expect(leases).toEqual([
      { id: 5n, ttl: 30, remainingTtl: 12 },
      { id: 0x7000000000000001n, ttl: 600, remainingTtl: 0 },
    ]);
    const keys = [...bucketEntries(childBucket(db.root, 'key')!)];
    const tombstones = keys.filter((e) => e.key.length === 18);
    expect(tombstones.length).toBeGreaterThan(0);
    for (const t of tombstones) {
      expect(t.key[17]).toBe(0x74); // 't'
      expect(Object.keys(decodeKeyValue(t.value)).length).toBe(6);
      expect(decodeKeyValue(t.value).createRevision).toBe(0);
    }
  });

  it('reads back into the same keyspace, history, compaction point and leases (same HashKV)', async () => {
    const sm = populated();
    const file = await encodeEtcdSnapshotFile(etcdStateOf(sm));
    expect(file.length % 512).toBe(32);
    const read = await readSnapshotFile(file);
    expect(read.format).toBe('etcd-bbolt');
    expect(read.revision).toBe(sm.mvcc.revision);
    expect(read.appliedIndex).toBe(4321);
    const { snapshot } = newClusterState(read, [{ id: 1n, name: 'n1', peerURLs: ['http://n1:2380'] }]);
    const restored = stateMachine();
    restored.restore(snapshot.data);
    expect(restored.mvcc.revision).toBe(sm.mvcc.revision);
    expect(restored.mvcc.compactRevision).toBe(250);
    for (const rev of [251, 300, 402, 403, 0]) expect(restored.mvcc.hashKV(rev)).toEqual(sm.mvcc.hashKV(rev));
    expect(restored.mvcc.snapshot()).toEqual(sm.mvcc.snapshot());
    expect(restored.lessor.leases()).toEqual(sm.lessor.leases());
    expect(restored.mvcc.keysForLease(0x7000000000000001n)).toEqual([enc('t/a')]);
  });

  it('carries users, roles, the enabled flag and the auth revision both ways', async () => {
    const sm = populated();
    const auth = {
      enabled: true,
      revision: 17,
      users: [
        { name: 'alice', password: '$2a$10$abcdefghijklmnopqrstuv', roles: ['reader'], noPassword: false },
        { name: 'carol', password: '', roles: [], noPassword: true },
        { name: 'root', password: '$2a$10$0123456789abcdefghijkl', roles: ['root'], noPassword: false },
      ],
      roles: [
        { name: 'reader', permissions: [{ permType: 'READ' as const, key: enc('k/'), rangeEnd: enc('k0') }] },
        { name: 'root', permissions: [] },
      ],
    };
    sm.auth.restore(auth);
    const db = readBolt(encodeEtcdBackend(etcdStateOf(sm)));
    expect([...bucketValue(childBucket(db.root, 'auth')!, 'authEnabled')!]).toEqual([1]);
    expect(Buffer.from(bucketValue(childBucket(db.root, 'auth')!, 'authRevision')!).readBigUInt64BE()).toBe(
      17n,
    );
    expect(decodeUser(bucketValue(childBucket(db.root, 'authUsers')!, 'alice')!)).toEqual(auth.users[0]);
    const { snapshot } = newClusterState(
      await readSnapshotFile(await encodeEtcdSnapshotFile(etcdStateOf(sm))),
      [{ id: 1n, name: 'n1', peerURLs: ['http://n1:2380'] }],
    );
    const restored = stateMachine();
    restored.restore(snapshot.data);
    expect(restored.auth.export()).toEqual(auth);
  });

  it('resumes a compaction that was scheduled but not finished, as etcd does on start', () => {
    const sm = populated();
    const state = etcdStateOf(sm);
    const unfinished = decodeEtcdBackend(encodeEtcdBackend({ ...state, scheduledCompactRev: 300 }));
    expect(unfinished.compactRev).toBe(250);
    expect(unfinished.scheduledCompactRev).toBe(300);
    sm.apply({ type: 'compact', request: { revision: 300 } }, 0);
    expect(keyspaceOf(unfinished)).toEqual(sm.mvcc.snapshot());
  });

  it('checks the trailer (unless told not to) and refuses what is not a snapshot', async () => {
    const file = await encodeEtcdSnapshotFile(etcdStateOf(populated()));
    const flipped = file.slice();
    flipped[5 * 4096 + 100] ^= 1;
    await expect(readSnapshotFile(flipped)).rejects.toThrow(
      'snapshot file is corrupt: sha256 checksum mismatch',
    );
    const bare = file.subarray(0, file.length - 32);
    await expect(readSnapshotFile(bare)).rejects.toThrow('snapshot missing hash but --skip-hash-check=false');
    expect((await readSnapshotFile(bare, { skipHashCheck: true })).revision).toBe(populated().mvcc.revision);
    const noKeys = await encodeEtcdSnapshotFile(etcdStateOf(stateMachine()));
    expect((await readSnapshotFile(noKeys)).revision).toBe(1);
    const foreign = new Uint8Array(512 + 32);
    await expect(readSnapshotFile(foreign)).rejects.toThrow(SnapshotFileError);
  });
});
