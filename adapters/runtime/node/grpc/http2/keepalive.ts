// gRPC keepalive on one connection, as etcd 3.4 configures grpc-go's server (v3rpc/grpc.go):
// - --grpc-keepalive-interval / --grpc-keepalive-timeout: after `interval` with no frame from the client, the server
//   pings it; with still nothing `timeout` later, the connection is closed (a peer gone without a FIN frees its
//   streams). Either 0: grpc-go's defaults, 2 h and 20 s.
// - --grpc-keepalive-min-time, the enforcement policy: a client PING sooner than that after its previous one is a
//   strike (sooner than 2 h while it has no stream: etcd does not permit pings without streams); the third strike
//   ends the connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". Strikes are forgiven whenever the server
//   sends HEADERS or DATA (grpc-go's resetPingStrikes). 0: grpc-go's default, 5 minutes.

export interface KeepaliveOptions {
  readonly minTimeMs: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** grpc-go's defaults: its keepalive.ServerParameters and EnforcementPolicy when etcd passes none. */
const GRPC_INTERVAL_MS = 2 * 3600_000;
const GRPC_TIMEOUT_MS = 20_000;
const GRPC_MIN_TIME_MS = 5 * 60_000;
/** grpc-go's defaultPingTimeout: how far apart pings must be when the client has no stream open. */
const NO_STREAM_MIN_MS = 2 * 3600_000;
const MAX_PING_STRIKES = 2;

/** etcd's flag defaults. */
export const DEFAULT_KEEPALIVE: KeepaliveOptions = {
  minTimeMs: 5000,
  intervalMs: GRPC_INTERVAL_MS,
  timeoutMs: GRPC_TIMEOUT_MS,
};

export interface KeepaliveIo {
  now(): number;
  sendPing(): void;
  /** No answer to our ping: close without GOAWAY, as grpc-go does. */
  close(): void;
}

export class Keepalive {
  private readonly minTimeMs: number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly io: KeepaliveIo;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private activity = false;
  private pingSent = false;
  private lastPingAt = Number.NEGATIVE_INFINITY;
  private strikes = 0;
  private forgive = false;

  constructor(options: KeepaliveOptions, io: KeepaliveIo) {
    this.minTimeMs = options.minTimeMs > 0 ? options.minTimeMs : GRPC_MIN_TIME_MS;
    const set = options.intervalMs > 0 && options.timeoutMs > 0;
    this.intervalMs = set ? options.intervalMs : GRPC_INTERVAL_MS;
    this.timeoutMs = set ? options.timeoutMs : GRPC_TIMEOUT_MS;
    this.io = io;
    this.arm(this.intervalMs);
  }

  /** A frame arrived from the client. */
  read(): void {
    this.activity = true;
  }

  /** We sent HEADERS or DATA. */
  wrote(): void {
    this.forgive = true;
  }

  /** A PING from the client (not an ack). True: it breaks the policy, end the connection (too_many_pings). */
  ping(openStreams: number): boolean {
    const now = this.io.now();
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (this.forgive) {
      this.forgive = false;
      this.strikes = 0;
      return false;
    }
    const min = openStreams < 1 ? NO_STREAM_MIN_MS : this.minTimeMs;
    if (now - last < min) this.strikes++;
    return this.strikes > MAX_PING_STRIKES;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref?.();
  }

  private check(): void {
    if (this.activity) {
      this.activity = false;
      this.pingSent = false;
      return this.arm(this.intervalMs);
    }
    if (this.pingSent) {
      this.timer = undefined;
      return this.io.close();
    }
    this.pingSent = true;
    this.io.sendPing();
    this.arm(this.timeoutMs);
  }
}
