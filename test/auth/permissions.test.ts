// Range permissions: the union of a user's intervals must cover the request's range (etcd's rangePermCache).
import { describe, expect, it } from 'vitest';
import { IntervalSet, isRangePermitted, keyInterval, unifyPermissions } from '../../src/auth/index.ts';
import type { Permission } from '../../src/etcd/types.ts';

const te = new TextEncoder();
const b = (s: string) => te.encode(s);
const ZERO = Uint8Array.of(0);
const perm = (permType: Permission['permType'], key: string, rangeEnd?: string | Uint8Array): Permission => ({
  permType,
  key: b(key),
  ...(rangeEnd !== undefined ? { rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd } : {}),
});

describe('permission intervals', () => {
  it('a single key is the point [key, key\\0)', () => {
    const p = unifyPermissions([perm('READ', 'a')]);
    expect(isRangePermitted(p, 'READ', b('a'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('ab'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('a'), b('b'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('a'), b('a\0'))).toBe(true);
  });

  it('a prefix range covers keys and sub-ranges inside, not outside', () => {
    const p = unifyPermissions([perm('READWRITE', '/app/', '/app0')]);
    expect(isRangePermitted(p, 'READ', b('/app/x'))).toBe(true);
    expect(isRangePermitted(p, 'WRITE', b('/app/'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('/app/'), b('/app0'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('/app/a'), b('/app/b'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('/app0'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('/app'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('/app/'), b('/app1'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('/app/'), ZERO)).toBe(false);
  });

  it('range_end "\\0" is every key from key on', () => {
    const p = unifyPermissions([perm('READ', 'm', ZERO)]);
    expect(isRangePermitted(p, 'READ', b('m'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('zzzz'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('m'), ZERO)).toBe(true);
    expect(isRangePermitted(p, 'READ', b('n'), ZERO)).toBe(true);
    expect(isRangePermitted(p, 'READ', b('l'), ZERO)).toBe(false);
    expect(isRangePermitted(p, 'READ', b('a'))).toBe(false);
    const all = unifyPermissions([perm('READ', '\0', ZERO)]);
    expect(isRangePermitted(all, 'READ', ZERO, ZERO)).toBe(true);
    expect(isRangePermitted(all, 'READ', b('anything'))).toBe(true);
  });

  it('adjacent and overlapping ranges merge; a gap breaks coverage', () => {
    const p = unifyPermissions([perm('READ', 'a', 'c'), perm('READ', 'c', 'e'), perm('READ', 'd', 'g')]);
    expect(isRangePermitted(p, 'READ', b('a'), b('g'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('b'), b('f'))).toBe(true);
    const gap = unifyPermissions([perm('READ', 'a', 'c'), perm('READ', 'd', 'g')]);
    expect(isRangePermitted(gap, 'READ', b('a'), b('e'))).toBe(false);
    expect(isRangePermitted(gap, 'READ', b('c'))).toBe(false);
    expect(isRangePermitted(gap, 'READ', b('d'), b('e'))).toBe(true);
    // A point next to a range: [a, b) ∪ [b, b\0) covers [a, b\0).
    const pt = unifyPermissions([perm('READ', 'a', 'b'), perm('READ', 'b')]);
    expect(isRangePermitted(pt, 'READ', b('a'), b('b\0'))).toBe(true);
    expect(new IntervalSet([keyInterval(b('a'), b('b')), keyInterval(b('b'))]).size).toBe(1);
  });

  it('READ, WRITE and READWRITE are separate', () => {
    const p = unifyPermissions([perm('READ', 'r', 's'), perm('WRITE', 'w', 'x'), perm('READWRITE', 'rw')]);
    expect(isRangePermitted(p, 'READ', b('r1'))).toBe(true);
    expect(isRangePermitted(p, 'WRITE', b('r1'))).toBe(false);
    expect(isRangePermitted(p, 'WRITE', b('w1'))).toBe(true);
    expect(isRangePermitted(p, 'READ', b('w1'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('rw'))).toBe(true);
    expect(isRangePermitted(p, 'WRITE', b('rw'))).toBe(true);
  });

  it('empty or inverted request ranges and no permissions are refused', () => {
    const p = unifyPermissions([perm('READ', 'a', 'z')]);
    expect(isRangePermitted(p, 'READ', b('c'), b('c'))).toBe(false);
    expect(isRangePermitted(p, 'READ', b('d'), b('c'))).toBe(false);
    expect(isRangePermitted(unifyPermissions([]), 'READ', b('a'))).toBe(false);
    // An inverted permission grants nothing.
    expect(isRangePermitted(unifyPermissions([perm('READ', 'z', 'a')]), 'READ', b('m'))).toBe(false);
  });
});
