/// <reference lib="dom" />
// The client panel: put / get / get prefix / delete / txn compare-and-set / lease grant / watch, each sent as
// etcd's JSON gateway request (base64 keys and values) to a member's `createGateway` fetch handler, which runs
// in the member's worker.

import type { Cluster } from './main.ts';
import { $, b64, el, prefixEnd, unb64 } from './ui.ts';

interface Kv {
  key?: string;
  value?: string;
  version?: string;
  mod_revision?: string;
  lease?: string;
}

type Json = Record<string, unknown>;

export function startClient(cluster: Cluster): void {
  const input = (id: string) => ($(`#${id}`) as HTMLInputElement).value;
  const out = $('#response');

  function show(text: string, kind: 'ok' | 'error' | 'pending'): void {
    out.textContent = text;
    out.dataset.state = kind;
  }

  /** One unary gateway call; resolves with the parsed JSON body and HTTP status. */
  function call(path: string, body: Json): Promise<{ status: number; json: Json; via: number; ms: number }> {
    const member = cluster.pick(($('#via') as HTMLSelectElement).value);
    if (!member) return Promise.reject(new Error('no member is up'));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let status = 0;
      let text = '';
      cluster.http(member, path, JSON.stringify(body), {
        onHead: (s) => {
          status = s;
        },
        onChunk: (t) => {
          text += t;
        },
        onEnd: (error) => {
          if (error) return reject(new Error(error));
          let json: Json = {};
          try {
            json = text ? (JSON.parse(text) as Json) : {};
          } catch {
            json = { text };
          }
          resolve({ status, json, via: member.id, ms: Math.round(performance.now() - started) });
        },
      });
    });
  }

  async function run(
    label: string,
    path: string,
    body: Json,
    describe: (json: Json) => string,
  ): Promise<Json | undefined> {
    show(`${label} … (waiting for a quorum)`, 'pending');
    try {
      const r = await call(path, body);
      const prefix = `${label} via n${r.via} · HTTP ${r.status} · ${r.ms} ms\n`;
      if (r.status !== 200) {
        show(`${prefix}${String(r.json.error ?? r.json.message ?? JSON.stringify(r.json))}`, 'error');
        cluster.log('client', `${label} failed: ${String(r.json.message ?? r.status)}`);
        return undefined;
      }
      show(prefix + describe(r.json), 'ok');
      cluster.log('client', `${label} → ${describe(r.json).split('\n')[0]}`);
      return r.json;
    } catch (err) {
      show(`${label}: ${(err as Error).message}`, 'error');
      return undefined;
    }
  }

  const revision = (json: Json) => String((json.header as Json | undefined)?.revision ?? '?');
  const kvLine = (kv: Kv) =>
    `${unb64(kv.key)} = ${unb64(kv.value)}  (version ${kv.version ?? 0}, mod rev ${kv.mod_revision ?? 0}${kv.lease ? `, lease ${BigInt(kv.lease).toString(16)}` : ''})`;

  // The put form's lease: cleared once the lease is gone (expired or revoked), so later puts do not all fail with
  // "requested lease not found". Gone means: the leader listed it before and lists it no more, or a put said so.
  const leaseField = $('#put-lease') as HTMLInputElement;
  const leasesSeen = new Set<string>();
  const leaseHex = (id: string) => {
    try {
      return BigInt(id.trim()).toString(16);
    } catch {
      return undefined;
    }
  };
  function dropLease(why: string): void {
    const id = leaseField.value.trim();
    if (!id) return;
    leaseField.value = '';
    leaseField.dataset.cleared = id;
    cluster.log('client', `lease ${leaseHex(id) ?? id} ${why}: cleared from the put form`);
  }
  cluster.onState((m) => {
    const hex = leaseHex(leaseField.value);
    if (!hex || m.state?.role !== 'leader') return;
    if (m.state.leases.some((l) => l.id === hex)) leasesSeen.add(hex);
    else if (leasesSeen.has(hex) && m.state.leases.length < 20) dropLease('expired or was revoked');
  });

  $('#put').addEventListener('click', () => {
    const body: Json = { key: b64(input('key')), value: b64(input('value')) };
    if (input('put-lease').trim()) body.lease = input('put-lease').trim();
    void (async () => {
      const ok = await run(`put ${input('key')}`, '/v3/kv/put', body, (j) => `OK, revision ${revision(j)}`);
      if (!ok && body.lease && /lease not found/.test(out.textContent ?? '')) dropLease('does not exist');
    })();
  });
  $('#get').addEventListener('click', () => {
    void run(`get ${input('key')}`, '/v3/kv/range', { key: b64(input('key')) }, (j) => {
      const kvs = (j.kvs as Kv[] | undefined) ?? [];
      return kvs.length ? kvs.map(kvLine).join('\n') : `(not found) at revision ${revision(j)}`;
    });
  });
  $('#get-prefix').addEventListener('click', () => {
    const key = input('key');
    void run(
      `get --prefix ${key}`,
      '/v3/kv/range',
      { key: b64(key || '\0'), range_end: prefixEnd(key) },
      (j) => {
        const kvs = (j.kvs as Kv[] | undefined) ?? [];
        return `${j.count ?? 0} keys at revision ${revision(j)}\n${kvs.map(kvLine).join('\n')}`;
      },
    );
  });
  $('#delete').addEventListener('click', () => {
    void run(
      `delete ${input('key')}`,
      '/v3/kv/deleterange',
      { key: b64(input('key')) },
      (j) => `deleted ${j.deleted ?? 0}, revision ${revision(j)}`,
    );
  });
  $('#txn').addEventListener('click', () => {
    const key = b64(input('key'));
    const expected = input('cas-expect');
    // An empty "if value ==" means "if the key does not exist" (create revision 0), as etcd clients write it.
    const compare = expected
      ? { key, result: 'EQUAL', target: 'VALUE', value: b64(expected) }
      : { key, result: 'EQUAL', target: 'CREATE', create_revision: '0' };
    void run(
      `txn ${input('key')}: if ${expected ? `value == ${expected}` : 'absent'} then put ${input('cas-new')}`,
      '/v3/kv/txn',
      {
        compare: [compare],
        success: [{ request_put: { key, value: b64(input('cas-new')) } }],
        failure: [{ request_range: { key } }],
      },
      (j) => {
        if (j.succeeded) return `succeeded: value is now ${input('cas-new')}, revision ${revision(j)}`;
        const range = ((j.responses as Json[] | undefined)?.[0]?.response_range as Json | undefined)?.kvs as
          | Kv[]
          | undefined;
        return `failed: compare was false (current: ${range?.length ? unb64(range[0].value) : 'absent'})`;
      },
    );
  });
  $('#lease-grant').addEventListener('click', () => {
    void (async () => {
      const ttl = Number(input('lease-ttl')) || 10;
      const j = await run(`lease grant ${ttl}s`, '/v3/lease/grant', { TTL: String(ttl) }, (r) => {
        const id = BigInt(String(r.ID ?? 0));
        return `lease ${id.toString(16)} (ID ${id}) TTL ${r.TTL}s — put with it to attach keys`;
      });
      if (j?.ID) ($('#put-lease') as HTMLInputElement).value = String(j.ID);
    })();
  });

  // Watch: one NDJSON stream; events are appended as they arrive.
  let stopWatch: (() => void) | undefined;
  const events = $('#events');
  const watchBtn = $('#watch') as HTMLButtonElement;
  const unwatchBtn = $('#unwatch') as HTMLButtonElement;
  const endWatch = (why: string) => {
    stopWatch = undefined;
    watchBtn.disabled = false;
    unwatchBtn.disabled = true;
    events.prepend(el('li', { class: 'muted' }, [`watch ended: ${why}`]));
  };
  watchBtn.addEventListener('click', () => {
    const member = cluster.pick(($('#via') as HTMLSelectElement).value);
    if (!member) return show('watch: no member is up', 'error');
    const prefix = input('watch-key');
    const create = prefix
      ? { key: b64(prefix), range_end: prefixEnd(prefix) }
      : { key: b64('\0'), range_end: b64('\0') };
    let buffer = '';
    events.replaceChildren(
      el('li', { class: 'muted' }, [`watching "${prefix || '(all keys)'}" via n${member.id}…`]),
    );
    watchBtn.disabled = true;
    unwatchBtn.disabled = false;
    cluster.log('client', `watch ${prefix || '(all keys)'} via n${member.id}`);
    stopWatch = cluster.http(member, '/v3/watch', JSON.stringify({ create_request: create }), {
      onChunk: (t) => {
        buffer += t;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          if (!line) continue;
          try {
            const msg = JSON.parse(line) as { result?: Json; error?: Json };
            const r = msg.result;
            if (!r) continue;
            if (r.created)
              events.prepend(el('li', { class: 'muted' }, [`watch ${String(r.watch_id ?? 0)} created`]));
            for (const ev of (r.events as { type?: string; kv?: Kv }[] | undefined) ?? []) {
              const type = ev.type ?? 'PUT';
              events.prepend(
                el('li', { class: `event event-${type.toLowerCase()}`, 'data-event': type }, [
                  el('b', {}, [type]),
                  ` ${unb64(ev.kv?.key)}${type === 'PUT' ? ` = ${unb64(ev.kv?.value)}` : ''} @${ev.kv?.mod_revision ?? '?'}`,
                ]),
              );
            }
            while (events.children.length > 100) events.lastElementChild?.remove();
          } catch {
            // a partial line: wait for the rest
          }
        }
      },
      onEnd: (error) => endWatch(error ?? 'stream closed'),
    });
  });
  unwatchBtn.addEventListener('click', () => {
    stopWatch?.();
    stopWatch = undefined;
  });
}
