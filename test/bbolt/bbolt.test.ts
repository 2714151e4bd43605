// bbolt writer → reader round trips: many keys (leaf splits, branch levels), values larger than a page (overflow
// pages), empty buckets, nested buckets on their own pages and inline, and the meta page choice.
import { describe, expect, it } from 'vitest';
import {
  type BoltBucket,
  BoltError,
  type BoltItem,
  bucketValue,
  childBucket,
  compareKeys,
  isBoltFile,
  readBolt,
  readMeta,
  writeBolt,
} from '../../src/bbolt/index.ts';
import { fnv1a64 } from '../../src/bbolt/meta.ts';

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

function kv(key: string | Uint8Array, value: string | Uint8Array): BoltItem {
  return { key: typeof key === 'string' ? b(key) : key, value: typeof value === 'string' ? b(value) : value };
}

function sub(key: string, bucket: BoltBucket): BoltItem {
  return { key: b(key), bucket };
}

/** A plain comparable shape (items in key order): nested buckets as arrays, values as hex. */
function plain(bucket: BoltBucket): unknown {
  return sorted([...bucket.items]).map((item) => [
    Buffer.from(item.key).toString('hex'),
    item.bucket ? plain(item.bucket) : Buffer.from(item.value).toString('hex'),
  ]);
}

function sorted(items: BoltItem[]): BoltItem[] {
  return [...items].sort((x, y) => compareKeys(x.key, y.key));
}

function pageTypes(file: Uint8Array): Map<number, number> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const counts = new Map<number, number>();
  for (let off = 0; off < file.length; off += 4096) {
    const flags = view.getUint16(off + 8, true);
    counts.set(flags, (counts.get(flags) ?? 0) + 1);
  }
  return counts;
}

describe('bbolt', () => {
  it('FNV-1a 64 matches Go hash/fnv', () => {
    expect(fnv1a64(new Uint8Array(0))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(b('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(b('foobar'))).toBe(0x85944171f73967e8n);
  });

  it('round-trips an empty database and empty buckets', () => {
    const root: BoltBucket = { items: [sub('a', { items: [] }), sub('b', { items: [] })] };
    const file = writeBolt(root);
    expect(file.length).toBe(4 * 4096); // 2 metas, freelist, root leaf (empty buckets are inline)
    expect(isBoltFile(file)).toBe(true);
    expect(plain(readBolt(file).root)).toEqual(plain(root));
    const none = writeBolt({ items: [] });
    expect(none.length).toBe(4 * 4096);
    expect(readBolt(none).root.items).toEqual([]);
  });

  it('round-trips thousands of keys across leaf and branch pages, and values with overflow pages', () => {
    const many: BoltItem[] = [];
    for (let i = 0; i < 20_000; i++)
      many.push(kv(`key/${i.toString().padStart(6, '0')}`, `value-${i}`.repeat(i % 7)));
    const big: BoltItem[] = [];
    for (let i = 0; i < 20; i++) {
      const value = new Uint8Array(4096 * (i % 4) + 1000 + i * 37);
      for (let j = 0; j < value.length; j++) value[j] = (i * 31 + j) & 0xff;
      big.push(kv(`big/${i}`, value));
    }
    big.push(kv('big/empty', new Uint8Array(0)));
    const root: BoltBucket = {
      items: [sub('many', { items: many }), sub('big', { items: big }), sub('empty', { items: [] })],
    };
    const file = writeBolt(root);
    expect(file.length % 4096).toBe(0);
    const types = pageTypes(file);
    expect(types.get(0x01)).toBeGreaterThan(1); // branch pages
    expect(types.get(0x02)).toBeGreaterThan(100); // leaf pages
    const db = readBolt(file);
    expect(db.meta.pgid * 4096).toBe(file.length);
    expect(db.meta.freelist).toBe(2);
    const many2 = childBucket(db.root, 'many')!;
    expect(many2.items).toHaveLength(20_000);
    expect(plain(many2)).toEqual(plain({ items: sorted(many) }));
    expect(plain(childBucket(db.root, 'big')!)).toEqual(plain({ items: sorted(big) }));
    expect(childBucket(db.root, 'empty')!.items).toEqual([]);
    expect(Buffer.from(bucketValue(many2, 'key/000013')!).toString()).toBe('value-13'.repeat(6));
  });

  it('round-trips nested buckets, inline and on their own pages, with sequences', () => {
    const small: BoltBucket = { sequence: 7n, items: [kv('x', '1'), kv('y', '2')] };
    const large: BoltBucket = { items: Array.from({ length: 300 }, (_, i) => kv(`k${i}`, `v${i}`)) };
    const deep: BoltBucket = { items: [sub('inner', { items: [sub('innermost', small), kv('z', 'zz')] })] };
    const root: BoltBucket = {
      sequence: 3n,
      items: [
        sub('outer', { items: [kv('plain', 'value'), sub('small', small), sub('large', large)] }),
        sub('deep', deep),
      ],
    };
    const db = readBolt(writeBolt(root));
    expect(plain(db.root)).toEqual(plain({ items: sorted([...root.items]) }));
    expect(db.meta.rootSequence).toBe(3n);
    const outer = childBucket(db.root, 'outer')!;
    expect(childBucket(outer, 'small')!.sequence).toBe(7n);
    expect(childBucket(outer, 'large')!.items).toHaveLength(300);
    expect(bucketValue(outer, 'small')).toBeUndefined();
    const innermost = childBucket(childBucket(childBucket(db.root, 'deep')!, 'inner')!, 'innermost')!;
    expect(Buffer.from(bucketValue(innermost, 'y')!).toString()).toBe('2');
  });

  it('stores a small bucket inline in its parent and a large one on its own pages', () => {
    const file = writeBolt({
      items: [sub('small', { items: [kv('a', 'b')] }), sub('large', { items: [kv('a', 'x'.repeat(2000))] })],
    });
    // metas + freelist + root leaf + the large bucket's leaf
    expect(file.length / 4096).toBe(5);
    const db = readBolt(file);
    const rootItems = db.root.items;
    const view = (v: Uint8Array) => new DataView(v.buffer, v.byteOffset, v.byteLength);
    // Each bucket's value in the root leaf: {root pgid, sequence}[+ inline page]; read them back raw.
    expect(rootItems.map((i) => Buffer.from(i.key).toString())).toEqual(['large', 'small']);
    expect(plain(childBucket(db.root, 'small')!)).toEqual(plain({ items: [kv('a', 'b')] }));
    expect(view(file).getUint16(4 * 4096 + 8, true)).toBe(0x02);
  });

  it('takes the valid meta with the higher txid and falls back when it is damaged', () => {
    const file = writeBolt({ items: [sub('a', { items: [kv('k', 'v')] })] }, { txid: 10n });
    expect(readMeta(file).txid).toBe(10n);
    const damaged = file.slice();
    damaged[16 + 48] ^= 0xff; // meta 0's txid: checksum mismatch
    expect(readMeta(damaged).txid).toBe(9n);
    expect(plain(readBolt(damaged).root)).toEqual(plain(readBolt(file).root));
    const both = damaged.slice();
    both[4096 + 16 + 48] ^= 0xff;
    expect(() => readMeta(both)).toThrow(BoltError);
    expect(() => readBolt(file.subarray(0, 3 * 4096))).toThrow(/truncated/);
    expect(isBoltFile(b('EDGECDSN and more bytes'))).toBe(false);
  });

  it('refuses what bbolt cannot store', () => {
    expect(() => writeBolt({ items: [kv('a', 'b')] })).toThrow(/only buckets/);
    expect(() => writeBolt({ items: [sub('a', { items: [kv('', 'b')] })] })).toThrow(/empty/);
    expect(() => writeBolt({ items: [sub('a', { items: [kv('k', '1'), kv('k', '2')] })] })).toThrow(
      /duplicate/,
    );
  });
});
