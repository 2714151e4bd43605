// Faults in one group across runtimes, with real processes: three Node members and, in `wrangler dev`, two Durable
// Object voters and a Durable Object learner. Clients read, write and compare-and-set through the Node members'
// gateways and through the Worker while the Node leader is killed with -9 (and restarted), every Durable Object
// is evicted (wrangler dev restarted on the same storage), and the Worker side is cut off from the Node side
// (its processes frozen). The history must be linearizable (acknowledged writes are never lost, no stale read),
// and afterwards every member, Durable Objects and the learner included, holds the same keyspace (every key with
// its revisions and version).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkOperations,
  etcdKvModel,
  type KvInput,
  type KvOperation,
} from '../../src/sim/linearizability/index.ts';
import { sleep } from './cluster-harness.ts';
import { MixedCluster, until } from './mixed-harness.ts';

let m: MixedCluster;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];

beforeAll(async () => {
  m = await MixedCluster.start();
  await m.addDurableObject('do-1', false);
  await m.addDurableObject('do-2', false);
  await m.addDurableObject('do-edge-1', true);
}, 240_000);

afterAll(async () => {
  await m?.close();
});

async function post(
  base: string,
  path: string,
  body: unknown,
  timeoutMs = 3000,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** One client: operations one at a time against a random member (a Node member's gateway or the Worker). */
/** Where each operation went (the member that answered, when it did), for a failure's explanation. */
const served = new Map<KvOperation, string>();

async function client(id: number, until: number, history: KvOperation[]): Promise<void> {
  let n = 0;
  while (performance.now() < until) {
    const key = KEYS[Math.floor(Math.random() * KEYS.length)];
    const roll = Math.random();
    const value = `c${id}-${n++}`;
    const input: KvInput =
      roll < 0.4
        ? { op: 'get', key }
        : roll < 0.8
          ? { op: 'put', key, value }
          : { op: 'cas', key, expectedValue: latest(history, key), newValue: value };
    const running = m.nodes.members.filter((x) => m.nodes.isRunning(x.name));
    const base =
      Math.random() < 0.5 || running.length === 0
        ? m.worker.baseUrl
        : `http://${m.nodes.endpoint(running[Math.floor(Math.random() * running.length)].name)}`;
    const call = performance.now();
    let via = base;
    const before = history.length;
    try {
      if (input.op === 'get') {
        const r = await post(base, '/v3/kv/range', { key: b64(key) });
        via = `${base} member ${(r.header as { member_id: string }).member_id} rev ${(r.header as { revision: string }).revision}`;
        const kv = (r.kvs as { value?: string }[] | undefined)?.[0];
        history.push({
          clientId: id,
          input,
          call,
          output: { value: kv ? unb64(kv.value ?? '') : null },
          return: performance.now(),
        });
      } else if (input.op === 'put') {
        await post(base, '/v3/kv/put', { key: b64(key), value: b64(value) });
        history.push({ clientId: id, input, call, output: {}, return: performance.now() });
      } else if (input.op === 'cas') {
        const compare =
          input.expectedValue === null
            ? { key: b64(key), target: 'VERSION', result: 'EQUAL', version: '0' }
            : { key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(input.expectedValue) };
        const r = await post(base, '/v3/kv/txn', {
          compare: [compare],
          success: [{ request_put: { key: b64(key), value: b64(value) } }],
        });
        history.push({
          clientId: id,
          input,
          call,
          output: { succeeded: r.succeeded === true },
          return: performance.now(),
        });
      }
    } catch (error) {
      // A failed read changed nothing; a failed write may or may not have happened — unless it never left
      // (connection refused: nothing listened, e.g. while wrangler dev restarts).
      const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
      if (input.op !== 'get' && !refused) {
        history.push({
          clientId: id,
          input,
          call,
          output: { unknown: true },
          return: Number.POSITIVE_INFINITY,
        });
      }
      await sleep(200);
    }
    if (history.length > before) served.set(history[history.length - 1], via);
  }
}

/** The last value this history saw acknowledged for `key` (a CAS guess; any guess is a valid operation). */
function latest(history: readonly KvOperation[], key: string): string | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i];
    if (h.input.key !== key) continue;
    if ('value' in h.output) return h.output.value as string | null;
    if (h.input.op === 'put' && !('unknown' in h.output)) return h.input.value;
  }
  return null;
}

describe('one group across runtimes under faults', () => {
  it('stays linearizable through a Node leader kill -9, Durable Object eviction and a Node–Worker cut', async () => {
    const history: KvOperation[] = [];
    const end = performance.now() + 40_000;
    const clients = [0, 1, 2, 3].map((i) => client(i, end, history));
    const events: string[] = [];
    const nemesis = (async () => {
      await sleep(3000);
      const leader = await m.nodes.leaderName(10_000).catch(() => undefined);
      const victim = leader && m.nodes.members.some((x) => x.name === leader) ? leader : 'm1';
      m.nodes.kill9(victim);
      events.push(`kill -9 ${victim} (leader: ${leader})`);
      await sleep(3000);
      await m.nodes.restart(victim);
      events.push(`restart ${victim}`);
      await sleep(3000);
      await m.worker.restart();
      events.push('wrangler dev restarted: every Durable Object evicted');
      await sleep(4000);
      m.worker.pause();
      events.push('Worker side frozen (cut off)');
      await sleep(5000);
      m.worker.resume();
      events.push('Worker side back');
    })();
    await Promise.all([...clients, nemesis]);
    const acknowledged = history.filter((h) => !('unknown' in h.output));
    console.log(
      `mixed faults: ${history.length} ops (${acknowledged.length} acknowledged); ${events.join('; ')}`,
    );
    expect(acknowledged.filter((h) => h.input.op !== 'get').length).toBeGreaterThan(50);
    const report = checkOperations(etcdKvModel, history);
    if (report.result !== 'ok') {
      console.log(report.explanation);
      const trace = history
        .map((h, i) => `#${i} ${JSON.stringify(h)} via ${served.get(h) ?? '?'}`)
        .join('\n');
      console.log(
        trace
          .split('\n')
          .filter((l) => /"key":"(d)"/.test(l))
          .join('\n'),
      );
    }
    expect(report.result, report.explanation).toBe('ok');

    // Every member catches up, the learner too, and all hold the same keyspace.
    await m.nodes.waitHealthy(undefined, 60_000);
    const last = await until('a final write', 60_000, async () =>
      Number(
        (
          (await post(m.worker.baseUrl, '/v3/kv/put', { key: b64('final'), value: b64('x') })).header as {
            revision: string;
          }
        ).revision,
      ),
    );
    const bases = [
      ...m.nodes.members.map((x) => `http://${m.nodes.endpoint(x.name)}`),
      ...['do-1', 'do-2', 'do-edge-1'].map((n) => `${m.worker.baseUrl}/edgecd/member/${n}`),
    ];
    const hashes = await Promise.all(
      bases.map((base) =>
        until(`${base} at revision ${last}`, 60_000, async () => {
          const r = await post(base, '/v3/kv/range', { key: b64('final'), serializable: true });
          if (Number((r.header as { revision: string }).revision) < last) return undefined;
          // No write follows `final`: every member's whole keyspace at `last`, read from its own replica (a
          // learner refuses Hash, as etcd's do), with each key's revisions and version.
          const all = await post(base, '/v3/kv/range', {
            key: b64('\0'),
            range_end: b64('\0'),
            serializable: true,
          });
          expect(Number((all.header as { revision: string }).revision)).toBe(last);
          return JSON.stringify(all.kvs);
        }),
      ),
    );
    expect(new Set(hashes).size, `${bases.map((b, i) => `${b}=${hashes[i]}`).join(' ')}`).toBe(1);
  }, 300_000);
});
