// Hand-written sequences for semantics that trip re-implementations (ETCD-NOTES §5). They run differentially
// like the random ones; `check` additionally pins what etcd itself answers, so the test's assumptions are
// verified against the reference too. Step results passed to `check` are etcd's normalised outcomes
// ({status, contentType, body} with revisions as `R+n` relative to the sequence start).

import type { Sequence } from './harness.ts';

export interface Case extends Sequence {
  check?: (etcd: unknown[]) => void | Promise<void>;
}

type R = { status: number; body: Record<string, unknown> };
export const body = (x: unknown) => (x as R).body;
export const status = (x: unknown) => (x as R).status;

const put = (k: string, v: string, extra: Record<string, unknown> = {}) => ({
  kind: 'post' as const,
  path: '/v3/kv/put',
  body: { key: `$k:${k}`, value: `$b64:${v}`, ...extra },
});
const get = (k: string, extra: Record<string, unknown> = {}) => ({
  kind: 'post' as const,
  path: '/v3/kv/range',
  body: { key: `$k:${k}`, ...extra },
});
const del = (k: string, extra: Record<string, unknown> = {}) => ({
  kind: 'post' as const,
  path: '/v3/kv/deleterange',
  body: { key: `$k:${k}`, ...extra },
});
const txn = (b: Record<string, unknown>) => ({ kind: 'post' as const, path: '/v3/kv/txn', body: b });
const compact = (rev: string, extra: Record<string, unknown> = {}) => ({
  kind: 'post' as const,
  path: '/v3/kv/compaction',
  body: { revision: rev, ...extra },
});

export const CASES: Case[] = [
  {
    name: 'no-op delete does not bump the revision',
    steps: [
      put('a', '1'),
      del('missing'),
      del('missing', { range_end: '$k:missinh', prev_kv: true }),
      get('a'),
    ],
    check: (e) => {
      const rev = (i: number) => (body(e[i]).header as Record<string, unknown>).revision;
      if (rev(1) !== rev(0) || rev(2) !== rev(0) || rev(3) !== rev(0))
        throw new Error('etcd bumped on a no-op delete');
    },
  },
  {
    name: 'txn read-your-writes, one revision for the whole txn, nested txn sees outer writes',
    steps: [
      put('a', '1'),
      txn({
        success: [
          { request_put: { key: '$k:a', value: '$b64:2' } },
          { request_range: { key: '$k:a' } },
          { request_put: { key: '$k:b', value: '$b64:3' } },
          {
            request_txn: {
              compare: [{ key: '$k:b', target: 'VALUE', result: 'EQUAL', value: '$b64:3' }],
              success: [
                { request_range: { key: '$k:', range_end: '$kend' } },
                { request_put: { key: '$k:c' } },
              ],
            },
          },
          { request_range: { key: '$k:', range_end: '$kend' } },
        ],
      }),
      get('', { range_end: '$kend' }),
      txn({}),
      txn({ success: [{ request_range: { key: '$k:b' } }] }),
    ],
    check: (e) => {
      const h = (i: number) => (body(e[i]).header as Record<string, unknown>).revision;
      if (h(1) !== 'R+2' || h(3) !== 'R+2' || h(4) !== 'R+2')
        throw new Error(`unexpected revisions ${h(1)} ${h(3)}`);
    },
  },
  {
    name: 'version and create_revision reset after delete',
    steps: [
      put('a', '1'),
      put('a', '2'),
      put('a', '3', { prev_kv: true }),
      del('a', { prev_kv: true }),
      put('a', '4', { prev_kv: true }),
      get('a'),
      get('a', { revision: '$rev:2' }),
      get('a', { revision: '$rev:4' }),
      get('a', { revision: '$rev:3' }),
    ],
    check: (e) => {
      const kv = (body(e[5]).kvs as Record<string, unknown>[])[0];
      if (kv.version !== '1' || kv.create_revision !== 'R+5')
        throw new Error(`no reset: ${JSON.stringify(kv)}`);
    },
  },
  {
    name: 'ignore_value / ignore_lease: bumps, keeps, and the invalid combinations',
    steps: [
      { kind: 'post', path: '/v3/lease/grant', body: { ID: '$lease:0', TTL: 60 } },
      put('a', '1', { lease: '$lease:0' }),
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', ignore_value: true, prev_kv: true } },
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', value: '$b64:2', ignore_lease: true } },
      get('a'),
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', value: '$b64:3', ignore_value: true } },
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', lease: '$lease:0', ignore_lease: true } },
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:nope', ignore_value: true } },
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:nope', ignore_lease: true } },
      { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', lease: '$lease:3' } },
      { kind: 'post', path: '/v3/lease/timetolive', body: { ID: '$lease:0', keys: true } },
      { kind: 'post', path: '/v3/lease/revoke', body: { ID: '$lease:0' } },
      get('a'),
    ],
  },
  {
    name: 'compaction boundaries',
    steps: [
      put('a', '1'), // R+1
      put('a', '2'), // R+2
      put('b', '1'), // R+3
      del('a'), // R+4
      compact('$rev:2'),
      get('a', { revision: '$rev:1' }),
      get('a', { revision: '$rev:2' }),
      get('', { range_end: '$kend', revision: '$rev:3' }),
      compact('$rev:2'),
      compact('$rev:1'),
      compact('$rev:5'),
      compact('$rev:4', { physical: true }),
      get('', { range_end: '$kend', revision: '$rev:4' }),
      get('', { range_end: '$kend', revision: '$rev:3' }),
      get('b'),
      {
        kind: 'watch',
        requests: [{ create_request: { key: '$k:', range_end: '$kend', start_revision: '$rev:3' } }],
      },
      {
        kind: 'watch',
        requests: [{ create_request: { key: '$k:', range_end: '$kend', start_revision: '$rev:4' } }],
      },
      compact('$rev:4'),
    ],
    check: (e) => {
      if (status(e[5]) !== 400 || status(e[6]) !== 200 || status(e[8]) !== 400 || status(e[10]) !== 400)
        throw new Error('etcd compaction boundaries not as expected');
    },
  },
  {
    name: 'range options: limit/more/count, sorts, filters, count_only, keys_only',
    steps: [
      put('p/1', 'c'),
      put('p/2', 'b'),
      put('p/3', 'a'),
      put('p/1', 'd'),
      get('p/', { range_end: '$k:p0', limit: 2 }),
      get('p/', { range_end: '$k:p0', limit: 2, sort_order: 'DESCEND' }),
      get('p/', { range_end: '$k:p0', sort_target: 'VALUE' }),
      get('p/', { range_end: '$k:p0', sort_target: 'VERSION', sort_order: 'DESCEND', limit: 1 }),
      get('p/', { range_end: '$k:p0', sort_target: 'MOD', sort_order: 'ASCEND', keys_only: true }),
      get('p/', { range_end: '$k:p0', count_only: true, limit: 1 }),
      get('p/', { range_end: '$k:p0', min_mod_revision: '$rev:3', max_create_revision: '$rev:2' }),
      get('p/', { range_end: '$k:p0', min_create_revision: '$rev:2', limit: 1 }),
      get('p/', { range_end: '$k:p0', max_mod_revision: '$rev:2', limit: 1, sort_order: 'DESCEND' }),
      get('p/', { range_end: 'AA==', revision: '$rev:2' }),
    ],
  },
  {
    name: 'txn compares on absent keys, ranges and leases',
    steps: [
      put('p/1', 'x'),
      put('p/2', 'y'),
      txn({ compare: [{ key: '$k:nope', target: 'VERSION', result: 'EQUAL', version: '0' }] }),
      txn({ compare: [{ key: '$k:nope', target: 'VALUE', result: 'NOT_EQUAL', value: '$b64:x' }] }),
      txn({ compare: [{ key: '$k:nope', target: 'CREATE', result: 'LESS', create_revision: '1' }] }),
      txn({
        compare: [{ key: '$k:p/', range_end: '$k:p0', target: 'VALUE', result: 'GREATER', value: '$b64:a' }],
      }),
      txn({
        compare: [{ key: '$k:p/', range_end: '$k:p0', target: 'VALUE', result: 'EQUAL', value: '$b64:x' }],
      }),
      txn({
        compare: [
          { key: '$k:p/', range_end: '$k:p0', target: 'MOD', result: 'LESS', mod_revision: '$rev:3' },
        ],
      }),
      txn({ compare: [{ key: '$k:p/', range_end: 'AA==', target: 'LEASE', result: 'EQUAL', lease: '0' }] }),
      txn({
        compare: [{ key: '$k:q', range_end: '$k:r', target: 'VERSION', result: 'EQUAL', version: '1' }],
      }),
    ],
  },
  {
    name: 'txn errors: duplicate keys, too many ops',
    steps: [
      txn({ success: [{ request_put: { key: '$k:a' } }, { request_put: { key: '$k:a' } }] }),
      txn({
        failure: [
          { request_put: { key: '$k:a' } },
          { request_delete_range: { key: '$k:', range_end: '$kend' } },
        ],
      }),
      txn({
        success: [{ request_delete_range: { key: '$k:a' } }, { request_delete_range: { key: '$k:a' } }],
      }),
      txn({
        success: [
          { request_put: { key: '$k:a' } },
          { request_txn: { success: [{ request_put: { key: '$k:a' } }] } },
        ],
      }),
      txn({ success: [{ request_put: { key: '$k:a' } }, { request_range: { key: '$k:a' } }] }),
      txn({ success: Array.from({ length: 129 }, () => ({ request_range: { key: '$k:a' } })) }),
      txn({ compare: Array.from({ length: 129 }, () => ({ key: '$k:a', version: '0' })) }),
      txn({ success: Array.from({ length: 128 }, (_, i) => ({ request_put: { key: `$k:k${i}` } })) }),
    ],
  },
  {
    name: 'leases: min/max TTL, duplicates, unknown IDs, revoke deletes keys in one revision',
    steps: [
      { kind: 'post', path: '/v3/lease/grant', body: { ID: '$lease:0', TTL: 60 } },
      { kind: 'post', path: '/v3/lease/grant', body: { ID: '$lease:0', TTL: 60 } },
      { kind: 'post', path: '/v3/lease/grant', body: { ID: '$lease:1', TTL: 9000000001 } },
      { kind: 'post', path: '/v3/lease/grant', body: { ID: '$lease:1', TTL: 9000000000 } },
      { kind: 'grantAuto', ttl: 1 },
      put('a', '1', { lease: '$lease:0' }),
      put('b', '1', { lease: '$lease:0' }),
      { kind: 'post', path: '/v3/lease/timetolive', body: { ID: '$lease:0', keys: true } },
      { kind: 'post', path: '/v3/lease/timetolive', body: { ID: '$lease:5' } },
      { kind: 'keepalive', requests: [{ ID: '$lease:0' }, { ID: '$lease:5' }] },
      { kind: 'post', path: '/v3/lease/revoke', body: { ID: '$lease:0' } },
      { kind: 'post', path: '/v3/lease/revoke', body: { ID: '$lease:0' } },
      get('', { range_end: '$kend' }),
      { kind: 'post', path: '/v3/lease/leases', body: {} },
    ],
  },
  {
    name: 'watch: history with prev_kv and filters, progress, future start',
    steps: [
      put('w', '1'),
      put('w', '2'),
      del('w'),
      put('w', '3'),
      {
        kind: 'watch',
        requests: [{ create_request: { key: '$k:w', start_revision: '$rev:1', prev_kv: true } }],
      },
      {
        kind: 'watch',
        requests: [{ create_request: { key: '$k:w', start_revision: '$rev:1', filters: ['NOPUT'] } }],
      },
      {
        kind: 'watch',
        requests: [
          { create_request: { key: '$k:w', start_revision: '$rev:2', watch_id: 3 } },
          { progress_request: {} },
        ],
      },
      {
        kind: 'watch',
        requests: [{ create_request: { key: '$k:w', start_revision: '$rev:9' } }],
        waitMs: 200,
      },
      { kind: 'raw', path: '/v3/watch', text: '{"create_request":' },
    ],
  },
];
