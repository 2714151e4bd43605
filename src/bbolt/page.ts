// bbolt's on-disk layout (go.etcd.io/bbolt v1.3.6, as etcd 3.4 uses it), little-endian as on amd64/arm64.
//
// A database file is a sequence of fixed-size pages (4096 bytes here). Every page starts with a 16-byte header:
//
//   id u64 | flags u16 | count u16 | overflow u32
//
// `overflow` counts the extra pages that follow when one page's contents do not fit (a large value). Pages 0 and
// 1 are meta pages (./meta.ts), one page holds the freelist (ids of free pages, u64 each; a count of 0xffff means
// the real count is the first u64), and the rest are B+tree nodes:
//
// - a leaf page: `count` elements {flags u32, pos u32, ksize u32, vsize u32}, then the keys and values they
//   point at (`pos` is relative to the element's own offset). flags & BUCKET_LEAF_FLAG: the value is a nested
//   bucket: a 16-byte header {root pgid u64, sequence u64}; root 0 means an inline bucket whose leaf page follows
//   the header inside the value itself;
// - a branch page: `count` elements {pos u32, ksize u32, pgid u64}: each child's first key and page id.
//
// The root of everything is a bucket (the meta page's `root`) whose items are the top-level buckets.

export const DEFAULT_PAGE_SIZE = 4096;
export const PAGE_HEADER_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BRANCH_ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;

export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;

/** A leaf element whose value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

/** A freelist `count` of 0xffff: the real count is the first u64 of the page body. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

export interface PageHeader {
  readonly id: number;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
}

export function readPageHeader(view: DataView, offset: number): PageHeader {
  return {
    id: readU64(view, offset),
    flags: view.getUint16(offset + 8, true),
    count: view.getUint16(offset + 10, true),
    overflow: view.getUint32(offset + 12, true),
  };
}

export function writePageHeader(view: DataView, offset: number, header: PageHeader): void {
  view.setBigUint64(offset, BigInt(header.id), true);
  view.setUint16(offset + 8, header.flags, true);
  view.setUint16(offset + 10, header.count, true);
  view.setUint32(offset + 12, header.overflow, true);
}

/** A u64 that must be a safe integer here (page ids, lengths); larger values mean a corrupt or foreign file. */
export function readU64(view: DataView, offset: number): number {
  const v = view.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BoltError(`value ${v} at offset ${offset} is too large`);
  return Number(v);
}

export class BoltError extends Error {
  override name = 'BoltError';
}
