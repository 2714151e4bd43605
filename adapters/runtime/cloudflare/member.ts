// EdgecdMember: one edgecd member in a SQLite-backed Durable Object.
//
//   storage    DurableObjectStorage over ctx.storage (the Raft log, hard state and snapshot in SQLite)
//   transport  FetchTransport: batches to the other members as RPC calls `stub.deliver(bytes)` (msgpack);
//              `fetch` also takes batches POSTed to PEER_FETCH_PATH (stub.fetch or HTTP)
//   clock      AlarmClock: timers driven by the object's alarm, by each incoming call and by setTimeout
//   API        etcd's HTTP/JSON gateway (createGateway) as the object's `fetch`
//
// Construction: the constructor starts the member inside blockConcurrencyWhile, so nothing reaches the object
// before createNode has loaded its state from storage — after a first start, an eviction or a reset alike. Which
// member an object is follows from its ID (see ./config.ts); an object that is none of the cluster's members
// refuses every call.
//
// Cost note: a live Raft group exchanges heartbeats every tick, so its objects stay in memory (and billed for
// duration) while the cluster runs; raise EDGECD_TICK_MS to trade failover speed for fewer requests.

import { DurableObject } from 'cloudflare:workers';
import { EtcdError } from '../../../src/api/errors.ts';
import { gatewayError } from '../../../src/api/gateway/http.ts';
import { createGateway, type FetchHandler } from '../../../src/api/gateway/index.ts';
import type { LogFields, Logger } from '../../../src/env.ts';
import { cryptoRandom } from '../../../src/env.ts';
import { createNode, type EdgeNode } from '../../../src/server/node.ts';
import { DurableObjectStorage, type DurableObjectStorageApi } from '../../storage/durable-object/index.ts';
import {
  type DeliveryReply,
  encodeReply,
  FetchTransport,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
  type PeerDeliver,
} from '../../transport/fetch/index.ts';
import { AlarmClock, type AlarmStorage } from './clock.ts';
import {
  bootstrapMembers,
  type ClusterConfig,
  type ClusterMember,
  clusterConfig,
  DO_ADDRESS_PREFIX,
  type EdgecdVars,
} from './config.ts';

/** What a member's stub offers (RPC methods and fetch), as the Worker and other members see it. */
export interface MemberStub {
  fetch(request: Request): Promise<Response>;
  deliver(body: Uint8Array): Promise<DeliveryReply>;
  memberStatus(): Promise<MemberStatus>;
}

export interface MemberId {
  toString(): string;
}

/** The Durable Object namespace binding of EdgecdMember. */
export interface MemberNamespace {
  idFromName(name: string): MemberId;
  get(id: MemberId): MemberStub;
}

export interface EdgecdEnv extends EdgecdVars {
  readonly EDGECD_MEMBER: MemberNamespace;
}

/** The part of a Durable Object's `ctx` this class uses. */
interface MemberState {
  readonly id: MemberId;
  readonly storage: DurableObjectStorageApi & AlarmStorage;
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

/** A member's state as plain strings and numbers (what `memberStatus()` returns). */
export interface MemberStatus {
  readonly name: string;
  readonly id: string;
  readonly role: string;
  readonly leader: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly instance: string;
  readonly alarms: { readonly set: number; readonly fired: number };
}

export function memberStub(env: EdgecdEnv, name: string): MemberStub {
  return env.EDGECD_MEMBER.get(env.EDGECD_MEMBER.idFromName(name));
}

/** Peer batches to other members of the namespace, as RPC: `do:<name>` → `stub.deliver(body)`. */
export function durableObjectDeliver(namespace: MemberNamespace, fallback?: PeerDeliver): PeerDeliver {
  return async (address, body) => {
    if (!address.startsWith(DO_ADDRESS_PREFIX)) {
      if (fallback) return fallback(address, body);
      return { ok: false, code: 'target', reason: `no route to ${address}` };
    }
    const name = address.slice(DO_ADDRESS_PREFIX.length);
    return namespace.get(namespace.idFromName(name)).deliver(body);
  };
}

function consoleLogger(level: ClusterConfig['logLevel'], member: string): Logger {
  const rank = { debug: 0, info: 1, warn: 2, error: 3 } as const;
  const log =
    (l: keyof typeof rank, out: (...args: unknown[]) => void) => (message: string, fields?: LogFields) => {
      if (rank[l] < rank[level]) return;
      out(`[edgecd ${member}] ${message}`, fields ? JSON.stringify(fields, bigintJson) : '');
    };
  return {
    debug: log('debug', console.debug),
    info: log('info', console.info),
    warn: log('warn', console.warn),
    error: log('error', console.error),
  };
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Gateway paths that can add data; refused with NOSPACE past the quota (as etcd refuses Put, Txn, LeaseGrant). */
const WRITE_PATHS = new Set(['/v3/kv/put', '/v3/kv/txn', '/v3/lease/grant']);

interface Running {
  readonly self: ClusterMember;
  readonly config: ClusterConfig;
  readonly node: EdgeNode;
  readonly transport: FetchTransport;
  readonly gateway: FetchHandler;
}

export class EdgecdMember extends DurableObject<EdgecdEnv> {
  /** Tells one instance of the class from the next (after an eviction or a reset). */
  readonly instanceId = crypto.randomUUID();
  private readonly state: MemberState;
  private readonly clock: AlarmClock;
  private running?: Running;
  private failure?: Error;
  private overQuota = false;

  constructor(ctx: unknown, env: EdgecdEnv) {
    super(ctx as never, env);
    this.state = ctx as MemberState;
    this.clock = new AlarmClock(this.state.storage, {
      onError: (error) => console.error('[edgecd] timer or alarm failed', String(error)),
    });
    void this.state.blockConcurrencyWhile(async () => {
      try {
        this.running = await this.start();
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
        console.error('[edgecd] member failed to start', this.failure.message);
      }
    });
  }

  private async start(): Promise<Running> {
    const config = clusterConfig(this.env);
    const ownId = this.state.id.toString();
    const self = config.members.find((m) => this.env.EDGECD_MEMBER.idFromName(m.name).toString() === ownId);
    if (!self) throw new Error(`this object (${ownId}) is not one of ${config.members.map((m) => m.name)}`);
    const logger = consoleLogger(config.logLevel, self.name);
    const transport = new FetchTransport({
      id: self.id,
      clusterId: config.clusterId,
      deliver: durableObjectDeliver(this.env.EDGECD_MEMBER),
      logger,
    });
    const node = await createNode({
      id: self.id,
      name: self.name,
      clusterId: config.clusterId,
      members: bootstrapMembers(config),
      storage: new DurableObjectStorage(this.state.storage),
      transport,
      clock: this.clock,
      random: cryptoRandom,
      logger,
      tickMs: config.tickMs,
      electionTimeoutMs: config.electionTimeoutMs,
      snapshotCount: config.snapshotCount,
      requestTimeoutMs: config.requestTimeoutMs,
      auth: config.auth,
    });
    const quotaCheck = () => {
      void node.status().then(
        (s) => {
          this.overQuota = s.dbSize > config.quotaBytes;
        },
        () => {},
      );
      this.clock.setTimer(5000, quotaCheck);
    };
    this.clock.setTimer(5000, quotaCheck);
    return { self, config, node, transport, gateway: createGateway(node, { clock: this.clock }) };
  }

  private member(): Running {
    this.clock.runDue();
    if (!this.running) throw this.failure ?? new Error('member not started');
    return this.running;
  }

  /** etcd's JSON gateway, and peer batches POSTed to PEER_FETCH_PATH. */
  async fetch(request: Request): Promise<Response> {
    let running: Running;
    try {
      running = this.member();
    } catch (error) {
      return gatewayError(new EtcdError('Unavailable', (error as Error).message));
    }
    const path = new URL(request.url).pathname;
    if (path === PEER_FETCH_PATH) {
      if (request.method !== 'POST') return new Response('method not allowed', { status: 405 });
      const reply = running.transport.receive(new Uint8Array(await request.arrayBuffer()));
      return new Response(encodeReply(reply) as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': PEER_CONTENT_TYPE },
      });
    }
    if (this.overQuota && WRITE_PATHS.has(path.replace(/^\/v3beta\//, '/v3/'))) {
      return gatewayError(EtcdError.of('ErrNoSpace'));
    }
    return running.gateway(request);
  }

  /** RPC from another member's FetchTransport: one batch of Raft messages. */
  deliver(body: Uint8Array): DeliveryReply {
    let running: Running;
    try {
      running = this.member();
    } catch (error) {
      return { ok: false, code: 'closed', reason: (error as Error).message };
    }
    return running.transport.receive(body);
  }

  /** RPC for tests and operators: who this member is and what it knows. */
  memberStatus(): MemberStatus {
    const { node, self } = this.member();
    const s = node.nodeStatus();
    return {
      name: self.name,
      id: s.id.toString(),
      role: s.role,
      leader: s.leader.toString(),
      term: s.term,
      commit: s.commit,
      applied: s.applied,
      revision: s.revision,
      instance: this.instanceId,
      alarms: { set: this.clock.stats.alarmsSet, fired: this.clock.stats.alarmsFired },
    };
  }

  alarm(): void {
    this.clock.onAlarm();
  }
}
