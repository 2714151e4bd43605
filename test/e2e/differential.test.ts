// Differential test: the same request sequences sent to a real etcd 3.4.23 member and to an edgecd cluster over
// the HTTP/JSON gateway; responses compared after masking what legitimately differs (cluster/member IDs, raft
// term, server-chosen lease IDs, remaining TTLs ±1 s; revisions are compared relative to the sequence start).
// Failing random sequences are shrunk and kept under differential/regressions/, which are replayed first.
//
// Knobs: EDGECD_DIFF_SEED (first seed, default 1), EDGECD_DIFF_SEQS (default 10), EDGECD_DIFF_LEN (default 60),
// EDGECD_DIFF_KEEP=0 to not write regression files.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from './cluster-harness.ts';
import { CASES } from './differential/cases.ts';
import { generate } from './differential/generate.ts';
import {
  Differ,
  EtcdProcess,
  formatMismatch,
  type Mismatch,
  type Sequence,
  sig,
} from './differential/harness.ts';

const REGRESSIONS = join(import.meta.dirname, 'differential', 'regressions');
const FIRST_SEED = Number(process.env.EDGECD_DIFF_SEED ?? 1);
const SEQS = Number(process.env.EDGECD_DIFF_SEQS ?? 10);
const LEN = Number(process.env.EDGECD_DIFF_LEN ?? 60);
const KEEP = process.env.EDGECD_DIFF_KEEP !== '0';

let etcd: EtcdProcess | undefined;
let cluster: TestCluster | undefined;
let differ: Differ;

beforeAll(async () => {
  const [e, c] = await Promise.allSettled([EtcdProcess.start(), TestCluster.start({ size: 1 })]);
  if (e.status === 'fulfilled') etcd = e.value;
  if (c.status === 'fulfilled') cluster = c.value;
  if (e.status === 'rejected') throw e.reason;
  if (c.status === 'rejected') throw c.reason;
  differ = new Differ(etcd!.url, `http://${cluster!.endpoint('m1')}`);
}, 45_000);

afterAll(async () => {
  await etcd?.stop();
  await cluster?.close();
});

function loadRegressions(): Sequence[] {
  if (!existsSync(REGRESSIONS)) return [];
  return readdirSync(REGRESSIONS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(readFileSync(join(REGRESSIONS, f), 'utf8')) as Sequence), name: f }));
}

const report = (failures: { seq: string; m: Mismatch }[]) =>
  failures.map(({ seq, m }) => formatMismatch(seq, m)).join('\n\n');

describe('differential: edgecd vs etcd 3.4.23 over the JSON gateway', () => {
  it('replays the kept regression sequences', async () => {
    const failures: { seq: string; m: Mismatch }[] = [];
    for (const seq of loadRegressions()) {
      const r = await differ.run(seq);
      for (const m of r.mismatches) failures.push({ seq: seq.name, m });
    }
    expect(failures.length, report(failures)).toBe(0);
  });

  for (const c of CASES) {
    it(`hand-written: ${c.name}`, async () => {
      const r = await differ.run(c);
      let checkError = '';
      try {
        await c.check?.(r.etcd);
      } catch (err) {
        checkError = `etcd itself did not answer as the case assumes: ${String(err)}\n`;
      }
      const problems = checkError + report(r.mismatches.map((m) => ({ seq: c.name, m })));
      expect(problems, problems).toBe('');
    });
  }

  it(`random sequences: ${SEQS} × ${LEN} requests from seed ${FIRST_SEED}`, async () => {
    const started = Date.now();
    const failures: { seq: string; m: Mismatch }[] = [];
    const kept = new Set(loadRegressions().map((s) => s.note ?? ''));
    let requests = 0;
    for (let i = 0; i < SEQS; i++) {
      const seed = FIRST_SEED + i;
      const seq = generate(seed, LEN);
      // stop at the first mismatch: after a divergence every later step differs too
      const r = await differ.run(seq, { stopAtFirst: true });
      requests += r.requests;
      for (const m of r.mismatches) failures.push({ seq: seq.name, m });
      const first = r.mismatches[0];
      if (first && KEEP) {
        const signature = sig(first);
        if (!kept.has(signature)) {
          kept.add(signature);
          // shrink only while the run is young, so a broken build cannot blow the time budget
          const small =
            Date.now() - started < 20_000 ? await differ.shrink(seq, first, Date.now() + 8_000) : seq;
          mkdirSync(REGRESSIONS, { recursive: true });
          const file = join(REGRESSIONS, `seed-${seed}-step-${first.index}.json`);
          writeFileSync(file, `${JSON.stringify({ ...small, note: signature }, null, 2)}\n`);
        }
      }
    }
    console.log(
      `differential: ${requests} request pairs in ${SEQS} sequences, ${failures.length} mismatches`,
    );
    expect(failures.length, report(failures)).toBe(0);
  });
});
