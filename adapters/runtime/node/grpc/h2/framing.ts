// gRPC's length-prefixed messages on an HTTP/2 stream (gRPC over HTTP/2, "Length-Prefixed-Message"): one byte of
// flags (bit 0: compressed), a 4-byte big-endian length, then the message. The reader checks each length against
// the receive limit as soon as its prefix arrives, as grpc-go's parser does, so an announced 2 GiB is refused
// before a byte of it is buffered.

/** Bytes before each message: the compressed flag and the length. */
export const PREFIX_BYTES = 5;

/** One message with its 5-byte prefix before it. */
export function frameMessage(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, PREFIX_BYTES);
  return out;
}

/**
 * Splits a stream's DATA into messages. Each message is handed over as a view whose 5-byte prefix sits right
 * before it in the same memory (strict.ts reads the compressed flag there, as it does under grpc-js).
 */
export class MessageReader {
  private readonly max: number;
  private readonly onMessage: (payload: Buffer) => void;
  private readonly onTooLarge: (length: number, max: number) => void;
  /** A message (prefix included) being filled across chunks, or a prefix cut short. */
  private partial: Buffer | undefined;
  private filled = 0;
  private stopped = false;

  constructor(
    max: number,
    onMessage: (payload: Buffer) => void,
    onTooLarge: (length: number, max: number) => void,
  ) {
    this.max = max;
    this.onMessage = onMessage;
    this.onTooLarge = onTooLarge;
  }

  /** True when the stream ended in the middle of a message (grpc-go: "unexpected EOF"). */
  get midMessage(): boolean {
    return this.partial !== undefined;
  }

  /** No more messages are wanted (the call ended): later data is dropped. */
  stop(): void {
    this.stopped = true;
    this.partial = undefined;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.stopped) {
      if (this.partial !== undefined) {
        at = this.fill(chunk, at);
        continue;
      }
      if (chunk.length - at < PREFIX_BYTES) {
        this.partial = Buffer.allocUnsafe(PREFIX_BYTES);
        this.filled = chunk.copy(this.partial, 0, at);
        return;
      }
      const length = chunk.readUInt32BE(at + 1);
      if (!this.admit(length)) return;
      const end = at + PREFIX_BYTES + length;
      if (end <= chunk.length) {
        this.onMessage(chunk.subarray(at + PREFIX_BYTES, end));
        at = end;
        continue;
      }
      this.partial = Buffer.allocUnsafe(PREFIX_BYTES + length);
      this.filled = chunk.copy(this.partial, 0, at);
      return;
    }
  }

  private admit(length: number): boolean {
    if (length <= this.max) return true;
    this.stop();
    this.onTooLarge(length, this.max);
    return false;
  }

  /** Copies from `chunk` into the partial message; hands it over once complete. Returns where it stopped. */
  private fill(chunk: Buffer, at: number): number {
    let buf = this.partial as Buffer;
    if (buf.length === PREFIX_BYTES && this.filled < PREFIX_BYTES) {
      const n = Math.min(PREFIX_BYTES - this.filled, chunk.length - at);
      chunk.copy(buf, this.filled, at, at + n);
      this.filled += n;
      at += n;
      if (this.filled < PREFIX_BYTES) return at;
      const length = buf.readUInt32BE(1);
      if (!this.admit(length)) return chunk.length;
      if (length > 0) {
        const whole = Buffer.allocUnsafe(PREFIX_BYTES + length);
        buf.copy(whole, 0);
        this.partial = buf = whole;
      }
    }
    const n = Math.min(buf.length - this.filled, chunk.length - at);
    chunk.copy(buf, this.filled, at, at + n);
    this.filled += n;
    at += n;
    if (this.filled === buf.length) {
      this.partial = undefined;
      this.onMessage(buf.subarray(PREFIX_BYTES));
    }
    return at;
  }
}
