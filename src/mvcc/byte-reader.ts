// Bytes read piece by piece, and the window a decoder reads them through. A member restarting with a million keys
// restores a snapshot of a few hundred MB: read whole, its buffer's fresh pages alone cost more here than decoding
// it (~2.6 ms per MB, see src/server/snapshotter.ts), so the storage hands the stored snapshot out as a ByteReader
// (LoadedState.snapshotReader) and the decoders read it through one reused buffer.

/** Bytes handed out in order, piece by piece. */
export interface ByteReader {
  /** Bytes in all. */
  readonly size: number;
  /**
   * Fills `out` from its start with the next bytes and returns how many: at least 1 while any are left (`out` not
   * empty), 0 once all `size` were read. May throw: an I/O error, or damage found (a checksum, at the last byte).
   */
  read(out: Uint8Array): number;
}

/** A reader of bytes already in memory. */
export function bytesReader(bytes: Uint8Array): ByteReader {
  let at = 0;
  return {
    size: bytes.length,
    read(out) {
      const n = Math.min(out.length, bytes.length - at);
      out.set(bytes.subarray(at, at + n), 0);
      at += n;
      return n;
    },
  };
}

/** Everything left in `reader`, `left` bytes, as one buffer (formats that are only decoded whole). */
export function readRest(reader: ByteReader, left: number): Uint8Array {
  const out = new Uint8Array(left);
  for (let at = 0; at < left; ) {
    const n = reader.read(out.subarray(at));
    if (n <= 0) throw new Error(`byte reader ended ${left - at} bytes early`);
    at += n;
  }
  return out;
}

/** Bytes a window reads at a time (and its buffer's size, unless one record is larger). */
const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * A decoder's view of a ByteReader: `bytes[at, end)` are read and not yet taken. `need(n)` makes `n` of them
 * available, moving the rest to the start of the reused buffer (grown for a record larger than it) and reading on.
 * Views of `bytes` stay right only until the next need(): a decoder copies what it keeps. Over bytes already in
 * memory (`whole`), the buffer is those bytes and views of it stay right.
 */
export class ByteWindow {
  bytes: Uint8Array;
  view: DataView;
  at = 0;
  end: number;
  private readonly reader: ByteReader | undefined;
  /** Bytes of the reader not yet read into the buffer. */
  private unread: number;

  private constructor(bytes: Uint8Array, end: number, reader: ByteReader | undefined, unread: number) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.end = end;
    this.reader = reader;
    this.unread = unread;
  }

  static whole(bytes: Uint8Array): ByteWindow {
    return new ByteWindow(bytes, bytes.length, undefined, 0);
  }

  static over(reader: ByteReader, bufferBytes = WINDOW_BYTES): ByteWindow {
    return new ByteWindow(
      new Uint8Array(Math.max(16, Math.min(bufferBytes, reader.size))),
      0,
      reader,
      reader.size,
    );
  }

  /** True when the whole is in memory (`bytes`), so that views of it stay right. */
  get inMemory(): boolean {
    return this.reader === undefined;
  }

  /** Bytes of the whole not taken yet. */
  get left(): number {
    return this.end - this.at + this.unread;
  }

  /** Makes `n` bytes available at `at`; false when fewer than that are left. */
  need(n: number): boolean {
    if (this.end - this.at >= n) return true;
    if (this.left < n) return false;
    this.refill(n);
    return true;
  }

  /** The rest as a reader (what is in the buffer, then what is not read yet). The window is not used after. */
  rest(): ByteReader {
    const reader = this.reader;
    const size = this.left;
    if (reader === undefined) return bytesReader(this.bytes.subarray(this.at, this.end));
    return {
      size,
      read: (out) => {
        if (this.at < this.end) {
          const n = Math.min(out.length, this.end - this.at);
          out.set(this.bytes.subarray(this.at, this.at + n), 0);
          this.at += n;
          return n;
        }
        return this.readOn(out);
      },
    };
  }

  private refill(n: number): void {
    const kept = this.end - this.at;
    let bytes = this.bytes;
    if (bytes.length < n) {
      bytes = new Uint8Array(n);
      bytes.set(this.bytes.subarray(this.at, this.end), 0);
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer);
    } else {
      bytes.copyWithin(0, this.at, this.end);
    }
    this.at = 0;
    this.end = kept;
    // As much as the buffer takes: fewer, larger reads.
    while (this.end < n || (this.end < bytes.length && this.unread > 0)) {
      this.end += this.readOn(bytes.subarray(this.end));
    }
  }

  private readOn(out: Uint8Array): number {
    if (this.unread === 0 || out.length === 0) return 0;
    const n = (this.reader as ByteReader).read(out.subarray(0, Math.min(out.length, this.unread)));
    if (n <= 0 || n > this.unread) throw new Error(`byte reader gave ${n} bytes with ${this.unread} to come`);
    this.unread -= n;
    return n;
  }
}
