// Differential testing of edgecd against a real etcd 3.4.23 over the HTTP/JSON gateway.
//
// A *sequence* is a list of steps whose bodies contain placeholders (`"$k:a"`, `"$rev:3"`, `"$lease:1"`, …) that
// are materialised per server at run time: keys get a per-sequence prefix, revisions are relative to the revision
// at the start of the sequence on that server, lease IDs get a per-sequence base. So every sequence is
// independent of what ran before it (even when the two servers' revisions have drifted apart), and kept
// sequences can be replayed on any pair of fresh or used servers.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from '../cluster-harness.ts';

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: small, fast, deterministic 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The real etcd

/**
 * Spawns /usr/bin/etcd with `args` and waits until `clientUrl`/health says true; on failure (exit, timeout) kills
 * it and throws with the end of its log.
 */
export async function spawnEtcd(
  args: readonly string[],
  clientUrl: string,
  timeoutMs = 20_000,
): Promise<{ proc: ChildProcess; log: string[] }> {
  const proc = spawn('/usr/bin/etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  proc.stdout?.on('data', (d) => log.push(String(d)));
  proc.stderr?.on('data', (d) => log.push(String(d)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`etcd exited:\n${log.join('').slice(-3000)}`);
    }
    try {
      const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (((await r.json()) as { health?: string }).health === 'true') return { proc, log };
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await killEtcd(proc);
      throw new Error(`etcd not healthy in time:\n${log.join('').slice(-3000)}`);
    }
    await sleep(100);
  }
}

/** SIGKILL by PID, waiting (bounded) for the exit. */
export async function killEtcd(proc: ChildProcess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
    const exited = new Promise((r) => proc.once('exit', r));
    process.kill(proc.pid, 'SIGKILL');
    await Promise.race([exited, sleep(5000)]);
  }
}

export class EtcdProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly url: string,
    private readonly dir: string,
    readonly log: string[],
  ) {}

  /** Starts a single-member etcd with the same heartbeat/election settings as TestCluster (so min lease TTL matches). */
  static async start(timeoutMs = 20_000): Promise<EtcdProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'edgecd-diff-etcd-'));
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const args = [
      '--name',
      'etcd1',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `etcd1=${peer}`,
      '--initial-cluster-token',
      'diff',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      '--logger',
      'zap',
      '--log-level',
      'warn',
    ];
    try {
      const { proc, log } = await spawnEtcd(args, client, timeoutMs);
      return new EtcdProcess(proc, client, dir, log);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async stop(): Promise<void> {
    await killEtcd(this.proc);
    this.cleanup();
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

export type Step =
  /** A unary POST with a JSON body (placeholders allowed anywhere in string values). */
  | { kind: 'post'; path: string; body: unknown }
  /** A unary POST with a literal (possibly malformed) body; placeholders are substituted textually. */
  | { kind: 'raw'; path: string; text: string }
  /** POST /v3/watch with these request objects concatenated; lines read for a bounded time. */
  | { kind: 'watch'; requests: unknown[]; waitMs?: number }
  /** POST /v3/lease/keepalive with these request objects; read to EOF (bounded). */
  | { kind: 'keepalive'; requests: unknown[] }
  /** LeaseGrant with a server-chosen ID, then revoke that ID (both responses compared, the ID masked). */
  | { kind: 'grantAuto'; ttl: number };

export interface Sequence {
  name: string;
  seed?: number;
  note?: string;
  steps: Step[];
}

/** One server as seen by a sequence: where it is and how to materialise placeholders. */
export interface SideCtx {
  readonly name: 'etcd' | 'edgecd';
  readonly url: string;
  prefix: string;
  base: number;
  leaseBase: number;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Increments the last byte that is not 0xff (etcd's GetPrefixRangeEnd on ASCII prefixes). */
export function prefixEnd(p: string): string {
  return p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);
}

/** Replaces `"$kind:arg"` tokens in a JSON text. */
export function materialize(text: string, ctx: SideCtx): string {
  return text.replace(/"\$(k|kend|rev|revn|lease|b64)(?::([^"]*))?"/g, (_m, kind: string, arg = '') => {
    switch (kind) {
      case 'k':
        return JSON.stringify(b64(ctx.prefix + arg));
      case 'kend':
        return JSON.stringify(b64(prefixEnd(ctx.prefix)));
      case 'rev':
        return JSON.stringify(String(ctx.base + Number(arg)));
      case 'revn':
        return String(ctx.base + Number(arg));
      case 'lease':
        return JSON.stringify(String(ctx.leaseBase + Number(arg)));
      default:
        return JSON.stringify(b64(arg));
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Transport

export interface RawResult {
  status: number;
  contentType: string | null;
  text: string;
}

export async function postText(
  url: string,
  path: string,
  body: string,
  timeoutMs = 10_000,
): Promise<RawResult> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return { $text: text.trim() };
  }
};

/** Reads an NDJSON stream for at most waitMs; `done(lines)` may stop early. Returns the raw lines. */
async function readStream(
  url: string,
  path: string,
  body: string,
  waitMs: number,
  done: (lines: unknown[]) => boolean,
): Promise<RawResult & { lines: unknown[] }> {
  const controller = new AbortController();
  const hard = setTimeout(() => controller.abort(), waitMs + 5000);
  try {
    const res = await fetch(`${url}${path}`, { method: 'POST', body, signal: controller.signal });
    const contentType = res.headers.get('content-type');
    if (res.status !== 200 || !res.body) {
      return { status: res.status, contentType, text: await res.text(), lines: [] };
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const lines: unknown[] = [];
    let buf = '';
    let all = '';
    let deadline = Date.now() + waitMs;
    let finishing = false;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        }),
      ]);
      clearTimeout(timer);
      if (r === 'timeout' || r.done) break;
      const chunk = decoder.decode(r.value, { stream: true });
      buf += chunk;
      all += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) lines.push(parse(line));
        nl = buf.indexOf('\n');
      }
      // once done, keep reading briefly: anything the server sends right after must match too
      if (done(lines) && !finishing) {
        finishing = true;
        deadline = Math.min(deadline, Date.now() + 100);
      }
    }
    if (buf.trim()) lines.push(parse(buf.trim()));
    return { status: res.status, contentType, text: all, lines };
  } catch (err) {
    return { status: -1, contentType: null, text: `transport error: ${String(err)}`, lines: [] };
  } finally {
    clearTimeout(hard);
    controller.abort();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation: mask what legitimately differs

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const REV_FIELDS = new Set(['revision', 'create_revision', 'mod_revision', 'compact_revision']);

/**
 * Drops cluster_id/member_id/raft_term, rewrites revisions relative to the sequence base (`R+n`), sorts lease
 * lists (etcd iterates a Go map) and timetolive keys.
 */
export function normalizeBody(v: unknown, ctx: SideCtx, key = ''): unknown {
  if (Array.isArray(v)) {
    const arr = v.map((x) => normalizeBody(x, ctx));
    if (key === 'leases' || key === 'keys') {
      return [...arr].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    }
    return arr;
  }
  if (!isObj(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') continue;
    if (REV_FIELDS.has(k) && typeof x === 'string' && /^-?\d+$/.test(x)) {
      const d = Number(x) - ctx.base;
      out[k] = `R${d >= 0 ? '+' : ''}${d}`;
      continue;
    }
    out[k] = normalizeBody(x, ctx, k);
  }
  return out;
}

export interface Outcome {
  /** Normalised, what is compared. */
  norm: unknown;
  /** Raw (as received), for reports. */
  raw: unknown;
}

function unaryOutcome(r: RawResult, ctx: SideCtx): Outcome {
  const body = parse(r.text);
  return {
    raw: { status: r.status, body },
    norm: { status: r.status, contentType: r.contentType, body: normalizeBody(body, ctx) },
  };
}

/** Watch lines: event lists flattened (batching may differ), other responses kept in order. */
function watchOutcome(r: RawResult & { lines: unknown[] }, ctx: SideCtx): Outcome {
  if (r.status !== 200) return unaryOutcome(r, ctx);
  const control: unknown[] = [];
  const events: unknown[] = [];
  for (const line of r.lines) {
    const n = normalizeBody(line, ctx);
    if (isObj(n) && isObj(n.result)) {
      const { events: ev, ...rest } = n.result;
      if (Array.isArray(ev)) {
        events.push(...ev);
        // an event batch only: its header (current revision at send time) and watch_id are not compared
        const { header: _h, watch_id: _w, ...other } = rest;
        if (Object.keys(other).length === 0) continue;
      }
      control.push(rest);
    } else {
      control.push(n);
    }
  }
  // After `created`, etcd sends compaction cancels (and event catch-up) from its background sync loop while
  // progress replies are immediate: the order between those is scheduling, so the rest is compared as a set.
  const [first, ...rest] = control;
  const sorted = rest.map((x) => JSON.stringify(x)).sort();
  return {
    raw: { status: r.status, lines: r.lines },
    norm: {
      status: r.status,
      control: first === undefined ? [] : [first, ...sorted.map((x) => JSON.parse(x))],
      events,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running steps

export async function runStep(step: Step, ctx: SideCtx): Promise<Outcome> {
  try {
    switch (step.kind) {
      case 'post':
        return unaryOutcome(
          await postText(ctx.url, step.path, materialize(JSON.stringify(step.body), ctx)),
          ctx,
        );
      case 'raw':
        return unaryOutcome(await postText(ctx.url, step.path, materialize(step.text, ctx)), ctx);
      case 'keepalive': {
        const body = step.requests.map((x) => materialize(JSON.stringify(x), ctx)).join('\n');
        const want = step.requests.length;
        const r = await readStream(ctx.url, '/v3/lease/keepalive', body, 2000, (l) => l.length >= want);
        return watchOutcome(r, ctx);
      }
      case 'watch': {
        const body = step.requests.map((x) => materialize(JSON.stringify(x), ctx)).join('');
        const wantsProgress = step.requests.some((x) => isObj(x) && 'progress_request' in x);
        const r = await readStream(ctx.url, '/v3/watch', body, step.waitMs ?? 300, (lines) =>
          watchCaughtUp(lines, wantsProgress),
        );
        return watchOutcome(r, ctx);
      }
      case 'grantAuto': {
        const g = await postText(ctx.url, '/v3/lease/grant', JSON.stringify({ TTL: step.ttl }));
        const gb = parse(g.text);
        const id = isObj(gb) ? gb.ID : undefined;
        const rv = await postText(ctx.url, '/v3/lease/revoke', JSON.stringify({ ID: id ?? '0' }));
        const masked = isObj(gb) && typeof id === 'string' && /^\d+$/.test(id) ? { ...gb, ID: '<auto>' } : gb;
        return {
          raw: { grant: { status: g.status, body: gb }, revoke: { status: rv.status, body: parse(rv.text) } },
          norm: {
            grant: { status: g.status, body: normalizeBody(masked, ctx) },
            revoke: unaryOutcome(rv, ctx).norm,
          },
        };
      }
    }
  } catch (err) {
    return { raw: { error: String(err) }, norm: { transportError: String(err) } };
  }
}

/** Stop reading a watch once canceled, or once events reached the revision current at creation. */
function watchCaughtUp(lines: unknown[], wantsProgress: boolean): boolean {
  let createdRev = -1;
  let lastEventRev = -1;
  let progress = false;
  for (const l of lines) {
    if (!isObj(l)) continue;
    if (isObj(l.error)) return true;
    const r = l.result;
    if (!isObj(r)) continue;
    if (r.canceled) return true;
    if (r.created && isObj(r.header)) createdRev = Number(r.header.revision);
    if (r.watch_id === '-1') progress = true;
    if (Array.isArray(r.events)) {
      for (const e of r.events) if (isObj(e) && isObj(e.kv)) lastEventRev = Number(e.kv.mod_revision);
    }
  }
  if (wantsProgress && !progress) return false;
  return createdRev > 0 && lastEventRev >= createdRev;
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison

/** Paths where remaining TTLs may differ by a second. */
const TTL_TOLERANT = /^(\/v3\/(kv\/)?lease\/timetolive|keepalive)/;

export function diff(a: unknown, b: unknown, path: string, ttlTolerant: boolean, out: string[]): void {
  if (ttlTolerant && /\.TTL$/.test(path) && typeof a === 'string' && typeof b === 'string') {
    if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b) && Math.abs(Number(a) - Number(b)) <= 1) return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path}: length etcd=${a.length} edgecd=${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++)
      diff(a[i], b[i], `${path}[${i}]`, ttlTolerant, out);
    return;
  }
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      if (!(k in a)) out.push(`${path}.${k}: etcd=<absent> edgecd=${JSON.stringify(b[k])}`);
      else if (!(k in b)) out.push(`${path}.${k}: etcd=${JSON.stringify(a[k])} edgecd=<absent>`);
      else diff(a[k], b[k], `${path}.${k}`, ttlTolerant, out);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b))
    out.push(`${path}: etcd=${JSON.stringify(a)} edgecd=${JSON.stringify(b)}`);
}

export interface Mismatch {
  index: number;
  step: Step;
  /** The request as sent to etcd (materialised). */
  request: string;
  etcd: unknown;
  edgecd: unknown;
  diffs: string[];
}

export interface SeqResult {
  mismatches: Mismatch[];
  /** Per step, etcd's normalised outcome (for hand-written assertions). */
  etcd: unknown[];
  edgecd: unknown[];
  requests: number;
}

export function describeRequest(step: Step, ctx: SideCtx): string {
  switch (step.kind) {
    case 'post':
      return `POST ${step.path} ${materialize(JSON.stringify(step.body), ctx)}`;
    case 'raw':
      return `POST ${step.path} ${materialize(step.text, ctx)}`;
    case 'watch':
      return `POST /v3/watch ${step.requests.map((x) => materialize(JSON.stringify(x), ctx)).join('')}`;
    case 'keepalive':
      return `POST /v3/lease/keepalive ${step.requests.map((x) => materialize(JSON.stringify(x), ctx)).join('\n')}`;
    case 'grantAuto':
      return `POST /v3/lease/grant {"TTL":${step.ttl}} then POST /v3/lease/revoke {"ID":<granted>}`;
  }
}

function stepPathOf(step: Step): string {
  switch (step.kind) {
    case 'post':
    case 'raw':
      return step.path;
    default:
      return step.kind;
  }
}

export class Differ {
  private seqCounter = 0;
  constructor(
    readonly etcdUrl: string,
    readonly edgecdUrl: string,
  ) {}

  /**
   * Fresh contexts for the next sequence: a new prefix, the revision after a marker put (compacted to), a lease
   * ID base.
   */
  async begin(): Promise<[SideCtx, SideCtx]> {
    const n = this.seqCounter++;
    const prefix = `s${String(n).padStart(4, '0')}/`;
    const leaseBase = (n + 1) * 1000;
    const mk = async (name: 'etcd' | 'edgecd', url: string): Promise<SideCtx> => {
      const r = await postText(
        url,
        '/v3/kv/put',
        JSON.stringify({ key: b64(`marker/${prefix}`), value: b64('m') }),
      );
      const body = parse(r.text) as { header?: { revision?: string } };
      const base = Number(body.header?.revision);
      if (r.status !== 200 || !Number.isFinite(base))
        throw new Error(`${name}: marker put failed: ${r.text}`);
      // compact to the base so compacted revisions seen by the sequence (R+0 or later) do not depend on history
      const c = await postText(url, '/v3/kv/compaction', JSON.stringify({ revision: String(base) }));
      if (c.status !== 200) throw new Error(`${name}: base compaction failed: ${c.text}`);
      return { name, url, prefix, base, leaseBase };
    };
    return Promise.all([mk('etcd', this.etcdUrl), mk('edgecd', this.edgecdUrl)]);
  }

  /** Revokes the sequence's leases on both sides (not compared). */
  async end(ctxs: readonly SideCtx[]): Promise<void> {
    for (const ctx of ctxs) {
      await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) =>
          postText(ctx.url, '/v3/lease/revoke', JSON.stringify({ ID: String(ctx.leaseBase + i) })).catch(
            () => undefined,
          ),
        ),
      );
    }
  }

  async run(seq: Sequence, opts: { stopAtFirst?: boolean } = {}): Promise<SeqResult> {
    const [e, d] = await this.begin();
    const res: SeqResult = { mismatches: [], etcd: [], edgecd: [], requests: 0 };
    try {
      for (let i = 0; i < seq.steps.length; i++) {
        const step = seq.steps[i];
        const [oe, od] = await Promise.all([runStep(step, e), runStep(step, d)]);
        res.requests++;
        res.etcd.push(oe.norm);
        res.edgecd.push(od.norm);
        const diffs: string[] = [];
        diff(oe.norm, od.norm, '', TTL_TOLERANT.test(stepPathOf(step)), diffs);
        if (diffs.length > 0) {
          res.mismatches.push({
            index: i,
            step,
            request: describeRequest(step, e),
            etcd: oe.raw,
            edgecd: od.raw,
            diffs,
          });
          if (opts.stopAtFirst) break;
        }
      }
    } finally {
      await this.end([e, d]);
    }
    return res;
  }

  /**
   * Greedy shrink: cut after the first mismatching step, then drop earlier steps one at a time as long as the
   * last step still mismatches on the same paths. Bounded by a deadline.
   */
  async shrink(seq: Sequence, first: Mismatch, deadline: number): Promise<Sequence> {
    const signature = sig(first);
    let steps = seq.steps.slice(0, first.index + 1);
    for (let i = steps.length - 2; i >= 0 && Date.now() < deadline; i--) {
      const candidate = [...steps.slice(0, i), ...steps.slice(i + 1)];
      const r = await this.run({ ...seq, steps: candidate }, { stopAtFirst: true });
      const m = r.mismatches[0];
      if (m && m.index === candidate.length - 1 && sig(m) === signature) steps = candidate;
    }
    return { ...seq, steps };
  }
}

/** What kind of mismatch this is: the step's endpoint and the differing paths (values stripped). */
export function sig(m: Mismatch): string {
  return `${stepPathOf(m.step)}|${m.diffs.map((d) => d.replace(/:.*$/, '').replace(/\[\d+\]/g, '[]')).join(',')}`;
}

export function formatMismatch(seqName: string, m: Mismatch): string {
  return [
    `--- ${seqName}, step ${m.index}`,
    `request: ${m.request}`,
    `etcd:    ${JSON.stringify(m.etcd)}`,
    `edgecd:  ${JSON.stringify(m.edgecd)}`,
    `diffs:\n  ${m.diffs.join('\n  ')}`,
  ].join('\n');
}
