// What a connection sends, gathered during a turn of the event loop and written at once: frames, and the DATA of
// streams that have messages waiting (each stream's `flush` turns them into frames when the write happens). Up to
// 64 KiB go out as one buffer; more goes by reference in one corked write.

import type { Duplex } from 'node:stream';

/** A stream with DATA to send when the connection writes. */
export interface Flushable {
  flush(): void;
}

/** A turn's frames up to this size are written as one buffer. */
const COPY_BELOW = 64 * 1024;

export class FrameWriter {
  private readonly conn: Duplex;
  /** Called after the streams have flushed, before the write (writers waiting for drain). */
  private readonly afterStreams: () => void;
  private out: Buffer[] = [];
  private bytes = 0;
  private dirty: Flushable[] = [];
  private scheduled = false;
  private ended = false;

  constructor(conn: Duplex, afterStreams: () => void) {
    this.conn = conn;
    this.afterStreams = afterStreams;
  }

  write(bytes: Buffer): void {
    if (this.ended) return;
    this.out.push(bytes);
    this.bytes += bytes.length;
    this.schedule();
  }

  pending(stream: Flushable): void {
    this.dirty.push(stream);
    this.schedule();
  }

  /** Writes what is queued and ends our side of the connection: nothing is written after. */
  end(): void {
    if (this.ended) return;
    this.flush();
    this.conn.end();
    this.ended = true;
  }

  /** The connection is gone: drop what is queued. */
  stop(): void {
    this.ended = true;
    this.out = [];
    this.dirty = [];
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ended) return;
    const dirty = this.dirty;
    this.dirty = [];
    for (const s of dirty) s.flush();
    this.afterStreams();
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.bytes;
    this.out = [];
    this.bytes = 0;
    if (out.length === 1) this.conn.write(out[0]);
    else if (bytes <= COPY_BELOW) this.conn.write(Buffer.concat(out, bytes));
    else {
      this.conn.cork();
      for (const b of out) this.conn.write(b);
      this.conn.uncork();
    }
  }
}
