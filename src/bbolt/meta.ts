// bbolt's meta page (pages 0 and 1): which tree is current. Writers alternate between the two pages (txid % 2), so
// a torn write leaves the other one intact; readers take the valid meta with the higher txid. The checksum is
// FNV-1a 64 over the meta fields before it.
//
//   offset (after the page header)  field
//   0   u32 magic 0xED0CDAED       4   u32 version 2        8   u32 page size     12  u32 flags
//   16  u64 root bucket's page     24  u64 root sequence    32  u64 freelist page 40  u64 high water mark (pgid)
//   48  u64 txid                   56  u64 checksum

import {
  BoltError,
  META_PAGE_FLAG,
  PAGE_HEADER_SIZE,
  readPageHeader,
  readU64,
  writePageHeader,
} from './page.ts';

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const META_SIZE = 64;
const CHECKSUM_OFFSET = 56;
/** meta.freelist when the freelist is not stored (bbolt NoFreelistSync). */
export const NO_FREELIST = 0xffffffffffffffffn;

export interface Meta {
  readonly pageSize: number;
  readonly flags: number;
  /** Page of the root bucket (whose items are the top-level buckets). */
  readonly root: number;
  readonly rootSequence: bigint;
  /** Page of the freelist, or undefined when not stored. */
  readonly freelist: number | undefined;
  /** High water mark: the number of pages in use; the file holds at least this many. */
  readonly pgid: number;
  readonly txid: bigint;
}

/** FNV-1a, 64-bit (Go's hash/fnv New64a). */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < bytes.length; i++) {
    h ^= BigInt(bytes[i]);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** Writes a whole meta page (header + meta + checksum) at `offset` of `buf`. */
export function writeMetaPage(buf: Uint8Array, offset: number, id: number, meta: Meta): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  writePageHeader(view, offset, { id, flags: META_PAGE_FLAG, count: 0, overflow: 0 });
  const m = offset + PAGE_HEADER_SIZE;
  view.setUint32(m, MAGIC, true);
  view.setUint32(m + 4, VERSION, true);
  view.setUint32(m + 8, meta.pageSize, true);
  view.setUint32(m + 12, meta.flags, true);
  view.setBigUint64(m + 16, BigInt(meta.root), true);
  view.setBigUint64(m + 24, meta.rootSequence, true);
  view.setBigUint64(m + 32, meta.freelist === undefined ? NO_FREELIST : BigInt(meta.freelist), true);
  view.setBigUint64(m + 40, BigInt(meta.pgid), true);
  view.setBigUint64(m + 48, meta.txid, true);
  view.setBigUint64(m + CHECKSUM_OFFSET, fnv1a64(buf.subarray(m, m + CHECKSUM_OFFSET)), true);
}

/** Reads and validates the meta page at `offset`; throws BoltError saying why it is not usable. */
export function readMetaPage(buf: Uint8Array, offset: number): Meta {
  if (offset + PAGE_HEADER_SIZE + META_SIZE > buf.length)
    throw new BoltError('file too small for a meta page');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const header = readPageHeader(view, offset);
  const m = offset + PAGE_HEADER_SIZE;
  if (view.getUint32(m, true) !== MAGIC) throw new BoltError('not a bbolt file (bad magic)');
  if ((header.flags & META_PAGE_FLAG) === 0) throw new BoltError(`page ${header.id} is not a meta page`);
  const version = view.getUint32(m + 4, true);
  if (version !== VERSION) throw new BoltError(`unsupported bbolt version ${version}`);
  const checksum = view.getBigUint64(m + CHECKSUM_OFFSET, true);
  // bbolt accepts a zero checksum (files from before checksums existed).
  if (checksum !== 0n && checksum !== fnv1a64(buf.subarray(m, m + CHECKSUM_OFFSET))) {
    throw new BoltError('meta page checksum mismatch');
  }
  const freelist = view.getBigUint64(m + 32, true);
  return {
    pageSize: view.getUint32(m + 8, true),
    flags: view.getUint32(m + 12, true),
    root: readU64(view, m + 16),
    rootSequence: view.getBigUint64(m + 24, true),
    freelist: freelist === NO_FREELIST ? undefined : readU64(view, m + 32),
    pgid: readU64(view, m + 40),
    txid: view.getBigUint64(m + 48, true),
  };
}
