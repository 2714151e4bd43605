// Clients for the Jepsen-style test: each is an etcd3 client pinned to one member (no retries, no failover, a
// deadline per call), running one operation at a time on a few keys: put (a unique value), linearizable get,
// delete, and compare-and-set (txn: compare value, or version 0 for "absent" → put). Every operation is recorded with its
// invocation and completion times (performance.now(), one monotonic clock for all clients) in the shape the
// simulator's checker takes (src/sim/linearizability). An error or timeout on a write makes it indeterminate
// (return = Infinity): it may or may not have taken effect. Failed reads constrain nothing and are dropped.

import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { KvInput, KvOperation, KvOutput } from '../../../src/sim/linearizability/index.ts';

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: readonly string[];
  /** Per-call deadline (ms): each client draws its own from [lo, hi]. */
  readonly timeoutMs: readonly [number, number];
  /** A seeded random source, so that a round's choices can be replayed as far as timing allows. */
  readonly random: () => number;
}

export interface WorkloadStats {
  ok: number;
  failed: number;
  indeterminate: number;
  byOp: Record<string, number>;
  errors: Map<string, number>;
}

export function newEtcdClient(endpoint: string, timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [`http://${endpoint}`],
    dialTimeout: timeoutMs,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
}

/** An error after which the request surely never reached a member (so a write surely did not happen). */
function definitelyNotSent(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /No connection established|ECONNREFUSED/.test(msg);
}

export class Workload {
  readonly history: KvOperation[] = [];
  readonly stats: WorkloadStats = { ok: 0, failed: 0, indeterminate: 0, byOp: {}, errors: new Map() };
  private readonly clients: Etcd3[];
  private stopped = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  /** The last value each key was seen to hold (by anyone), to make CAS attempts mostly meaningful. */
  private readonly lastSeen = new Map<string, string | null>();

  constructor(
    private readonly opts: WorkloadOptions,
    private readonly tag: string,
  ) {
    const [lo, hi] = opts.timeoutMs;
    this.clients = Array.from({ length: opts.clients }, (_, i) =>
      newEtcdClient(opts.endpoints[i % opts.endpoints.length], Math.round(lo + opts.random() * (hi - lo))),
    );
  }

  start(): void {
    this.loops = this.clients.map((client, id) => this.loop(client, id));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  /** Runs one operation as client `id` (also used for the final reads after healing). */
  async run(client: Etcd3, id: number, input: KvInput): Promise<KvOperation | undefined> {
    const call = performance.now();
    this.stats.byOp[input.op] = (this.stats.byOp[input.op] ?? 0) + 1;
    let output: KvOutput;
    try {
      output = await this.execute(client, input);
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).replace(/\d+/g, 'N').slice(0, 120);
      this.stats.errors.set(msg, (this.stats.errors.get(msg) ?? 0) + 1);
      if (input.op === 'get' || definitelyNotSent(e)) {
        this.stats.failed++;
        return undefined;
      }
      this.stats.indeterminate++;
      const op: KvOperation = {
        clientId: id,
        input,
        call,
        output: { unknown: true },
        return: Number.POSITIVE_INFINITY,
      };
      this.history.push(op);
      return op;
    }
    const op: KvOperation = { clientId: id, input, call, output, return: performance.now() };
    this.stats.ok++;
    this.history.push(op);
    return op;
  }

  private async execute(client: Etcd3, input: KvInput): Promise<KvOutput> {
    switch (input.op) {
      case 'get': {
        const r = await client.get(input.key).exec();
        const kv = r.kvs[0];
        const value = kv ? kv.value.toString() : null;
        this.lastSeen.set(input.key, value);
        return { value, revision: Number(r.header.revision) };
      }
      case 'put': {
        const r = await client.put(input.key).value(input.value).exec();
        return { revision: Number(r.header.revision) };
      }
      case 'delete': {
        const r = await client.delete().key(input.key).exec();
        this.lastSeen.set(input.key, null);
        return { deleted: Number(r.deleted) };
      }
      case 'cas': {
        const txn =
          input.expectedValue === null
            ? client.if(input.key, 'Version', '==', 0)
            : client.if(input.key, 'Value', '==', input.expectedValue);
        const r = await txn.then(client.put(input.key).value(input.newValue)).commit();
        if (r.succeeded) this.lastSeen.set(input.key, input.newValue);
        return { succeeded: r.succeeded };
      }
    }
  }

  private nextInput(id: number): KvInput {
    const { keys, random } = this.opts;
    const key = keys[Math.floor(random() * keys.length)];
    const roll = random();
    const value = `${this.tag}-c${id}-${this.seq++}`;
    if (roll < 0.4) return { op: 'get', key };
    if (roll < 0.7) return { op: 'put', key, value };
    if (roll < 0.75) return { op: 'delete', key };
    const expectedValue = this.lastSeen.get(key) ?? null;
    return { op: 'cas', key, expectedValue, newValue: value };
  }

  private async loop(client: Etcd3, id: number): Promise<void> {
    // Bounded: a client stops when told to, and every call has a deadline.
    while (!this.stopped) {
      const op = await this.run(client, id, this.nextInput(id));
      if (!op || op.return === Number.POSITIVE_INFINITY) await sleep(20 + this.opts.random() * 80);
    }
  }

  clientFor(id: number): Etcd3 {
    return this.clients[id % this.clients.length];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
