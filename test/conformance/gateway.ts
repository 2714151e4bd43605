// The JSON gateway conformance suite: etcd 3.4.23's HTTP/JSON behaviour (ETCD-NOTES §2, the verified examples)
// checked against any edgecd deployment that serves it — the in-process fetch handler, a Node HTTP server, a
// Cloudflare Worker. A target is a base URL (plus, optionally, the fetch to reach it with); it must front a
// healthy cluster whose key space the suite may write under a random prefix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface GatewayTarget {
  /** e.g. `http://127.0.0.1:2379` (no trailing slash). */
  readonly baseUrl: string;
  /** How to send requests; defaults to the global fetch (real HTTP). */
  readonly fetch?: (request: Request) => Promise<Response>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** Reads a streamed NDJSON body line by line. */
export class LineReader {
  private buf = '';
  private readonly decoder = new TextDecoder();
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(): Promise<Json | undefined> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return JSON.parse(line) as Json;
      }
      const r = await this.reader.read();
      if (r.done) return undefined;
      this.buf += this.decoder.decode(r.value, { stream: true });
    }
  }
}

export function runGatewayConformance(name: string, makeTarget: () => Promise<GatewayTarget>): void {
  describe(`JSON gateway conformance: ${name}`, () => {
    let target: GatewayTarget;
    const prefix = `gw-${Math.random().toString(36).slice(2, 8)}/`;
    const k = (s: string) => b64(prefix + s);

    beforeAll(async () => {
      target = await makeTarget();
    }, 30_000);
    afterAll(async () => {
      await target?.close();
    });

    const send = (path: string, init: RequestInit = {}): Promise<Response> => {
      const request = new Request(`${target.baseUrl}${path}`, init);
      return target.fetch ? target.fetch(request) : fetch(request);
    };
    const post = async (path: string, body: unknown = {}, headers: Record<string, string> = {}) => {
      const res = await send(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: Json = {};
      try {
        json = JSON.parse(text) as Json;
      } catch {}
      return { status: res.status, headers: res.headers, text, json };
    };
    const header = (r: { json: Json }) => r.json.header as Json;
    const revisionOf = async () => Number(header(await post('/v3/kv/range', { key: k('none') })).revision);

    describe('KV', () => {
      it('put returns the header with int64 fields as strings, and prev_kv when asked', async () => {
        const first = await post('/v3/kv/put', { key: k('foo'), value: b64('bar') });
        expect(first.status).toBe(200);
        expect(Object.keys(first.json)).toEqual(['header']); // no prev_kv: zero values omitted
        const h = header(first);
        for (const f of ['cluster_id', 'member_id', 'revision', 'raft_term']) expect(h[f]).toMatch(/^\d+$/);

        const second = await post('/v3/kv/put', { key: k('foo'), value: b64('baz'), prev_kv: true });
        expect(second.status).toBe(200);
        expect(Number(header(second).revision)).toBe(Number(h.revision) + 1);
        const prev = second.json.prev_kv as Json;
        expect(prev).toEqual({
          key: k('foo'),
          create_revision: h.revision,
          mod_revision: h.revision,
          version: '1',
          value: b64('bar'),
        });
      });

      it('range: single key, count as a string, header revision is the current one', async () => {
        await post('/v3/kv/put', { key: k('r1'), value: b64('v1') });
        const r = await post('/v3/kv/range', { key: k('r1') });
        expect(r.status).toBe(200);
        expect(r.json.count).toBe('1');
        expect(r.json.more).toBeUndefined();
        const kv = (r.json.kvs as Json[])[0];
        expect(kv.key).toBe(k('r1'));
        expect(kv.value).toBe(b64('v1'));
        expect(kv.version).toBe('1');
        expect(kv.lease).toBeUndefined();
        expect(kv.create_revision).toBe(kv.mod_revision);
      });

      it('range: prefix with limit, sort (enum name or number), count_only, keys_only', async () => {
        for (const s of ['a', 'b', 'c']) await post('/v3/kv/put', { key: k(`p/${s}`), value: b64(s) });
        const end = b64(`${prefix}p0`); // "p/" + 1 = "p0"
        const limited = await post('/v3/kv/range', {
          key: k('p/'),
          range_end: end,
          limit: 2,
          sort_order: 'DESCEND',
          sort_target: 'KEY',
        });
        expect((limited.json.kvs as Json[]).map((kv) => unb64(kv.key as string))).toEqual([
          `${prefix}p/c`,
          `${prefix}p/b`,
        ]);
        expect(limited.json.more).toBe(true);
        expect(limited.json.count).toBe('3');

        const numeric = await post('/v3/kv/range', {
          key: k('p/'),
          range_end: end,
          sort_order: 2,
          limit: '1',
        });
        expect(unb64((numeric.json.kvs as Json[])[0].key as string)).toBe(`${prefix}p/c`);

        const countOnly = await post('/v3/kv/range', { key: k('p/'), range_end: end, count_only: true });
        expect(countOnly.json.kvs).toBeUndefined();
        expect(countOnly.json.count).toBe('3');

        const keysOnly = await post('/v3/kv/range', { key: k('p/'), range_end: end, keys_only: true });
        expect((keysOnly.json.kvs as Json[]).every((kv) => kv.value === undefined && kv.key)).toBe(true);
      });

      it('range of a missing key omits kvs and count', async () => {
        const r = await post('/v3/kv/range', { key: k('missing') });
        expect(r.status).toBe(200);
        expect(Object.keys(r.json)).toEqual(['header']);
      });

      it('range at a future revision: 400, code 11, etcd text', async () => {
        const r = await post('/v3/kv/range', { key: k('foo'), revision: '999999999' });
        expect(r.status).toBe(400);
        const msg = 'etcdserver: mvcc: required revision is a future revision';
        expect(r.json).toEqual({ error: msg, message: msg, code: 11 });
      });

      it('deleterange with a prefix and prev_kv', async () => {
        await post('/v3/kv/put', { key: k('d/1'), value: b64('x') });
        await post('/v3/kv/put', { key: k('d/2'), value: b64('y') });
        const r = await post('/v3/kv/deleterange', {
          key: k('d/'),
          range_end: b64(`${prefix}d0`),
          prev_kv: true,
        });
        expect(r.status).toBe(200);
        expect(r.json.deleted).toBe('2');
        expect((r.json.prev_kvs as Json[]).map((kv) => unb64(kv.value as string))).toEqual(['x', 'y']);
        const none = await post('/v3/kv/deleterange', { key: k('d/1') });
        expect(none.json.deleted).toBeUndefined();
      });

      it('txn compare-and-set with base64 values and enum names; nested headers carry only revision', async () => {
        await post('/v3/kv/put', { key: k('cas'), value: b64('1') });
        const txn = (expect: string, to: string) => ({
          compare: [{ key: k('cas'), result: 'EQUAL', target: 'VALUE', value: b64(expect) }],
          success: [{ request_put: { key: k('cas'), value: b64(to) } }, { request_range: { key: k('cas') } }],
          failure: [{ request_range: { key: k('cas') } }],
        });
        const ok = await post('/v3/kv/txn', txn('1', '2'));
        expect(ok.status).toBe(200);
        expect(ok.json.succeeded).toBe(true);
        const rev = header(ok).revision;
        const [put, range] = ok.json.responses as Json[];
        expect(put).toEqual({ response_put: { header: { revision: rev } } });
        const rr = range.response_range as Json;
        expect(rr.header).toEqual({ revision: rev });
        expect(rr.count).toBe('1');
        expect(((rr.kvs as Json[])[0] as Json).value).toBe(b64('2'));

        const fail = await post('/v3/kv/txn', txn('1', '3'));
        expect(fail.json.succeeded).toBeUndefined(); // false is omitted
        expect(header(fail).revision).toBe(rev); // a read-only branch does not bump
        const fr = (fail.json.responses as Json[])[0].response_range as Json;
        expect(((fr.kvs as Json[])[0] as Json).value).toBe(b64('2'));
      });

      it('txn with enum numbers and camelCase JSON names', async () => {
        const r = await post('/v3/kv/txn', {
          compare: [{ key: k('cas'), result: 3, target: 0, version: '0' }], // NOT_EQUAL VERSION 0: exists
          success: [{ requestRange: { key: k('cas'), keysOnly: true } }],
        });
        expect(r.json.succeeded).toBe(true);
      });

      it('compaction, then the compacted error body', async () => {
        await post('/v3/kv/put', { key: k('c'), value: b64('1') });
        const rev = await revisionOf();
        const c = await post('/v3/kv/compaction', { revision: rev });
        expect(c.status).toBe(200);
        expect(Object.keys(c.json)).toEqual(['header']);
        const again = await post('/v3/kv/compaction', { revision: rev });
        const msg = 'etcdserver: mvcc: required revision has been compacted';
        expect(again.status).toBe(400);
        expect(again.json).toEqual({ error: msg, message: msg, code: 11 });
        const old = await post('/v3/kv/range', { key: k('c'), revision: rev - 1 });
        expect(old.json).toEqual({ error: msg, message: msg, code: 11 });
      });

      it('an empty key is etcd’s "key is not provided" (code 3)', async () => {
        const r = await post('/v3/kv/put', {});
        expect(r.status).toBe(400);
        expect(r.json.code).toBe(3);
        expect(r.json.message).toBe('etcdserver: key is not provided');
      });
    });

    describe('watch stream', () => {
      const openWatch = async (body: string) => {
        const controller = new AbortController();
        const res = await send('/v3/watch', { method: 'POST', body, signal: controller.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/json');
        return { lines: new LineReader(res.body!.getReader()), abort: () => controller.abort() };
      };

      it('created, then PUT and DELETE events with prev_kv', async () => {
        const w = await openWatch(JSON.stringify({ create_request: { key: k('w'), prev_kv: true } }));
        try {
          const created = (await w.lines.next())!.result as Json;
          expect(created.created).toBe(true);
          expect(created.watch_id).toBeUndefined(); // first watch id is 0: omitted
          expect((created.header as Json).cluster_id).toMatch(/^\d+$/);

          await post('/v3/kv/put', { key: k('w'), value: b64('1') });
          await post('/v3/kv/put', { key: k('w'), value: b64('2') });
          await post('/v3/kv/deleterange', { key: k('w') });
          const events: Json[] = [];
          while (events.length < 3) {
            const line = (await w.lines.next())!;
            events.push(...((line.result as Json).events as Json[]));
          }
          const [put1, put2, del] = events;
          expect(put1.type).toBeUndefined(); // PUT is the zero enum value
          expect((put1.kv as Json).value).toBe(b64('1'));
          expect((put1.kv as Json).version).toBe('1');
          expect(put1.prev_kv).toBeUndefined();
          expect((put2.prev_kv as Json).value).toBe(b64('1'));
          expect(del.type).toBe('DELETE');
          expect(Object.keys(del.kv as Json).sort()).toEqual(['key', 'mod_revision']);
        } finally {
          w.abort();
        }
      });

      it('several request objects in one body; progress reply has watch_id "-1"', async () => {
        const body =
          JSON.stringify({ create_request: { key: k('w2'), watch_id: 7 } }) +
          JSON.stringify({ progress_request: {} });
        const w = await openWatch(body);
        try {
          const created = (await w.lines.next())!.result as Json;
          expect(created).toMatchObject({ watch_id: '7', created: true });
          const progress = (await w.lines.next())!.result as Json;
          expect(progress.watch_id).toBe('-1');
          expect((progress.header as Json).revision).toMatch(/^\d+$/);
        } finally {
          w.abort();
        }
      });

      it('a watch from a compacted revision: created, then canceled with compact_revision', async () => {
        await post('/v3/kv/put', { key: k('wc'), value: b64('1') });
        const rev = await revisionOf();
        await post('/v3/kv/compaction', { revision: rev });
        const w = await openWatch(JSON.stringify({ create_request: { key: k('wc'), start_revision: 1 } }));
        try {
          expect(((await w.lines.next())!.result as Json).created).toBe(true);
          const canceled = (await w.lines.next())!.result as Json;
          expect(canceled.canceled).toBe(true);
          expect(Number(canceled.compact_revision)).toBeGreaterThanOrEqual(rev);
          expect((canceled.header as Json).revision).toBeUndefined();
        } finally {
          w.abort();
        }
      });

      it('a malformed first request: 500 with code 2 and the decoder text, as etcd 3.4 (grpc-gateway stream handlers)', async () => {
        const res = await send('/v3/watch', { method: 'POST', body: '{"create_request":' });
        expect(res.status).toBe(500);
        expect((await res.json()) as Json).toEqual({
          error: 'unexpected EOF',
          message: 'unexpected EOF',
          code: 2,
        });
      });
    });

    describe('leases', () => {
      const id = String(1_000_000 + Math.floor(Math.random() * 1_000_000));

      it('grant, keepalive, timetolive with keys, leases, revoke', async () => {
        const g = await post('/v3/lease/grant', { TTL: 60, ID: Number(id) });
        expect(g.status).toBe(200);
        expect(g.json.ID).toBe(id);
        expect(g.json.TTL).toBe('60');

        const dup = await post('/v3/lease/grant', { TTL: 60, ID: id });
        expect(dup.status).toBe(412);
        expect(dup.json.message).toBe('etcdserver: lease already exists');

        await post('/v3/kv/put', { key: k('lk'), value: b64('v'), lease: id });

        const ka = await send('/v3/lease/keepalive', { method: 'POST', body: JSON.stringify({ ID: id }) });
        expect(ka.status).toBe(200);
        const lines = (await ka.text()).split('\n');
        expect(lines.at(-1)).toBe('');
        const kaResult = (JSON.parse(lines[0]) as Json).result as Json;
        expect(kaResult.ID).toBe(id);
        expect(kaResult.TTL).toBe('60');

        const ttl = await post('/v3/lease/timetolive', { ID: id, keys: true });
        expect(ttl.json.ID).toBe(id);
        expect(ttl.json.grantedTTL).toBe('60');
        expect(Number(ttl.json.TTL)).toBeGreaterThan(50);
        expect(ttl.json.keys).toEqual([k('lk')]);

        const leases = await post('/v3/lease/leases', {});
        expect((leases.json.leases as Json[]).some((l) => l.ID === id)).toBe(true);
        const alias = await post('/v3/kv/lease/leases', {});
        expect((alias.json.leases as Json[]).some((l) => l.ID === id)).toBe(true);

        const revoke = await post('/v3/lease/revoke', { ID: id });
        expect(revoke.status).toBe(200);
        expect(Object.keys(revoke.json)).toEqual(['header']);
        expect((await post('/v3/kv/range', { key: k('lk') })).json.kvs).toBeUndefined();

        const again = await post('/v3/kv/lease/revoke', { ID: id });
        expect(again.status).toBe(404);
        expect(again.json).toMatchObject({ code: 5, message: 'etcdserver: requested lease not found' });
      });

      it('keepalive: one result per request object; unknown lease has no TTL', async () => {
        const g = await post('/v3/lease/grant', { TTL: 30 });
        const granted = g.json.ID as string;
        expect(granted).toMatch(/^\d+$/);
        const res = await send('/v3/lease/keepalive', {
          method: 'POST',
          body: `${JSON.stringify({ ID: granted })}\n${JSON.stringify({ ID: 999 })}`,
        });
        const lines = (await res.text())
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as Json).result as Json);
        expect(lines.map((l) => [l.ID, l.TTL])).toEqual([
          [granted, '30'],
          ['999', undefined],
        ]);
        await post('/v3/lease/revoke', { ID: granted });
      });

      it('timetolive of an unknown lease: TTL "-1", no error', async () => {
        const r = await post('/v3/lease/timetolive', { ID: 999 });
        expect(r.status).toBe(200);
        expect(r.json.ID).toBe('999');
        expect(r.json.TTL).toBe('-1');
      });
    });

    describe('cluster and maintenance', () => {
      it('member list: header without revision, IDs as strings', async () => {
        const r = await post('/v3/cluster/member/list', {});
        expect(r.status).toBe(200);
        expect(header(r).revision).toBeUndefined();
        expect(header(r).cluster_id).toMatch(/^\d+$/);
        const members = r.json.members as Json[];
        expect(members.length).toBeGreaterThanOrEqual(1);
        for (const m of members) {
          expect(m.ID).toMatch(/^\d+$/);
          expect(Array.isArray(m.peerURLs)).toBe(true);
          expect(m.isLearner).toBeUndefined();
        }
      });

      it('member update of an unknown member: 404, code 5', async () => {
        const r = await post('/v3/cluster/member/update', { ID: 77, peerURLs: ['http://x:2380'] });
        expect(r.status).toBe(404);
        expect(r.json).toEqual({
          error: 'etcdserver: member not found',
          message: 'etcdserver: member not found',
          code: 5,
        });
      });

      it('status', async () => {
        const r = await post('/v3/maintenance/status', {});
        expect(r.status).toBe(200);
        expect(r.json.version).toBe('3.4.23');
        for (const f of ['dbSize', 'leader', 'raftIndex', 'raftTerm', 'raftAppliedIndex', 'dbSizeInUse'])
          expect(r.json[f]).toMatch(/^\d+$/);
      });

      it('hash answers as Hash: only header and a numeric hash', async () => {
        const r = await post('/v3/maintenance/hash', {});
        expect(r.status).toBe(200);
        expect(Object.keys(r.json).sort()).toEqual(['hash', 'header']);
        expect(typeof r.json.hash).toBe('number');
      });

      it('alarm GET and defragment answer {}', async () => {
        expect((await post('/v3/maintenance/alarm', { action: 'GET' })).text).toBe('{}');
        expect((await post('/v3/maintenance/defragment', {})).text).toBe('{}');
      });
    });

    describe('HTTP surface', () => {
      it('reply headers: JSON, Grpc-Metadata-Content-Type, CORS', async () => {
        const r = await post('/v3/kv/range', { key: k('foo') });
        expect(r.headers.get('content-type')).toBe('application/json');
        expect(r.headers.get('grpc-metadata-content-type')).toBe('application/grpc');
        expect(r.headers.get('access-control-allow-origin')).toBe('*');
        expect(r.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS, PUT, DELETE');
        expect(r.headers.get('access-control-allow-headers')).toBe('accept, content-type, authorization');
      });

      it('/v3beta/ is rewritten to /v3/', async () => {
        const r = await post('/v3beta/kv/range', { key: k('foo') });
        expect(r.status).toBe(200);
        expect(r.json.count).toBe('1');
      });

      it('/v3alpha/ is 404 "404 page not found"', async () => {
        const r = await post('/v3alpha/kv/range', { key: k('foo') });
        expect(r.status).toBe(404);
        expect(r.text.trim()).toBe('404 page not found');
        expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
      });

      it('GET on an RPC path is 405 plain text', async () => {
        const r = await send('/v3/kv/range');
        expect(r.status).toBe(405);
        expect((await r.text()).trim()).toBe('Method Not Allowed');
        expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
      });

      it('malformed JSON is 400 with Go’s decoder text, code 3', async () => {
        const r = await post('/v3/kv/range', '{"key": nul}');
        expect(r.status).toBe(400);
        const msg = "invalid character '}' in literal null (expecting 'l')";
        expect(r.json).toEqual({ error: msg, message: msg, code: 3 });
        const r2 = await post('/v3/kv/range', '{"key":');
        expect(r2.json.message).toBe('unexpected EOF');
      });

      it('bad base64 is 400 "illegal base64 data at input byte N"', async () => {
        const r = await post('/v3/kv/range', { key: 'Zm9v!' });
        expect(r.status).toBe(400);
        expect(r.json).toMatchObject({ code: 3, message: 'illegal base64 data at input byte 4' });
      });

      it('unknown fields are ignored; int64 accepted as strings or numbers', async () => {
        const r = await post('/v3/kv/range', { key: k('foo'), no_such_field: [1, { x: 2 }], limit: '10' });
        expect(r.status).toBe(200);
        expect(r.json.count).toBe('1');
      });

      it('an empty body is an empty request', async () => {
        const r = await send('/v3/cluster/member/list', { method: 'POST' });
        expect(r.status).toBe(200);
      });

      it('OPTIONS is 200 with CORS headers', async () => {
        const r = await send('/v3/kv/range', { method: 'OPTIONS' });
        expect(r.status).toBe(200);
        expect(r.headers.get('access-control-allow-origin')).toBe('*');
      });

      it('GET /health, /version, /metrics', async () => {
        const health = await send('/health');
        expect(health.status).toBe(200);
        expect(JSON.parse(await health.text())).toEqual({ health: 'true' });

        const version = await send('/version');
        expect(version.status).toBe(200);
        expect(await version.json()).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });

        const metrics = await send('/metrics');
        expect(metrics.status).toBe(200);
        const text = await metrics.text();
        expect(text).toMatch(/^# HELP /m);
        expect(text).toMatch(/^etcd_server_has_leader 1$/m);
        for (const n of [
          'etcd_server_leader_changes_seen_total',
          'etcd_server_proposals_committed_total',
          'etcd_server_proposals_applied_total',
          'etcd_mvcc_db_total_size_in_bytes',
        ])
          expect(text).toMatch(new RegExp(`^${n} \\d+$`, 'm'));
      });
    });
  });
}
