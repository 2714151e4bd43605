// One group across runtimes for tests: a TestCluster of Node members (with a peer secret and browser learners
// on), `wrangler dev` hosting Durable Object members, and DO members joined with etcd's workflow (etcdctl member
// add, then the Worker's join route).
import { PEER_SECRET_HEADER } from '../../adapters/transport/fetch/index.ts';
import { startWranglerDev, type WranglerDev } from '../cloudflare/wrangler.ts';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';

export const PEER_SECRET = 'mixed-test-secret';

export interface Listed {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? '')}`);
    await sleep(200);
  }
}

export class MixedCluster {
  /** Member IDs by name, as `member add` assigned them. */
  readonly ids = new Map<string, bigint>();

  private constructor(
    readonly nodes: TestCluster,
    readonly worker: WranglerDev,
  ) {}

  static async start(): Promise<MixedCluster> {
    const nodes = await TestCluster.start({
      extraFlags: ['--experimental-peer-secret', PEER_SECRET, '--experimental-browser-learners'],
    });
    try {
      const worker = await startWranglerDev(60_000, { vars: { EDGECD_PEER_SECRET: PEER_SECRET } });
      return new MixedCluster(nodes, worker);
    } catch (e) {
      await nodes.close();
      throw e;
    }
  }

  ctl(args: string[]) {
    return etcdctl(this.nodes.endpoints, args);
  }

  memberList(): Listed[] {
    const out = this.ctl(['member', 'list', '-w', 'json']);
    if (out.status !== 0) throw new Error(out.stderr);
    // IDs exceed 2^53: read them as strings.
    const json = JSON.parse(out.stdout.replace(/"ID":(\d+)/g, '"ID":"$1"')) as { members: Partial<Listed>[] };
    return json.members.map((m) => ({
      ID: String(m.ID),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: !!m.isLearner,
    }));
  }

  /** etcdctl member add (learner or voter), then the join route; resolves once the member has published its name. */
  async addDurableObject(name: string, learner: boolean): Promise<bigint> {
    const peerURL = `${this.worker.baseUrl}?member=${name}`;
    const added = this.ctl([
      'member',
      'add',
      name,
      `--peer-urls=${peerURL}`,
      ...(learner ? ['--learner'] : []),
    ]);
    if (added.status !== 0) throw new Error(`member add ${name}: ${added.stderr}`);
    const hex = /Member\s+([0-9a-f]+) added/.exec(added.stdout)?.[1];
    if (!hex) throw new Error(`member add ${name}: no ID in ${added.stdout}`);
    const id = BigInt(`0x${hex}`);
    this.ids.set(name, id);
    const peers = this.nodes.members.map((m) => `http://127.0.0.1:${m.peerPort}`);
    const joined = await fetch(`${this.worker.baseUrl}/edgecd/v1/join/${name}`, {
      method: 'POST',
      headers: { [PEER_SECRET_HEADER]: PEER_SECRET },
      body: JSON.stringify({ peers }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await joined.text();
    if (joined.status !== 200) throw new Error(`join ${name}: ${joined.status} ${text}`);
    if ((JSON.parse(text) as { memberId: string }).memberId !== id.toString())
      throw new Error(`join ${name}: ${text}`);
    await until(`${name} started`, 60_000, async () =>
      this.memberList().some((m) => m.name === name) ? true : undefined,
    );
    return id;
  }

  async close(): Promise<void> {
    await this.worker.stop();
    await this.nodes.close();
  }
}
