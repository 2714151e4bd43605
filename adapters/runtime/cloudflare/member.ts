// EdgecdMember: one edgecd member in a SQLite-backed Durable Object.
//
//   storage    DurableObjectStorage over ctx.storage (the Raft log, hard state and snapshot in SQLite)
//   transport  FetchTransport: batches to the other members as RPC calls `stub.deliver(bytes)` (msgpack);
//              `fetch` also takes batches POSTed to PEER_FETCH_PATH (stub.fetch or HTTP)
//   clock      AlarmClock: timers driven by the object's alarm, by each incoming call and by setTimeout
//   API        etcd's HTTP/JSON gateway (createGateway) as the object's `fetch`
//
// Two ways to be a member:
//   - of the Worker's own cluster: the object's name is one of EDGECD_MEMBERS (see ./config.ts), IDs derived;
//   - of a running cluster it joined (./join.ts): `join()` stores the ID the cluster gave it, and from then on
//     the object starts as that member. Its peers are whatever the replicated member list says: Node members,
//     other objects of this Worker, members of other Workers. Once it applies its own removal it stops for good.
// Construction: the constructor starts the member inside blockConcurrencyWhile, so nothing reaches the object
// before createNode has loaded its state from storage — after a first start, an eviction or a reset alike. An
// object that is no member (yet) refuses every call but `join` and the directory's.
//
// Cost: heartbeats every tick keep the objects in memory (billed) while the cluster runs; see EDGECD_TICK_MS.

import { DurableObject } from 'cloudflare:workers';
import { gatewayError } from '../../../src/api/gateway/http.ts';
import { createGateway, type FetchHandler } from '../../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../../src/env.ts';
import { EtcdError } from '../../../src/etcd/errors.ts';
import type { Member } from '../../../src/etcd/types.ts';
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
import { bootstrapMembers, type ClusterConfig, type ClusterMember, clusterConfig } from './config.ts';
import { JOIN_KEY, type JoinRecord, type JoinRequest, peerDeliver, resolveJoin } from './join.ts';
import { consoleLogger } from './logger.ts';
import { durableObjectDeliver, type EdgecdEnv, type MemberId, type MemberStatus } from './stub.ts';

export {
  durableObjectDeliver,
  type EdgecdEnv,
  type MemberId,
  type MemberNamespace,
  type MemberStatus,
  type MemberStub,
  memberStub,
} from './stub.ts';

/** The part of a Durable Object's `ctx` this class uses. */
interface MemberState {
  readonly id: MemberId;
  readonly storage: DurableObjectStorageApi &
    AlarmStorage & {
      get<T>(key: string): Promise<T | undefined>;
      put<T>(key: string, value: T): Promise<void>;
    };
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

const DIRECTORY_KEY = 'edgecd:directory';
/** Set once a joined member applied its own removal. */
const REMOVED_KEY = 'edgecd:removed';

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
        if (!this.running) this.failure = new Error('this object is not a member (not joined)');
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
        console.error('[edgecd] member failed to start', this.failure.message);
      }
    });
  }

  /** Starts as the member this object is, if any: a joined one (its record), else one of EDGECD_MEMBERS. */
  private async start(): Promise<Running | undefined> {
    const config = clusterConfig(this.env);
    const joined = await this.state.storage.get<JoinRecord>(JOIN_KEY);
    if (joined && (await this.state.storage.get<boolean>(REMOVED_KEY))) {
      throw new Error(`member ${joined.name} was removed from the cluster`);
    }
    if (joined) return this.startJoined(config, joined);
    const ownId = this.state.id.toString();
    const self = config.members.find((m) => this.env.EDGECD_MEMBER.idFromName(m.name).toString() === ownId);
    if (!self) return undefined;
    const deliver = durableObjectDeliver(this.env.EDGECD_MEMBER);
    return this.startNode(
      config,
      self,
      { clusterId: config.clusterId, members: bootstrapMembers(config) },
      deliver,
    );
  }

  private startJoined(config: ClusterConfig, record: JoinRecord): Promise<Running> {
    const self = { name: record.name, id: BigInt(record.memberId), address: record.peerURL };
    const namespace = this.env.EDGECD_MEMBER;
    const deliver = peerDeliver({
      origin: new URL(record.peerURL).origin,
      local: (name, body) => namespace.get(namespace.idFromName(name)).deliver(body),
      secret: this.env.EDGECD_PEER_SECRET,
    });
    const peers = record.peers.map((p) => ({ id: BigInt(p.id), url: p.url }));
    return this.startNode(
      config,
      self,
      { clusterId: BigInt(record.clusterId), clientURLs: [record.clientURL], peers },
      deliver,
    );
  }

  private async startNode(
    config: ClusterConfig,
    self: ClusterMember,
    membership: {
      readonly clusterId: bigint;
      readonly members?: ReturnType<typeof bootstrapMembers>;
      readonly clientURLs?: readonly string[];
      readonly peers?: readonly { readonly id: bigint; readonly url: string }[];
    },
    deliver: PeerDeliver,
  ): Promise<Running> {
    const logger = consoleLogger(config.logLevel, self.name);
    const transport = new FetchTransport({ id: self.id, clusterId: membership.clusterId, deliver, logger });
    const node = await createNode({
      id: self.id,
      name: self.name,
      clusterId: membership.clusterId,
      members: membership.members,
      clientURLs: membership.clientURLs,
      storage: new DurableObjectStorage(this.state.storage),
      transport,
      clock: this.clock,
      random: cryptoRandom,
      logger,
      tickMs: config.tickMs,
      electionTimeoutMs: config.electionTimeoutMs,
      snapshotCount: config.snapshotCount,
      requestTimeoutMs: config.requestTimeoutMs,
      corruptCheckIntervalMs: config.corruptCheckMs,
      auth: config.auth,
      // As etcd stops a removed member: stop serving; a joined object forgets its membership and may join again.
      onRemoved: () => void this.removed(self.name),
    });
    // A joined member knows its peers from the join until its log tells it more.
    for (const p of membership.peers ?? []) if (p.id !== self.id) transport.addPeer(p.id, p.url);
    const quotaCheck = () => {
      // The host's own view (Status needs a user once auth is on).
      this.overQuota = node.nodeStatus().dbSize > config.quotaBytes;
      this.clock.setTimer(5000, quotaCheck);
    };
    this.clock.setTimer(5000, quotaCheck);
    return { self, config, node, transport, gateway: createGateway(node, { clock: this.clock }) };
  }

  /**
   * RPC from the Worker's join route (./join.ts): become the member the cluster added with this peer URL. Joining
   * again with the same request answers the stored record; an object that is already another member refuses.
   */
  async join(request: JoinRequest): Promise<JoinRecord> {
    const existing = await this.state.storage.get<JoinRecord>(JOIN_KEY);
    if (existing) {
      if (await this.state.storage.get<boolean>(REMOVED_KEY)) {
        throw new Error(`member ${existing.name} was removed from the cluster; join under another name`);
      }
      if (existing.peerURL === request.peerURL) return existing;
      throw new Error(`this object is already member ${existing.name} (${existing.peerURL})`);
    }
    if (this.running) throw new Error(`this object is already member ${this.running.self.name}`);
    const record = await resolveJoin(request);
    await this.state.storage.put(JOIN_KEY, record);
    await this.state.blockConcurrencyWhile(async () => {
      this.failure = undefined;
      this.running = await this.startJoined(clusterConfig(this.env), record);
    });
    return record;
  }

  private async removed(name: string): Promise<void> {
    const running = this.running;
    this.running = undefined;
    this.failure = new Error(`member ${name} was removed from the cluster`);
    console.warn(`[edgecd ${name}] removed from the cluster; stopping`);
    await running?.node.close().catch(() => {});
    // etcd wants a removed member's data dir deleted before reuse: this object stays stopped (join anew).
    await this.state.storage.put(REMOVED_KEY, true);
  }

  /** RPCs of the Worker's directory object: the names of the members this Worker hosts (joined ones). */
  async directoryAdd(name: string): Promise<void> {
    const names = new Set(await this.directoryList());
    names.add(name);
    await this.state.storage.put(DIRECTORY_KEY, [...names].sort());
  }

  async directoryList(): Promise<string[]> {
    return (await this.state.storage.get<string[]>(DIRECTORY_KEY)) ?? [];
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
      members: s.members.map((m: Member) => ({
        id: m.ID.toString(),
        name: m.name,
        peerURLs: [...m.peerURLs],
        clientURLs: [...m.clientURLs],
        isLearner: m.isLearner,
      })),
    };
  }

  alarm(): void {
    this.clock.onAlarm();
  }
}
