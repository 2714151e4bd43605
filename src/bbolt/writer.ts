// Builds a fresh bbolt file (what bbolt's Tx.WriteTo would copy out of a compacted database) from plain buckets:
//
//   page 0, 1   meta pages (txid T and T − 1, same tree), FNV-1a checksums
//   page 2      the freelist: empty (every page is in use)
//   page 3…     each bucket's B+tree, children before parents (a parent's value names its child's root page)
//
// A bucket's items are packed into leaf pages in key order, each page filled up to the page size (an item
// larger than a page gets a page of its own with overflow pages); when there is more than one leaf, branch
// pages hold each child's first key, level by level up to a single root. A nested bucket without buckets of its
// own whose page would fit in a quarter page is stored inline in its parent's value, as bbolt does.

import { type BoltBucket, compareKeys } from './bucket.ts';
import { writeMetaPage } from './meta.ts';
import {
  BoltError,
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  PAGE_HEADER_SIZE,
  writePageHeader,
} from './page.ts';

export interface WriteOptions {
  /** Default 4096. */
  readonly pageSize?: number;
  /** The transaction ID in meta page 0 (meta 1 gets txid − 1). Default 2. */
  readonly txid?: bigint;
}

/** bbolt's limits (bucket.go). */
const MAX_KEY_SIZE = 32768;
const MAX_VALUE_SIZE = 2 ** 31 - 2;

interface LeafElement {
  readonly flags: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

interface BranchElement {
  readonly key: Uint8Array;
  readonly pgid: number;
}

export function writeBolt(root: BoltBucket, options: WriteOptions = {}): Uint8Array {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw new BoltError(`bad page size ${pageSize}`);
  const txid = options.txid ?? 2n;
  if (txid < 1n) throw new BoltError('txid must be at least 1');
  for (const item of root.items) {
    if (item.bucket === undefined) throw new BoltError('the root bucket may hold only buckets');
  }
  const pages = new PageWriter(pageSize);
  const rootPgid = pages.bucketTree(root);
  const pgid = pages.next;
  const out = new Uint8Array(pgid * pageSize);
  for (const [id, bytes] of pages.written) out.set(bytes, id * pageSize);
  const view = new DataView(out.buffer);
  writePageHeader(view, 2 * pageSize, { id: 2, flags: FREELIST_PAGE_FLAG, count: 0, overflow: 0 });
  const meta = { pageSize, flags: 0, root: rootPgid, rootSequence: root.sequence ?? 0n, freelist: 2, pgid };
  writeMetaPage(out, 0, 0, { ...meta, txid });
  writeMetaPage(out, pageSize, 1, { ...meta, txid: txid - 1n });
  return out;
}

class PageWriter {
  /** The next free page id: 0 and 1 are the metas, 2 the freelist. */
  next = 3;
  readonly written: [number, Uint8Array][] = [];

  private readonly pageSize: number;

  constructor(pageSize: number) {
    this.pageSize = pageSize;
  }

  /** Writes a bucket's tree (its nested buckets first) and returns its root page. */
  bucketTree(bucket: BoltBucket): number {
    const elements = this.leafElements(bucket);
    let level: BranchElement[] = this.pack(elements, leafElementSize).map((group) => ({
      key: group[0]?.key ?? new Uint8Array(0),
      pgid: this.allocate(leafPage(group, this.pageSize, false)),
    }));
    while (level.length > 1) {
      level = this.pack(level, branchElementSize).map((group) => ({
        key: group[0].key,
        pgid: this.allocate(branchPage(group, this.pageSize)),
      }));
    }
    return level[0].pgid;
  }

  private leafElements(bucket: BoltBucket): LeafElement[] {
    const items = [...bucket.items].sort((a, b) => compareKeys(a.key, b.key));
    return items.map((item, i) => {
      if (item.key.length === 0) throw new BoltError('bbolt keys may not be empty');
      if (item.key.length > MAX_KEY_SIZE) throw new BoltError(`key of ${item.key.length} bytes is too large`);
      if (i > 0 && compareKeys(items[i - 1].key, item.key) === 0)
        throw new BoltError('duplicate key in a bucket');
      if (item.bucket === undefined) {
        if (item.value.length > MAX_VALUE_SIZE) throw new BoltError('value too large');
        return { flags: 0, key: item.key, value: item.value };
      }
      return { flags: BUCKET_LEAF_FLAG, key: item.key, value: this.bucketValue(item.bucket) };
    });
  }

  /** A nested bucket's value: {root, sequence}, followed by its page when inline (root 0). */
  private bucketValue(bucket: BoltBucket): Uint8Array {
    const sequence = bucket.sequence ?? 0n;
    if (inlineable(bucket, this.pageSize)) {
      const page = leafPage(this.leafElements(bucket), this.pageSize, true);
      const value = new Uint8Array(BUCKET_HEADER_SIZE + page.length);
      const view = new DataView(value.buffer);
      view.setBigUint64(0, 0n, true);
      view.setBigUint64(8, sequence, true);
      value.set(page, BUCKET_HEADER_SIZE);
      return value;
    }
    const root = this.bucketTree(bucket);
    const value = new Uint8Array(BUCKET_HEADER_SIZE);
    const view = new DataView(value.buffer);
    view.setBigUint64(0, BigInt(root), true);
    view.setBigUint64(8, sequence, true);
    return value;
  }

  /** Groups elements in order so that each group fits a page (a lone oversized element gets its own group). */
  private pack<T>(elements: readonly T[], size: (e: T) => number): T[][] {
    const groups: T[][] = [];
    let group: T[] = [];
    let used = PAGE_HEADER_SIZE;
    for (const e of elements) {
      const s = size(e);
      if (group.length > 0 && used + s > this.pageSize) {
        groups.push(group);
        group = [];
        used = PAGE_HEADER_SIZE;
      }
      group.push(e);
      used += s;
    }
    if (group.length > 0 || groups.length === 0) groups.push(group);
    return groups;
  }

  /** Assigns the next page id(s) to a page image and stamps its id. */
  private allocate(page: Uint8Array): number {
    const id = this.next;
    this.next += page.length / this.pageSize;
    new DataView(page.buffer, page.byteOffset, page.byteLength).setBigUint64(0, BigInt(id), true);
    this.written.push([id, page]);
    return id;
  }
}

const leafElementSize = (e: LeafElement) => LEAF_ELEMENT_SIZE + e.key.length + e.value.length;
const branchElementSize = (e: BranchElement) => BRANCH_ELEMENT_SIZE + e.key.length;

/** bbolt's Bucket.inlineable: no nested buckets and a page no larger than a quarter of a page. */
function inlineable(bucket: BoltBucket, pageSize: number): boolean {
  let size = PAGE_HEADER_SIZE;
  for (const item of bucket.items) {
    if (item.bucket !== undefined) return false;
    size += LEAF_ELEMENT_SIZE + item.key.length + item.value.length;
    if (size > pageSize / 4) return false;
  }
  return true;
}

/** A leaf page image: header, elements, then each key and value. Inline pages are not rounded to pages. */
function leafPage(elements: readonly LeafElement[], pageSize: number, inline: boolean): Uint8Array {
  let size = PAGE_HEADER_SIZE;
  for (const e of elements) size += leafElementSize(e);
  const pages = Math.ceil(size / pageSize);
  const page = new Uint8Array(inline ? size : pages * pageSize);
  const view = new DataView(page.buffer);
  writePageHeader(view, 0, {
    id: 0,
    flags: LEAF_PAGE_FLAG,
    count: countOf(elements.length),
    overflow: inline ? 0 : pages - 1,
  });
  let data = PAGE_HEADER_SIZE + elements.length * LEAF_ELEMENT_SIZE;
  elements.forEach((e, i) => {
    const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    view.setUint32(at, e.flags, true);
    view.setUint32(at + 4, data - at, true);
    view.setUint32(at + 8, e.key.length, true);
    view.setUint32(at + 12, e.value.length, true);
    page.set(e.key, data);
    page.set(e.value, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return page;
}

function branchPage(elements: readonly BranchElement[], pageSize: number): Uint8Array {
  let size = PAGE_HEADER_SIZE;
  for (const e of elements) size += branchElementSize(e);
  const pages = Math.ceil(size / pageSize);
  const page = new Uint8Array(pages * pageSize);
  const view = new DataView(page.buffer);
  writePageHeader(view, 0, {
    id: 0,
    flags: BRANCH_PAGE_FLAG,
    count: countOf(elements.length),
    overflow: pages - 1,
  });
  let data = PAGE_HEADER_SIZE + elements.length * BRANCH_ELEMENT_SIZE;
  elements.forEach((e, i) => {
    const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
    view.setUint32(at, data - at, true);
    view.setUint32(at + 4, e.key.length, true);
    view.setBigUint64(at + 8, BigInt(e.pgid), true);
    page.set(e.key, data);
    data += e.key.length;
  });
  return page;
}

function countOf(n: number): number {
  if (n > 0xffff) throw new BoltError(`${n} elements do not fit one page`);
  return n;
}
