// How the interaction scripts print Raft's data, one line per message or entry, in the manner of etcd-io/raft's
// DescribeMessage and DescribeReady:
//
//   1->2 MsgApp Term:2 Log:1/3 Commit:3 Entries:[2/4 EntryNormal "x"]
//   2->1 MsgAppResp Term:2 Log:0/3 Rejected (Hint: 2)
//
// An entry is term/index, its type and its data (a normal entry's as a JSON string, a configuration change
// decoded). parseMessage reads the same line back, so a script can step hand-made messages into a node.

import { decodeConfChange } from '../../../src/raft/confchange.ts';
import type { Ready } from '../../../src/raft/raw-node.ts';
import type {
  Entry,
  Message,
  MessageType,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from '../../../src/raft/types.ts';
import { dec, enc } from '../harness.ts';

const ids = (list: readonly NodeId[]) => `[${list.join(' ')}]`;

export function describeEntry(e: Entry): string {
  if (e.type === 'normal') return `${e.term}/${e.index} EntryNormal ${JSON.stringify(dec(e.data))}`;
  const cc = decodeConfChange(e.data);
  return `${e.term}/${e.index} EntryConfChange ${cc.type} ${cc.nodeId}`;
}

function describeMetadata(m: SnapshotMetadata): string {
  return `Index:${m.index} Term:${m.term} ConfState:Voters:${ids(m.confState.voters)} Learners:${ids(m.confState.learners)}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `${describeMetadata(s.metadata)} Data:${s.data.length}B`;
}

export function describeMessage(m: Message): string {
  let out = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  if (m.index !== undefined || m.logTerm !== undefined) out += ` Log:${m.logTerm ?? 0}/${m.index ?? 0}`;
  if (m.commit !== undefined) out += ` Commit:${m.commit}`;
  if (m.reject) out += ` Rejected (Hint: ${m.rejectHint ?? 0})`;
  if (m.transfer) out += ' Transfer';
  if (m.offset !== undefined) out += ` Offset:${m.offset}`;
  if (m.context !== undefined) out += ` Context:${JSON.stringify(dec(m.context))}`;
  if (m.entries && m.entries.length > 0) out += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.snapshot) {
    const c = m.snapshot;
    out += ` Snapshot:[${describeMetadata(c.metadata)} Chunk:${c.offset}+${c.data.length}/${c.total}]`;
  }
  return out;
}

/** The Ready, one line per item, sections only when they hold something. */
export function describeReady(rd: Ready): string[] {
  const out = ['Ready:'];
  if (rd.softState) out.push(`Lead:${rd.softState.lead} Role:${rd.softState.role}`);
  if (rd.hardState) {
    const h = rd.hardState;
    out.push(`HardState Term:${h.term} Vote:${h.vote} Commit:${h.commit}`);
  }
  const section = (title: string, lines: readonly string[]) => {
    if (lines.length > 0) out.push(`${title}:`, ...lines);
  };
  section('Entries', rd.entries.map(describeEntry));
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  section('CommittedEntries', rd.committedEntries.map(describeEntry));
  section('Messages', rd.messages.map(describeMessage));
  section('MessagesAfterPersist', rd.messagesAfterPersist.map(describeMessage));
  section(
    'ReadStates',
    rd.readStates.map((r) => `Index:${r.index} Context:${JSON.stringify(dec(r.context))}`),
  );
  return out;
}

/** A normal entry as describeEntry prints it: `2/4 EntryNormal "x"`. */
function parseEntry(text: string): Entry {
  const m = /^(\d+)\/(\d+) EntryNormal ("(?:[^"\\]|\\.)*")$/.exec(text.trim());
  if (!m) throw new Error(`cannot parse entry '${text}' (only normal entries can be written)`);
  return { term: Number(m[1]), index: Number(m[2]), type: 'normal', data: enc(JSON.parse(m[3]) as string) };
}

/** A message as describeMessage prints it (without snapshots). */
export function parseMessage(line: string): Message {
  const head = /^(\d+)->(\d+) (Msg\w+) Term:(\d+)(.*)$/.exec(line.trim());
  if (!head) throw new Error(`cannot parse message '${line}'`);
  let rest = head[5];
  const message: { -readonly [K in keyof Message]: Message[K] } = {
    from: BigInt(head[1]),
    to: BigInt(head[2]),
    type: head[3] as MessageType,
    term: Number(head[4]),
  };
  const entries = /\s*Entries:\[(.*)\]$/.exec(rest);
  if (entries) {
    message.entries = entries[1].split(/, (?=\d+\/\d+ )/).map(parseEntry);
    rest = rest.slice(0, entries.index);
  }
  for (const [, key, value] of rest.matchAll(/(\w+):(\S+)/g)) {
    if (key === 'Log') {
      const [logTerm, index] = value.split('/').map(Number);
      message.logTerm = logTerm;
      message.index = index;
    } else if (key === 'Commit') message.commit = Number(value);
    else if (key === 'Offset') message.offset = Number(value);
    else if (key !== 'Hint') throw new Error(`cannot parse '${key}:' in '${line}'`);
  }
  const rejected = /Rejected \(Hint: (\d+)\)/.exec(rest);
  if (rejected) {
    message.reject = true;
    message.rejectHint = Number(rejected[1]);
  }
  if (/\bTransfer\b/.test(rest)) message.transfer = true;
  return message;
}
