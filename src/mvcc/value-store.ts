// Where the store keeps its values. A byte string in its own ArrayBuffer costs ~250 bytes beyond its bytes, and a
// view of a shared buffer ~96: more than a 256-byte value's share of the keyspace's memory. So values are copied
// into shared segments (64 KiB) and a record holds its segment and one small integer for the offset and length
// (packPlace; ./record.ts); a view is made only when a value is read.
//
// With a spill (a scratch file the host gives: ValueSpill), only the most recently used segments stay in memory
// (`residentBytes`, 4 MiB by default); the others are written to the spill once (a full segment never changes).
// A value of a spilled segment is read back alone (the page cache keeps the spill's recent pages, as it keeps
// bbolt's), the whole segment only when a second value of it is read in a row (a range over keys written
// together). Nothing there needs to survive the process: the Raft log and the snapshots are the
// keyspace's durable copy, and a restarted member rebuilds its values from them. This is etcd's arrangement —
// bbolt keeps the keyspace in a file and the page cache decides what is in memory — with the choice made here.
//
// A segment's bytes never change once written, so a view handed out stays right after the segment leaves memory
// (the view keeps its buffer). When compaction has emptied most of a segment, its survivors move into the
// current one (relocate()) and its place in the spill is reused — except while a captured snapshot, which reads
// the records of that moment later, is still being written (pin()).

import { EMPTY_BYTES } from './bytes.ts';

/** A scratch file: positions are bytes from its start; what was written at a position is read back from it. */
export interface ValueSpill {
  write(position: number, bytes: Uint8Array): void;
  /** Fills `into` with the bytes written at `position` (the start of a write or any place within it). */
  read(position: number, into: Uint8Array): void;
}

/**
 * A spilled value could not be read back (an I/O error on the scratch file). The member must stop, as etcd panics
 * when its backend cannot read a page: answering without the value would make this member differ from the others.
 */
export class SpillReadError extends Error {
  constructor(position: number, cause: unknown) {
    super(`value spill: cannot read at ${position}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = 'SpillReadError';
  }
}

export interface ValueStoreOptions {
  /** Where full segments go when more than `residentBytes` of them are in memory; none = all stay in memory. */
  readonly spill?: ValueSpill;
  /** With a spill: the segments kept in memory (4 MiB). */
  readonly residentBytes?: number;
  /** Told of a spill read that failed (before SpillReadError is thrown): a read must stop the member too. */
  readonly onReadError?: (error: SpillReadError) => void;
  /** One segment's size (64 KiB); a value of 4 KiB or more (or half a segment) takes a segment of its own. */
  readonly segmentBytes?: number;
}

// A value's place in its segment as one number that V8 keeps unboxed in the record (a small integer, below 2^31):
// offset × 4096 + length for a value in a shared segment (offsets below 2^18, lengths below 4096: larger values
// take a segment of their own), and -1 for a value that is its segment's whole content.
const LENGTH_SPAN = 4096;
const MAX_SEGMENT = 1 << 18;
const WHOLE_SEGMENT = -1;

export function packPlace(segment: ValueSegment | undefined, offset: number, length: number): number {
  if (length < LENGTH_SPAN && offset < MAX_SEGMENT) return offset * LENGTH_SPAN + length;
  if (offset === 0 && segment !== undefined && length === segment.used && !segment.adopted)
    return WHOLE_SEGMENT;
  throw new Error(`value store: no place for ${length} bytes at ${offset}`);
}

export function placeOffset(place: number): number {
  return place === WHOLE_SEGMENT ? 0 : Math.floor(place / LENGTH_SPAN);
}

export function placeLength(place: number, segment: ValueSegment | undefined): number {
  return place === WHOLE_SEGMENT ? (segment as ValueSegment).used : place % LENGTH_SPAN;
}

/** What holds a value: the store places it (after keep()) and moves it (relocate()). */
export interface ValueHolder {
  readonly valueSegment: ValueSegment | undefined;
  readonly valueOffset: number;
  readonly valueLength: number;
  placeValue(segment: ValueSegment | undefined, offset: number, length: number): void;
}

export class ValueSegment {
  /** The bytes while in memory (the whole segment; `used` of them written). */
  bytes: Uint8Array | undefined;
  /** Bytes written so far. */
  used = 0;
  /** Bytes that holders still hold. */
  live = 0;
  /** Where the spill holds a copy; -1 = nowhere yet. */
  position = -1;
  /** A view of its bytes was handed out (read()): they must never be reused for another segment. */
  lent = false;
  /** Its size in memory and in the spill. */
  readonly capacity: number;
  /**
   * A window of a buffer the store did not make (adopt): never spilled, never written; survivors move out when
   * the buffer as a whole (its windows together) is sparse.
   */
  readonly adopted: AdoptedBuffer | undefined;
  private readonly store: ValueStore;

  constructor(store: ValueStore, bytes: Uint8Array, adopted?: AdoptedBuffer) {
    this.store = store;
    this.bytes = bytes;
    this.capacity = bytes.length;
    this.adopted = adopted;
  }

  /** The value at `offset`: a view that stays right for as long as it is held. */
  read(offset: number, length: number): Uint8Array {
    const bytes = this.bytes;
    if (bytes === undefined) return this.store.readSpilled(this, offset, length);
    this.store.touch(this);
    this.lent = true;
    return bytes.subarray(offset, offset + length);
  }

  /** The value at `offset`, valid only until the next peek or read: for scans that copy it at once. */
  peek(offset: number, length: number): Uint8Array {
    const bytes = this.bytes ?? this.store.scan(this);
    return bytes.subarray(offset, offset + length);
  }
}

/** An adopted buffer: the segments its values are placed in (windows of MAX_SEGMENT bytes) and what they hold. */
class AdoptedBuffer {
  readonly windows: (ValueSegment | undefined)[] = [];
  used = 0;
  live = 0;
}

const DEFAULT_SEGMENT = 64 * 1024;
const DEFAULT_RESIDENT = 4 * 1024 * 1024;
const SPARE_BUFFERS = 16;

export class ValueStore {
  private readonly spill: ValueSpill | undefined;
  private readonly onReadError: ((error: SpillReadError) => void) | undefined;
  private residentBytes: number;
  private readonly segmentBytes: number;
  private readonly ownSegmentFrom: number;
  private current: ValueSegment | undefined;
  /** Full segments in memory that the spill may take (spill only), least recently read first. */
  private readonly resident = new Set<ValueSegment>();
  /** Buffers of spilled segments that no view holds (never lent), for new segments: fresh memory costs. */
  private spare: Uint8Array[] = [];
  /** The segment read last (touch() has nothing to do for it). */
  private touched: ValueSegment | undefined;
  private residentSize = 0;
  /** Adopted buffers. */
  private readonly adopted = new WeakMap<ArrayBuffer, AdoptedBuffer>();
  /** Spill places free for reuse, by size. */
  private readonly freePlaces = new Map<number, number[]>();
  /** Places freed while pinned: reusable once no captured snapshot may read them. */
  private pendingPlaces: [size: number, position: number][] = [];
  private spillEnd = 0;
  private pins = 0;
  /** The spilled segment whose value was read last (readSpilled). */
  private missed: ValueSegment | undefined;
  /** The last segment a scan read from the spill, and its bytes. */
  private scanned: ValueSegment | undefined;
  private scanBytes: Uint8Array = EMPTY_BYTES;
  /** Segments that became mostly empty since the last relocation. */
  private sparseSince = 0;

  constructor(options: ValueStoreOptions = {}) {
    this.spill = options.spill;
    this.onReadError = options.onReadError;
    this.residentBytes = options.residentBytes ?? DEFAULT_RESIDENT;
    this.segmentBytes = Math.min(Math.max(options.segmentBytes ?? DEFAULT_SEGMENT, 64), MAX_SEGMENT);
    this.ownSegmentFrom = Math.min(this.segmentBytes / 2, 4096);
  }

  /** True when values may leave memory: a restore then copies them rather than adopting its buffer. */
  get spills(): boolean {
    return this.spill !== undefined;
  }

  /** Copies `bytes` into the store and places them at `holder`. */
  keep(bytes: Uint8Array, holder: ValueHolder): void {
    const n = bytes.length;
    if (n === 0) return holder.placeValue(undefined, 0, 0);
    if (n >= this.ownSegmentFrom) {
      const own = new ValueSegment(this, bytes.slice());
      own.used = own.live = n;
      this.full(own);
      return holder.placeValue(own, 0, n);
    }
    let seg = this.current;
    let filled: ValueSegment | undefined;
    if (seg === undefined || seg.used + n > this.segmentBytes) {
      filled = seg;
      seg = new ValueSegment(this, this.spare.pop() ?? new Uint8Array(this.segmentBytes));
      this.current = seg;
    }
    const at = seg.used;
    (seg.bytes as Uint8Array).set(bytes, at);
    seg.used += n;
    seg.live += n;
    holder.placeValue(seg, at, n);
    // Only now may segments leave memory (and their buffers be reused): `bytes` may be a view of one (relocate()).
    if (filled !== undefined) this.full(filled);
  }

  /**
   * Takes `buffer` as memory of the store: values that are views of it (keepAdopted()) need no copy. A restored
   * snapshot's buffer is adopted when nothing spills. Nobody may change the buffer's bytes afterwards.
   */
  adopt(buffer: ArrayBuffer): void {
    if (!this.adopted.has(buffer)) this.adopted.set(buffer, new AdoptedBuffer());
  }

  /**
   * Places `bytes` itself when it is a view of an adopted buffer and under 4 KiB (in the window of the buffer
   * where it starts), otherwise a copy (keep()).
   */
  keepAdopted(bytes: Uint8Array, holder: ValueHolder): void {
    const n = bytes.length;
    const buffer = bytes.buffer as ArrayBuffer;
    const adopted = this.adopted.get(buffer);
    if (adopted === undefined || n === 0 || n >= LENGTH_SPAN) return this.keep(bytes, holder);
    const w = Math.floor(bytes.byteOffset / MAX_SEGMENT);
    const start = w * MAX_SEGMENT;
    let seg = adopted.windows[w];
    if (seg === undefined) {
      const length = Math.min(MAX_SEGMENT + LENGTH_SPAN, buffer.byteLength - start);
      seg = new ValueSegment(this, new Uint8Array(buffer, start, length), adopted);
      adopted.windows[w] = seg;
    }
    seg.used += n;
    seg.live += n;
    adopted.used += n;
    adopted.live += n;
    holder.placeValue(seg, bytes.byteOffset - start, n);
  }

  /** The holder no longer holds its value. */
  release(holder: ValueHolder): void {
    const seg = holder.valueSegment;
    if (seg === undefined) return;
    const wasDense = !isSparse(seg);
    lessLive(seg, holder.valueLength);
    if (seg.live === 0 && seg !== this.current) this.drop(seg);
    else if (wasDense && isSparse(seg)) this.sparseSince++;
  }

  /**
   * After releases (a compaction): the values of mostly-empty segments that `holders` still hold move into the
   * current segment, so that those segments can go. `holders` must name every holder still in use.
   */
  relocate(holders: Iterable<ValueHolder>): void {
    if (this.sparseSince === 0) return;
    this.sparseSince = 0;
    for (const holder of holders) {
      const seg = holder.valueSegment;
      if (seg === undefined || seg === this.current || !isSparse(seg)) continue;
      const length = holder.valueLength;
      this.keep(seg.peek(holder.valueOffset, length), holder);
      lessLive(seg, length);
      if (seg.live === 0) this.drop(seg);
    }
  }

  /**
   * Until the returned function is called, no spill place is reused: a captured snapshot reads the values of
   * records that compaction may drop meanwhile.
   */
  pin(): () => void {
    this.pins++;
    let pinned = true;
    return () => {
      if (!pinned) return;
      pinned = false;
      if (--this.pins > 0) return;
      for (const [size, position] of this.pendingPlaces) this.freePlace(size, position);
      this.pendingPlaces = [];
    };
  }

  /** Full segments in memory (spill only), the spill file's size and the part of it holding segments. */
  stats(): { readonly residentBytes: number; readonly spillBytes: number; readonly spillUsedBytes: number } {
    let free = 0;
    for (const [size, places] of this.freePlaces) free += size * places.length;
    for (const [size] of this.pendingPlaces) free += size;
    return {
      residentBytes: this.residentSize,
      spillBytes: this.spillEnd,
      spillUsedBytes: this.spillEnd - free,
    };
  }

  /** @internal (ValueSegment) A value in `seg` was read: it leaves memory after those read before it. */
  touch(seg: ValueSegment): void {
    if (this.touched === seg || !this.resident.delete(seg)) return;
    this.resident.add(seg);
    this.touched = seg;
  }

  /**
   * @internal (ValueSegment) A value of a spilled segment. Read alone, as a copy: a 256-byte value costs a read of
   * 256 bytes from the page cache, not of the whole segment into fresh memory. A second value read from the same
   * spilled segment in a row (a range in key order over keys written together) brings the segment back instead.
   */
  readSpilled(seg: ValueSegment, offset: number, length: number): Uint8Array {
    if (this.missed !== seg) {
      this.missed = seg;
      const value = new Uint8Array(length);
      this.readSpill(seg.position + offset, value);
      return value;
    }
    this.missed = undefined;
    const bytes = (seg.capacity === this.segmentBytes && this.spare.pop()) || new Uint8Array(seg.capacity);
    this.readSpill(seg.position, bytes.subarray(0, seg.used));
    seg.bytes = bytes;
    seg.lent = true;
    this.enter(seg);
    return bytes.subarray(offset, offset + length);
  }

  /** @internal (ValueSegment) A spilled segment's bytes for a scan, without bringing it into memory. */
  scan(seg: ValueSegment): Uint8Array {
    if (this.scanned !== seg) {
      if (this.scanBytes.length < seg.used)
        this.scanBytes = new Uint8Array(Math.max(seg.used, this.segmentBytes));
      this.readSpill(seg.position, this.scanBytes.subarray(0, seg.used));
      this.scanned = seg;
    }
    return this.scanBytes;
  }

  private readSpill(position: number, into: Uint8Array): void {
    try {
      (this.spill as ValueSpill).read(position, into);
    } catch (e) {
      const error = new SpillReadError(position, e);
      this.onReadError?.(error);
      throw error;
    }
  }

  /** A segment takes no more values: the spill may take it from now on. */
  private full(seg: ValueSegment): void {
    if (this.spill === undefined) return;
    this.enter(seg);
  }

  private enter(seg: ValueSegment): void {
    this.resident.add(seg);
    this.residentSize += seg.capacity;
    if (this.residentSize > this.residentBytes) this.evict();
  }

  /** Spills the least recently read segments until what stays in memory fits `residentBytes` (keeps the newest). */
  private evict(): void {
    const spill = this.spill as ValueSpill;
    for (const seg of this.resident) {
      if (this.residentSize <= this.residentBytes || this.resident.size === 1) break;
      if (seg.position < 0) {
        const position = this.takePlace(seg.capacity);
        try {
          spill.write(position, (seg.bytes as Uint8Array).subarray(0, seg.used));
        } catch {
          // The spill cannot take it (a full disk): values stay in memory from now on. Where a value is kept
          // changes nothing a member answers, so members whose spills differ still apply entries alike.
          this.freePlace(seg.capacity, position);
          this.residentBytes = Number.POSITIVE_INFINITY;
          return;
        }
        seg.position = position;
      }
      this.resident.delete(seg);
      this.residentSize -= seg.capacity;
      this.recycle(seg);
      seg.bytes = undefined;
      if (this.touched === seg) this.touched = undefined;
    }
  }

  /** No holder holds anything in `seg` any more. */
  private drop(seg: ValueSegment): void {
    if (seg.adopted) return;
    if (seg.bytes !== undefined) {
      if (this.resident.delete(seg)) this.residentSize -= seg.capacity;
      if (this.touched === seg) this.touched = undefined;
    }
    if (seg.position >= 0) {
      // A captured snapshot may still read the segment: it keeps its bytes (in memory, or at its place while pinned).
      const size = seg.capacity;
      if (this.pins > 0) this.pendingPlaces.push([size, seg.position]);
      else this.freePlace(size, seg.position);
      if (this.scanned === seg) this.scanned = undefined;
      if (this.missed === seg) this.missed = undefined;
    }
  }

  /** Keeps the buffer of a segment leaving memory for a new one, when nothing else can hold it. */
  private recycle(seg: ValueSegment): void {
    if (!seg.lent && seg.capacity === this.segmentBytes && this.spare.length < SPARE_BUFFERS) {
      this.spare.push(seg.bytes as Uint8Array);
    }
  }

  private takePlace(size: number): number {
    const free = this.freePlaces.get(size);
    if (free !== undefined && free.length > 0) return free.pop() as number;
    const position = this.spillEnd;
    this.spillEnd += size;
    return position;
  }

  private freePlace(size: number, position: number): void {
    let free = this.freePlaces.get(size);
    if (free === undefined) this.freePlaces.set(size, (free = []));
    free.push(position);
  }
}

/** Mostly empty: an adopted buffer's windows judged together. */
function isSparse(seg: ValueSegment): boolean {
  const held = seg.adopted ?? seg;
  return held.live * 2 < held.used;
}

function lessLive(seg: ValueSegment, length: number): void {
  seg.live -= length;
  if (seg.adopted !== undefined) seg.adopted.live -= length;
}
