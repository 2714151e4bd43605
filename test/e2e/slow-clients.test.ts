// Slow and stuck clients against a real member process, its memory read from outside (inspected-member.ts: the
// resident set, and the heap after a full GC): the member keeps serving etcdctl and the JSON gateway, and what a
// stuck client costs it stays bounded. The figures go to docs/robustness.md (printed with EDGECD_REPORT=1).
// - 10,000 watch streams held open on one HTTP/2 connection (the default --max-concurrent-streams, 2^32 - 1);
// - 10,000 idle connections: silent sockets, HTTP/2 prefaces without SETTINGS, HTTP/2 prefaces and SETTINGS with no
//   request, half-sent HTTP/1.1 headers (both ends hold one descriptor per connection: the test needs `ulimit -n`
//   of at least 10,500 and skips saying so otherwise);
// - a gRPC watch and a gateway watch whose clients never read, while 50 MiB of values are written: the member's
//   heap grows by its per-stream outbox cap, not by what is written.

import { readFileSync } from 'node:fs';
import { connect as connect2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  frame,
  grpcMessage,
  HEADERS,
  PREFACE,
  readFrames,
  requestHeaders,
  SETTINGS,
  watchCreate,
} from '../support/raw-h2.ts';
import { etcdctl, sleep } from './cluster-harness.ts';
import { type InspectedMember, startInspectedMember } from './inspected-member.ts';

const CONNECTIONS = 10_000;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const report = (line: string) => {
  if (process.env.EDGECD_REPORT === '1') console.log(`[slow-clients] ${line}`);
};

/** The soft limit on open files of this process (the member inherits it). */
function openFileLimit(): number {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line?.[1] ?? 0);
}
const FD_LIMIT = openFileLimit();
const ENOUGH_FDS = FD_LIMIT >= CONNECTIONS + 500;
if (!ENOUGH_FDS) {
  console.warn(
    `slow-clients: skipping 10,000 idle connections: ulimit -n is ${FD_LIMIT}, it needs ${CONNECTIONS + 500} ` +
      '(raise it, e.g. `ulimit -n 20000`)',
  );
}

let member: InspectedMember;

beforeAll(async () => {
  // A short Raft log tail (snapshot every 100 entries, 100 kept for followers), so that the 50 MiB of writes
  // below are not held by the log itself: what grows then is what the clients make the member keep.
  member = await startInspectedMember([
    '--snapshot-count=100',
    '--experimental-snapshot-catchup-entries=100',
  ]);
}, 60_000);
afterAll(async () => {
  await member?.stop();
});

/** etcdctl and the gateway both answer, with what was just written. */
async function servesOthers(tag: string): Promise<void> {
  expect(etcdctl(member.endpoint, ['put', `${tag}/ctl`, 'v1']).stdout.trim()).toBe('OK');
  expect(etcdctl(member.endpoint, ['get', `${tag}/ctl`, '--print-value-only']).stdout.trim()).toBe('v1');
  const put = await fetch(`${member.base}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(`${tag}/gw`), value: b64('v2') }),
  });
  expect(put.status).toBe(200);
  const got = await fetch(`${member.base}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(`${tag}/gw`) }),
  });
  expect(((await got.json()) as { kvs: { value: string }[] }).kvs[0].value).toBe(b64('v2'));
}

const held = (m: { heapUsed: number; external: number }) => m.heapUsed + m.external;

describe('slow and stuck clients against a member process', () => {
  it('10,000 watch streams held open on one HTTP/2 connection: others served, memory bounded', async () => {
    const before = await member.memory();
    const session = connect2(member.base);
    session.on('error', () => {});
    let created = 0;
    for (let i = 0; i < CONNECTIONS; i++) {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/etcdserverpb.Watch/Watch',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('error', () => {});
      stream.once('data', () => created++);
      stream.write(grpcMessage(watchCreate(`streams/${i % 100}`, `streams/${i % 100}0`)));
      if (i % 1000 === 999) await sleep(0);
    }
    const deadline = Date.now() + 90_000;
    while (created < CONNECTIONS && Date.now() < deadline) await sleep(100);
    expect(created).toBe(CONNECTIONS);
    await servesOthers('streams');
    const open = await member.memory();
    const rss = member.rss();
    session.destroy();
    let after = await member.memory();
    for (let i = 0; i < 50 && held(after) - held(before) > 16 * 2 ** 20; i++) {
      await sleep(200);
      after = await member.memory();
    }
    report(
      `10,000 open watch streams: heap+external ${MiB(held(before))} -> ${MiB(held(open))} (${(
        (held(open) - held(before)) / CONNECTIONS
      ).toFixed(
        0,
      )} B a stream), ${MiB(held(after))} once closed; RSS ${MiB(before.rss)} -> ${MiB(rss.now)} (peak ${MiB(rss.peak)})`,
    );
    expect(held(open) - held(before)).toBeLessThan(256 * 2 ** 20);
    expect(held(after) - held(before)).toBeLessThan(16 * 2 ** 20);
  }, 150_000);

  it.skipIf(!ENOUGH_FDS)(
    '10,000 idle connections: others served, memory bounded, all released',
    async () => {
      const before = await member.memory();
      // (A few may be a previous test's connections on their way out: hence the slack below.)
      const fdsBefore = member.openFds();
      const sockets: Socket[] = [];
      const kinds: [string, (s: Socket) => void][] = [
        ['silent', () => {}],
        ['HTTP/2 preface only', (s) => s.write(PREFACE)],
        ['HTTP/2 preface and SETTINGS', (s) => s.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]))],
        ['half-sent HTTP/1.1 headers', (s) => s.write('POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-')],
      ];
      try {
        for (let i = 0; i < CONNECTIONS; i += 500) {
          await Promise.all(
            Array.from(
              { length: 500 },
              (_, j) =>
                new Promise<void>((resolve, reject) => {
                  const s = connect({ host: '127.0.0.1', port: member.port });
                  sockets.push(s);
                  s.once('error', reject);
                  s.once('connect', () => {
                    s.off('error', reject);
                    s.on('error', () => {});
                    s.resume();
                    kinds[(i + j) % kinds.length][1](s);
                    resolve();
                  });
                }),
            ),
          );
        }
        const deadline = Date.now() + 30_000;
        while (member.openFds() < fdsBefore + CONNECTIONS - 20 && Date.now() < deadline) await sleep(100);
        expect(member.openFds()).toBeGreaterThanOrEqual(fdsBefore + CONNECTIONS - 20);
        await servesOthers('idle');
        const open = await member.memory();
        const rss = member.rss();
        report(
          `10,000 idle connections (${kinds.map(([k]) => k).join(', ')}): heap+external ${MiB(held(before))} -> ` +
            `${MiB(held(open))} (${((held(open) - held(before)) / CONNECTIONS).toFixed(0)} B a connection); ` +
            `RSS ${MiB(before.rss)} -> ${MiB(rss.now)} (peak ${MiB(rss.peak)})`,
        );
        expect(held(open) - held(before)).toBeLessThan(128 * 2 ** 20);
        expect(sockets.every((s) => !s.destroyed)).toBe(true);
      } finally {
        for (const s of sockets) s.destroy();
      }
      const deadline = Date.now() + 30_000;
      while (member.openFds() > fdsBefore + 50 && Date.now() < deadline) await sleep(100);
      expect(member.openFds()).toBeLessThanOrEqual(fdsBefore + 50);
    },
    150_000,
  );

  it('a gRPC and a gateway watch that never read while 50 MiB is written: heap bounded, others served', async () => {
    // The gRPC client: preface, SETTINGS, acknowledgements of the server's, one watch; then it stops reading.
    const grpc = connect({ host: '127.0.0.1', port: member.port });
    grpc.on('error', () => {});
    let grpcCreated = false;
    readFrames(grpc, (f) => {
      if (f.type === 0 && f.streamId === 1) grpcCreated = true;
    });
    grpc.write(
      Buffer.concat([
        PREFACE,
        frame(SETTINGS, 0, 0),
        frame(HEADERS, 0x4, 1, requestHeaders('/etcdserverpb.Watch/Watch')),
        frame(0, 0, 1, grpcMessage(watchCreate('big/', 'big0'))),
      ]),
    );
    const gateway = connect({ host: '127.0.0.1', port: member.port });
    gateway.on('error', () => {});
    let gatewayCreated = false;
    gateway.on('data', (d) => {
      if (String(d).includes('"created":true')) gatewayCreated = true;
    });
    const body = JSON.stringify({ create_request: { key: b64('big/'), range_end: b64('big0') } });
    gateway.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const deadline = Date.now() + 10_000;
    while (!(grpcCreated && gatewayCreated) && Date.now() < deadline) await sleep(20);
    expect([grpcCreated, gatewayCreated]).toEqual([true, true]);
    grpc.pause();
    gateway.pause();

    // A client that keeps up, counting the events it gets.
    const reader = await fetch(`${member.base}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64('big/'), range_end: b64('big0') } }),
    });
    const text = reader.body?.getReader();
    const decoder = new TextDecoder();
    let seen = 0;
    void (async () => {
      let pending = '';
      for (;;) {
        const r = await text?.read().catch(() => undefined);
        if (!r || r.done) return;
        pending += decoder.decode(r.value, { stream: true });
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = JSON.parse(pending.slice(0, nl)) as { result?: { events?: unknown[] } };
          seen += line.result?.events?.length ?? 0;
          pending = pending.slice(nl + 1);
        }
      }
    })();

    const value = b64('x'.repeat(64 * 1024));
    let revision = '0';
    const write = async (rounds: number) => {
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < 50; i++) {
          const r = await fetch(`${member.base}/v3/kv/put`, {
            method: 'POST',
            body: JSON.stringify({ key: b64(`big/${i}`), value }),
          });
          revision = ((await r.json()) as { header: { revision: string } }).header.revision;
        }
        await fetch(`${member.base}/v3/kv/compaction`, {
          method: 'POST',
          body: JSON.stringify({ revision }),
        });
      }
    };
    const before = await member.memory();
    await write(8); // 400 values of 64 KiB: 25 MiB
    const half = await member.memory();
    await write(8); // 50 MiB in all
    const full = await member.memory();
    const rss = member.rss();
    await servesOthers('stuck');
    const seenBy = Date.now() + 30_000;
    while (seen < 800 && Date.now() < seenBy) await sleep(50);
    expect(seen).toBe(800);
    await text?.cancel();
    grpc.destroy();
    gateway.destroy();
    await sleep(500);
    const released = await member.memory();
    report(
      `stuck gRPC and gateway watchers, 800 x 64 KiB written (50 MiB) and compacted: heap+external ${MiB(held(before))} ` +
        `-> ${MiB(held(half))} after 25 MiB -> ${MiB(held(full))} after 50 MiB -> ${MiB(held(released))} once they ` +
        `closed; RSS ${MiB(before.rss)} -> ${MiB(rss.now)} (peak ${MiB(rss.peak)}); the reading watcher saw ${seen} events`,
    );
    // The second 25 MiB adds next to nothing, and what the stuck clients held (freed when they left) is about one
    // outbox cap (8 MiB) each: not what was written. (The rest of the growth is the member's own for writes of
    // 64 KiB — the Raft log tail and its snapshot — and is no larger after 50 MiB than after 25.)
    expect(held(full) - held(half)).toBeLessThan(12 * 2 ** 20);
    expect(held(full) - held(released)).toBeLessThan(24 * 2 ** 20);
  }, 150_000);
});
