// Reads a whole bbolt file into plain buckets (./bucket.ts): picks the current meta page (the valid one with the
// higher txid, as bbolt's DB.meta does), then walks the B+tree of every bucket — branch pages, leaf pages, pages
// with overflow, nested buckets stored on their own pages or inline in their parent's value. Free pages are
// never visited. Keys and values are views into `file` (no copies): copy what must outlive it.

import type { BoltBucket, BoltItem } from './bucket.ts';
import { type Meta, readMetaPage } from './meta.ts';
import {
  BoltError,
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  PAGE_HEADER_SIZE,
  readPageHeader,
  readU64,
} from './page.ts';

export interface BoltDatabase {
  readonly meta: Meta;
  /** The root bucket: its items are the top-level buckets. */
  readonly root: BoltBucket;
}

/** Whether `bytes` starts like a bbolt file (page 0 is a meta page with bbolt's magic). */
export function isBoltFile(bytes: Uint8Array): boolean {
  if (bytes.length < PAGE_HEADER_SIZE + 8) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint16(8, true) === 0x04 && view.getUint32(PAGE_HEADER_SIZE, true) === 0xed0cdaed;
}

/** The current meta: both meta pages are tried; the valid one with the higher txid wins. */
export function readMeta(file: Uint8Array): Meta {
  let first: Meta | undefined;
  let firstError: unknown;
  try {
    first = readMetaPage(file, 0);
  } catch (err) {
    firstError = err;
  }
  // Meta 1 lives one page further; if meta 0 is unreadable, guess the usual page size (as bbolt does).
  let second: Meta | undefined;
  try {
    second = readMetaPage(file, first?.pageSize ?? DEFAULT_PAGE_SIZE);
  } catch {
    // the other one decides
  }
  const meta = first && second ? (second.txid > first.txid ? second : first) : (first ?? second);
  if (meta === undefined)
    throw firstError instanceof Error ? firstError : new BoltError('no valid meta page');
  if (meta.pageSize < 512 || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
    throw new BoltError(`bad page size ${meta.pageSize}`);
  }
  if (meta.pgid * meta.pageSize > file.length) {
    throw new BoltError(
      `file is truncated: ${file.length} bytes, but the meta page says ${meta.pgid} pages of ${meta.pageSize}`,
    );
  }
  return meta;
}

export function readBolt(file: Uint8Array): BoltDatabase {
  const meta = readMeta(file);
  const reader = new TreeReader(file, meta);
  return { meta, root: { sequence: meta.rootSequence, items: reader.pageItems(meta.root, 0) } };
}

class TreeReader {
  private readonly view: DataView;
  /** Pages walked so far: each belongs to one tree once, so a second visit is corruption (or a DAG crafted to
   * make the walk exponential: 40 branch pages that each list the next one twice would take 2^40 steps). */
  private readonly seen = new Set<number>();

  private readonly file: Uint8Array;
  private readonly meta: Meta;

  constructor(file: Uint8Array, meta: Meta) {
    this.file = file;
    this.meta = meta;
    this.view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  }

  private walk(pgid: number, depth: number, out: BoltItem[]): void {
    if (depth > 64) throw new BoltError(`page ${pgid}: tree too deep (a cycle?)`);
    if (pgid < 2 || pgid >= this.meta.pgid) {
      throw new BoltError(`page ${pgid}: out of bounds (high water mark ${this.meta.pgid})`);
    }
    if (this.seen.has(pgid)) throw new BoltError(`page ${pgid}: referenced more than once (a cycle?)`);
    this.seen.add(pgid);
    const offset = pgid * this.meta.pageSize;
    const header = readPageHeader(this.view, offset);
    const end = offset + (header.overflow + 1) * this.meta.pageSize;
    if (end > this.file.length) throw new BoltError(`page ${pgid}: overflow runs past the end of the file`);
    if (header.flags === BRANCH_PAGE_FLAG) {
      if (offset + PAGE_HEADER_SIZE + header.count * BRANCH_ELEMENT_SIZE > end)
        throw new BoltError(`page ${pgid}: ${header.count} branch elements run past the page`);
      for (let i = 0; i < header.count; i++) {
        const elem = offset + PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
        this.walk(readU64(this.view, elem + 8), depth + 1, out);
      }
    } else if (header.flags === LEAF_PAGE_FLAG) {
      this.leafItems(offset, header.count, end, depth, out);
    } else {
      throw new BoltError(`page ${pgid}: unexpected page type 0x${header.flags.toString(16)}`);
    }
  }

  /** The elements of the leaf page at `offset` (a real page, or an inline bucket's page inside a value). */
  private leafItems(offset: number, count: number, end: number, depth: number, out: BoltItem[]): void {
    if (offset + PAGE_HEADER_SIZE + count * LEAF_ELEMENT_SIZE > end)
      throw new BoltError(`leaf page at ${offset}: ${count} elements run past the page`);
    for (let i = 0; i < count; i++) {
      const elem = offset + PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
      const flags = this.view.getUint32(elem, true);
      const pos = this.view.getUint32(elem + 4, true);
      const ksize = this.view.getUint32(elem + 8, true);
      const vsize = this.view.getUint32(elem + 12, true);
      const k = elem + pos;
      const v = k + ksize;
      if (v + vsize > end) throw new BoltError(`leaf element ${i} at ${elem} runs past its page`);
      const key = this.file.subarray(k, v);
      const value = this.file.subarray(v, v + vsize);
      if ((flags & BUCKET_LEAF_FLAG) !== 0) {
        out.push({ key, bucket: this.bucketValue(value, v, depth) });
      } else {
        out.push({ key, value });
      }
    }
  }

  /** A nested bucket from its value: a header {root, sequence}; root 0 = an inline page follows it. */
  private bucketValue(value: Uint8Array, at: number, depth: number): BoltBucket {
    if (value.length < BUCKET_HEADER_SIZE) throw new BoltError(`bucket value at ${at} is too short`);
    // Inline buckets nest inside values without visiting pages: bound them as walk() bounds the page tree.
    if (depth > 64) throw new BoltError(`bucket at ${at}: nested too deep`);
    const root = readU64(this.view, at);
    const sequence = this.view.getBigUint64(at + 8, true);
    if (root !== 0) return { sequence, items: this.pageItems(root, depth + 1) };
    const page = at + BUCKET_HEADER_SIZE;
    const end = at + value.length;
    if (page + PAGE_HEADER_SIZE > end) {
      // An inline bucket always carries its page; be lenient with an empty one.
      return { sequence, items: [] };
    }
    const header = readPageHeader(this.view, page);
    if (header.flags !== LEAF_PAGE_FLAG) throw new BoltError(`inline bucket at ${at} is not a leaf page`);
    const items: BoltItem[] = [];
    this.leafItems(page, header.count, end, depth + 1, items);
    return { sequence, items };
  }

  /** Every item under the page `pgid` (a branch or a leaf), in key order. */
  pageItems(pgid: number, depth: number): BoltItem[] {
    const out: BoltItem[] = [];
    this.walk(pgid, depth, out);
    return out;
  }
}
