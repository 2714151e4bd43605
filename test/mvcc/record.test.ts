// A stored version is held in the smallest record class that keeps what it says (kvRecord picks it): whatever the
// class, a record reads back exactly the fields it was made with.

import { describe, expect, it } from 'vitest';
import { kvRecord, toKeyValue, tombstoneRecord } from '../../src/mvcc/record.ts';

const fields = (r: ReturnType<typeof kvRecord>) => ({
  mapKey: r.mapKey,
  createRevision: r.createRevision,
  modRevision: r.modRevision,
  version: r.version,
  lease: r.lease,
  sub: r.sub,
  tombstone: r.tombstone,
});

describe('kvRecord', () => {
  it('reads back every field, for each kind of version', () => {
    const decodedZero = new DataView(new ArrayBuffer(8)).getBigInt64(0); // a 0n of its own, as a decoder makes
    const cases: [string, number, number, number, bigint, number][] = [
      ['first', 7, 7, 1, 0n, 0],
      ['first, decoded no-lease', 7, 7, 1, decodedZero, 0],
      ['later', 3, 9, 4, 0n, 0],
      ['first in a txn', 12, 12, 1, 0n, 2],
      ['leased first', 5, 5, 1, 0x7fff_ffff_ffff_fffen, 0],
      ['leased later', 5, 8, 2, 42n, 1],
      ['recreated after a delete', 20, 20, 1, 0n, 0],
    ];
    for (const [mapKey, create, mod, version, lease, sub] of cases) {
      const r = kvRecord(mapKey, create, mod, version, lease, sub);
      expect(fields(r), mapKey).toEqual({
        mapKey,
        createRevision: create,
        modRevision: mod,
        version,
        lease,
        sub,
        tombstone: false,
      });
      expect(r.main).toBe(mod);
      expect(toKeyValue(r, new Uint8Array(0)).lease).toBe(lease);
    }
  });

  it('makes tombstones with version 0 and createRevision 0, at any sub', () => {
    for (const sub of [0, 3]) {
      expect(fields(tombstoneRecord('gone', 30, sub))).toEqual({
        mapKey: 'gone',
        createRevision: 0,
        modRevision: 30,
        version: 0,
        lease: 0n,
        sub,
        tombstone: true,
      });
    }
  });
});
