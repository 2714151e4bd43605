// Jepsen-style fault test against real edgecd processes: a 3-member cluster whose peer traffic runs through
// fault-injecting proxies (test/e2e/jepsen/), concurrent etcd3 clients (put, linearizable get, CAS by txn) and a
// nemesis (partitions by drop or black hole, one-way and bridge cuts, kill -9, SIGSTOP/SIGCONT, restart all). The
// history goes to the simulator's linearizability checker; after healing, members must converge (same revision
// and HashKV) and the last acknowledged write of each key must be what every member reads.
//
// CI runs a few short rounds. Longer soaks: `npm run jepsen` (JEPSEN_ROUNDS, JEPSEN_SECONDS, JEPSEN_SEED,
// JEPSEN_NEMESES=kill,pause,..., JEPSEN_CLIENTS, JEPSEN_KEYS).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOperations, etcdKvModel, type KvOperation } from '../../src/sim/linearizability/index.ts';
import { ALL_NEMESES, type NemesisKind } from './jepsen/nemesis.ts';
import { parseHandshake } from './jepsen/proxy.ts';
import { checkReplays } from './jepsen/replay.ts';
import { checkRevisionOrder } from './jepsen/revisions.ts';
import { findLostWrites, type JepsenCluster, runRound, startJepsenCluster } from './jepsen/run.ts';

const ROUNDS = Number(process.env.JEPSEN_ROUNDS ?? 3);
const SECONDS = Number(process.env.JEPSEN_SECONDS ?? 12);
const SEED = Number(process.env.JEPSEN_SEED ?? Date.now() % 100_000);
const CLIENTS = Number(process.env.JEPSEN_CLIENTS ?? 6);
const KEYS = Number(process.env.JEPSEN_KEYS ?? 4);
const CHOSEN = (process.env.JEPSEN_NEMESES?.split(',').filter(Boolean) ?? []) as NemesisKind[];

// CI rounds: partitions, then process faults, then everything.
const PLAN: readonly (readonly NemesisKind[])[] = [
  ['partition-random', 'partition-leader', 'partition-oneway', 'partition-bridge'],
  ['kill', 'pause', 'restart-all'],
  ALL_NEMESES,
];

describe('jepsen: the checker and the bookkeeping catch what they claim to', () => {
  const op = (
    clientId: number,
    input: KvOperation['input'],
    call: number,
    output: KvOperation['output'],
    ret: number,
  ): KvOperation => ({ clientId, input, call, output, return: ret });

  it('rejects a stale read recorded the way the workload records it', () => {
    const history: KvOperation[] = [
      op(0, { op: 'put', key: 'k', value: 'a' }, 0, { revision: 2 }, 10),
      op(1, { op: 'put', key: 'k', value: 'b' }, 20, { revision: 3 }, 30),
      // Invoked after b was acknowledged, yet sees a: a stale read (e.g. served by a partitioned old leader).
      op(2, { op: 'get', key: 'k' }, 40, { value: 'a', revision: 2 }, 50),
    ];
    const report = checkOperations(etcdKvModel, history);
    expect(report.result).toBe('illegal');
    expect(report.explanation).toContain('"a"');
    // The same read concurrent with b is fine.
    const ok = history.slice(0, 2).concat(op(2, { op: 'get', key: 'k' }, 25, { value: 'a' }, 50));
    expect(checkOperations(etcdKvModel, ok).result).toBe('ok');
  });

  it('accepts an indeterminate write either way, and rejects a CAS that succeeded on a stale value', () => {
    const base = [
      op(0, { op: 'put', key: 'k', value: 'a' }, 0, {}, 10),
      op(1, { op: 'put', key: 'k', value: 'b' }, 20, { unknown: true }, Number.POSITIVE_INFINITY),
    ];
    for (const seen of ['a', 'b']) {
      const h = base.concat(op(2, { op: 'get', key: 'k' }, 30, { value: seen }, 40));
      expect(checkOperations(etcdKvModel, h).result).toBe('ok');
    }
    const bad = [
      op(0, { op: 'put', key: 'k', value: 'a' }, 0, {}, 10),
      op(1, { op: 'put', key: 'k', value: 'b' }, 20, {}, 30),
      op(2, { op: 'cas', key: 'k', expectedValue: 'a', newValue: 'c' }, 40, { succeeded: true }, 50),
    ];
    expect(checkOperations(etcdKvModel, bad).result).toBe('illegal');
  });

  it('flags a lost acknowledged write, and not one that a later write may have replaced', () => {
    const h = [
      op(0, { op: 'put', key: 'k', value: 'a' }, 0, {}, 10),
      op(1, { op: 'put', key: 'k', value: 'b' }, 20, {}, 30),
    ];
    expect(findLostWrites(h, ['k'], new Map([['k', ['b', 'b', 'b']]]), 3)).toEqual([]);
    expect(findLostWrites(h, ['k'], new Map([['k', ['b', 'a', 'b']]]), 3)).toHaveLength(1);
    const pending = h.concat(
      op(2, { op: 'put', key: 'k', value: 'c' }, 40, { unknown: true }, Number.POSITIVE_INFINITY),
    );
    expect(findLostWrites(pending, ['k'], new Map([['k', ['b', 'b', 'b']]]), 3)).toEqual([]);
  });

  it('flags revisions that go against real-time order, across keys', () => {
    const h = [
      op(0, { op: 'put', key: 'a', value: 'x' }, 0, { revision: 5 }, 10),
      op(1, { op: 'get', key: 'b' }, 20, { value: null, revision: 5 }, 30),
      op(2, { op: 'put', key: 'b', value: 'y' }, 40, { revision: 6 }, 50),
    ];
    expect(checkRevisionOrder(h)).toEqual([]);
    // A read of another key that began after the put at 5 ended, yet read at revision 4: stale across keys.
    const stale = h.concat(op(3, { op: 'get', key: 'b' }, 60, { value: null, revision: 4 }, 70));
    expect(checkRevisionOrder(stale)).toHaveLength(1);
    const dup = h.concat(op(3, { op: 'put', key: 'c', value: 'z' }, 5, { revision: 6 }, 70));
    expect(checkRevisionOrder(dup).join()).toContain('two writes at revision 6');
  });

  it('flags a replay that lost an acknowledged put or applied one twice', () => {
    const h = [
      op(0, { op: 'put', key: 'k', value: 'a' }, 0, { revision: 5 }, 10),
      op(1, { op: 'put', key: 'k', value: 'b' }, 20, { revision: 6 }, 30),
    ];
    const good = [
      { type: 'put' as const, key: 'k', value: 'a', revision: 5 },
      { type: 'put' as const, key: 'k', value: 'b', revision: 6 },
    ];
    expect(checkReplays(h, [good, good])).toEqual([]);
    expect(checkReplays(h, [good, good.slice(0, 1)]).join()).toContain('differ');
    expect(checkReplays(h, [good.slice(1)]).join()).toContain('acknowledged put');
    const twice = good.concat({ type: 'put', key: 'k', value: 'a', revision: 7 });
    expect(checkReplays(h, [twice]).join()).toContain('written twice');
  });

  it("reads the sender from a peer stream's handshake", () => {
    // preamble (magic, version 1), then a length-prefixed msgpack map {from: 7}
    const body = Buffer.from([0x81, 0xa4, ...Buffer.from('from'), 0x07]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const stream = Buffer.concat([Buffer.from([0x89, 0x45, 0x44, 0x43, 0, 0, 0, 1]), len, body]);
    expect(parseHandshake(stream)).toBe('7');
    expect(parseHandshake(stream.subarray(0, 10))).toBeUndefined();
    expect(parseHandshake(Buffer.from('GET /members HTTP/1.1\r\n'))).toBe('?');
  });
});

describe('jepsen: real cluster under faults', () => {
  let j: JepsenCluster;
  beforeAll(async () => {
    j = await startJepsenCluster();
  });
  afterAll(async () => {
    await j?.close();
  });

  for (let round = 0; round < ROUNDS; round++) {
    const nemeses = CHOSEN.length > 0 ? CHOSEN : PLAN[round % PLAN.length];
    it(
      `round ${round + 1}: ${nemeses.join(', ')}`,
      async () => {
        const r = await runRound(j, {
          seed: SEED + round,
          seconds: SECONDS,
          nemeses,
          clients: CLIENTS,
          keys: KEYS,
        });
        console.log(`${r.summary}\n  nemesis: ${r.nemesisLog.join('; ')}`);
        expect(r.linearizable.explanation ?? '').toBe('');
        expect(r.linearizable.result).toBe('ok');
        expect(r.convergence).not.toHaveProperty('error');
        expect(r.lostWrites).toEqual([]);
        expect(r.revisionOrder).toEqual([]);
        expect(r.replay).toEqual([]);
        expect(r.faultViolations).toEqual([]);
        expect(r.stats.ok).toBeGreaterThan(50);
      },
      SECONDS * 1000 + 90_000,
    );
  }
});
