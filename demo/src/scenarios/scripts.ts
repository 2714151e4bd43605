// The guided scenarios, in the manner of "The Secret Lives of Data": each sets the live cluster up in one click,
// does one thing to it, and says what happens as the members report it. Every step waits for the real members
// (their reported role, term, log and keyspace, and their own Raft events), so the narration follows the run
// rather than a script of timings. `mark` records facts a test (or a curious reader) can check at the end.

import type { LiveMember, Stage } from './stage.ts';

export interface ScenarioContext {
  readonly stage: Stage;
  /** Adds a line of narration (the current step). */
  say(text: string): void;
  /** Records facts about the run on the scenario's root element (data attributes). */
  mark(facts: Record<string, string | number>): void;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Pause between narration steps, in cluster time, so a viewer can read before the next thing happens. */
const BEAT_MS = 1500;

const others = (s: Stage, m: LiveMember) => s.live().filter((x) => x.id !== m.id);

const killTheLeader: Scenario = {
  id: 'kill-leader',
  title: 'Kill the leader',
  async run({ stage, say, mark }) {
    const old = await stage.prepare();
    const term = old.state.term;
    mark({ oldLeader: old.id, oldTerm: term });
    say(
      `n${old.id} leads term ${term}. Its heartbeats (grey dots) keep resetting the followers' election timers — the white rings.`,
    );
    await stage.sleep(BEAT_MS);
    stage.kill(old);
    say(`n${old.id} crashes. No heartbeats come any more, and the followers' rings run down…`);
    const next = await stage.leader((l) => l.id !== old.id && l.state.term > term);
    mark({ newLeader: next.id, newTerm: next.state.term });
    say(
      `…n${next.id}'s ran out first: it asked the others for a pre-vote, then for a vote in term ${next.state.term}, and with 2 of 3 votes — a majority — it leads.`,
    );
    await stage.sleep(BEAT_MS);
    stage.restart(old);
    say(`n${old.id} restarts and recovers its log and term from IndexedDB…`);
    await stage.until(
      () => old.up && old.state?.role === 'follower' && old.state.leader === next.id,
      `n${old.id} to follow n${next.id}`,
    );
    say(
      `…hears n${next.id}'s heartbeats of term ${next.state.term}, higher than its own ${term}, and follows. No committed write was lost.`,
    );
  },
};

const lostUncommittedWrite: Scenario = {
  id: 'lost-write',
  title: 'A lost uncommitted write',
  async run({ stage, say, mark }) {
    const old = await stage.prepare();
    const term = old.state.term;
    const before = old.state.lastIndex;
    // Right after the cut, before check-quorum makes the isolated leader step down: it still takes the write.
    stage.isolate(old);
    const lost = stage.put(old, 'story/lost', 'never');
    say(
      `The leader n${old.id} is cut off from the others — it does not know yet, and still accepts a write.`,
    );
    await stage.until(() => (old.state?.lastIndex ?? 0) > before, `n${old.id} to append the write`);
    const index = old.state!.lastIndex;
    mark({ oldLeader: old.id, oldTerm: term, lostIndex: index });
    say(
      `A client puts story/lost=never through n${old.id}: it appends entry #${index} (faded: not committed) but cannot reach a majority to commit it, so the client gets no answer.`,
    );
    const next = await stage.leader((l) => l.id !== old.id && l.state.term > term);
    say(`The others stop hearing n${old.id}: n${next.id} wins an election in term ${next.state.term}.`);
    const kept = await stage.put(next, 'story/kept', 'yes');
    if (kept.status !== 200) throw new Error(`the majority's write failed: HTTP ${kept.status}`);
    say(
      `n${next.id} commits story/kept=yes with the majority; its log has other entries where n${old.id}'s has #${index}.`,
    );
    await stage.sleep(BEAT_MS);
    stage.heal();
    say('The network heals…');
    await stage.until(
      () =>
        stage.events.some((e) => e.id === old.id && e.event.type === 'truncated') &&
        stage.members.every((m) => stage.hasKey(m, 'story/kept') && !stage.hasKey(m, 'story/lost')),
      `n${old.id} to drop its uncommitted entry`,
    );
    const reply = await lost;
    mark({ newLeader: next.id, lostStatus: reply.status });
    say(
      `…n${old.id} hears term ${next.state.term}, steps down, and drops its uncommitted entry #${index}: the leader's log wins. The write was never acknowledged (HTTP ${reply.status || 'no answer'}), so nothing promised to a client was lost.`,
    );
  },
};

const minorityWrite: Scenario = {
  id: 'minority-write',
  title: 'A minority write',
  async run({ stage, say, mark }) {
    const leader = await stage.prepare();
    const term = leader.state.term;
    const lonely = others(stage, leader)[0];
    stage.isolate(lonely);
    mark({ leader: leader.id, term, minority: lonely.id });
    say(`n${lonely.id} is cut off from the others: alone, it is a minority (1 of 3).`);
    const minority = stage.put(lonely, 'story/minority', 'x');
    say(
      `A client puts story/minority=x through n${lonely.id}. It forwards writes to its leader, but nothing gets through, and one member alone can never commit.`,
    );
    await stage.sleep(BEAT_MS);
    const majority = await stage.put(leader, 'story/majority', 'y');
    if (majority.status !== 200) throw new Error(`the majority's write failed: HTTP ${majority.status}`);
    say(`Meanwhile the majority carries on: story/majority=y commits on n${leader.id} and its follower.`);
    const reply = await minority;
    mark({ minorityStatus: reply.status });
    say(
      `The write through n${lonely.id} fails when its request times out (HTTP ${reply.status}): the client knows it did not happen.`,
    );
    stage.heal();
    await stage.until(
      () =>
        stage.hasKey(lonely, 'story/majority') &&
        stage.members.every((m) => !stage.hasKey(m, 'story/minority')),
      `n${lonely.id} to catch up`,
    );
    const now = await stage.leader();
    mark({ termAfter: now.state.term });
    say(
      now.state.term === term
        ? `Healed: n${lonely.id} catches up on story/majority, and the leader keeps term ${term} — pre-vote kept the lonely member from bumping the term while it was cut off.`
        : `Healed: n${lonely.id} catches up on story/majority; the cluster is in term ${now.state.term}.`,
    );
  },
};

const leaseExpiry: Scenario = {
  id: 'lease-expiry',
  title: 'Lease expiry',
  async run({ stage, say, mark }) {
    const leader = await stage.prepare();
    const ttl = 3;
    const lease = await stage.leaseGrant(leader, ttl);
    const put = await stage.put(leader, 'story/session', 'alive', lease);
    if (put.status !== 200) throw new Error(`the put with the lease failed: HTTP ${put.status}`);
    mark({ lease, ttl });
    say(
      `A client takes lease ${lease} with a ${ttl} s TTL and attaches story/session=alive to it, then goes silent: no keep-alives.`,
    );
    await stage.until(
      () => stage.live().every((m) => stage.hasKey(m, 'story/session')),
      'the key everywhere',
    );
    say(
      `The key is on every member. Only the leader counts the lease down (etcd's primary lessor); the followers just hold the lease.`,
    );
    await stage.until(
      () => stage.members.every((m) => !stage.hasKey(m, 'story/session')),
      'the lease to expire',
      (ttl + 10) * 1000,
    );
    say(
      `${ttl} s later the leader proposed the lease's revoke (lease− in the log); every member applied it and deleted story/session at the same revision.`,
    );
  },
};

const snapshotCatchUp: Scenario = {
  id: 'snapshot',
  title: 'A snapshot catch-up',
  async run({ stage, say, mark }) {
    const leader = await stage.prepare();
    const behind = others(stage, leader)[0];
    stage.kill(behind);
    const last = behind.state!.lastIndex;
    mark({ leader: leader.id, behind: behind.id, behindLast: last });
    say(`n${behind.id} crashes with its log up to #${last}.`);
    say(
      'Clients keep writing. Every 40 applied entries a member snapshots its keyspace and compacts its log, keeping only 10 entries before the snapshot…',
    );
    let written = 0;
    while (leader.state.firstIndex <= last + 1 && written < 200) {
      const batch = Array.from({ length: 10 }, (_, i) => stage.put(leader, `story/snap/${written + i}`, 'x'));
      written += batch.length;
      await Promise.all(batch);
      await stage.sleep(100);
    }
    await stage.until(() => leader.state.firstIndex > last + 1, `n${leader.id} to compact past #${last}`);
    mark({ written, leaderFirst: leader.state.firstIndex });
    say(
      `…after ${written} writes n${leader.id}'s log starts at #${leader.state.firstIndex}: the entries n${behind.id} is missing are gone from it.`,
    );
    await stage.sleep(BEAT_MS);
    stage.restart(behind);
    say(
      `n${behind.id} restarts. The leader cannot send the entries it lacks, so it sends its snapshot (MsgSnap, orange)…`,
    );
    await stage.until(
      () =>
        stage.events.some((e) => e.id === behind.id && e.event.type === 'snapshot-installed') &&
        (behind.state?.applied ?? 0) >= leader.state.commit,
      `n${behind.id} to install the snapshot`,
    );
    say(`…n${behind.id} installs it, then takes the few entries after it as ordinary appends: caught up.`);
  },
};

export const SCENARIOS: readonly Scenario[] = [
  killTheLeader,
  lostUncommittedWrite,
  minorityWrite,
  leaseExpiry,
  snapshotCatchUp,
];
