// Which member of a mixed group the Worker sends a client request to. The group's members hosted here are the
// joined objects named in the directory (an object of the namespace that lists the names joined through this
// Worker) that the replicated member list still has, with their roles from that list (a learner stays one until
// `member promote`). Members are asked for the list at most once a second per isolate.
//
//   serializable range, watch      a learner if the group has one here (reads near users, from its own replica),
//                                  else a voter
//   everything else                a voter: linearizable reads need a member that can run ReadIndex, and
//                                  writes are forwarded to the leader by any voter (a learner refuses both
//                                  with etcd's "rpc not supported for learner")

import { httpBatchUrl } from '../../transport/fetch/index.ts';
import { MEMBER_NAME, WORKER_PEER_PREFIX } from './join.ts';
import type { EdgecdEnv, MemberStatus } from './stub.ts';
import { memberStub } from './stub.ts';

/** The directory object's name (never a member name: MEMBER_NAME has no `~`). */
export const DIRECTORY_NAME = '~directory';

export interface HostedMember {
  readonly name: string;
  readonly id: string;
  readonly isLearner: boolean;
}

const VIEW_TTL_MS = 1000;
let cached: { at: number; members: HostedMember[] | undefined } | undefined;

export function directory(env: EdgecdEnv) {
  return memberStub(env, DIRECTORY_NAME);
}

/** Forgets the cached view (after a join, so the next request sees the new member). */
export function forgetView(): void {
  cached = undefined;
}

/**
 * The members of the group hosted by this Worker, as the replicated member list has them; undefined when the
 * Worker hosts no joined member (it serves its own cluster, EDGECD_MEMBERS). Once a member has joined through
 * it, the Worker never falls back to its own cluster: when none of its members answers (they are restarting,
 * say), the list is empty and requests get "unavailable" rather than another cluster's answer.
 */
export async function hostedMembers(env: EdgecdEnv): Promise<HostedMember[] | undefined> {
  const now = Date.now();
  if (cached && now - cached.at < VIEW_TTL_MS) return cached.members;
  const names = (await directory(env).directoryList()).filter((n) => MEMBER_NAME.test(n));
  if (names.length === 0) {
    cached = { at: now, members: undefined }; // the Worker's own cluster: no directory call per request
    return undefined;
  }
  let status: MemberStatus | undefined;
  for (const name of shuffle(names)) {
    try {
      status = await memberStub(env, name).memberStatus();
      break;
    } catch {
      // not started, evicted mid-call, or removed: ask the next
    }
  }
  const members: HostedMember[] = [];
  for (const m of status?.members ?? []) {
    const url = httpBatchUrl(m.peerURLs[0] ?? '') ?? '';
    const at = url.indexOf(WORKER_PEER_PREFIX);
    const name = at < 0 ? '' : decodeURIComponent(url.slice(at + WORKER_PEER_PREFIX.length));
    if (names.includes(name)) members.push({ name, id: m.id, isLearner: m.isLearner });
  }
  // Remember only an answer: with no member answering, ask again on the next request.
  if (status) cached = { at: now, members };
  return members;
}

/** Does the request only read, and may it be served from a learner's replica? */
export async function servableByLearner(path: string, request: Request): Promise<boolean> {
  if (path === '/v3/watch') return true;
  if (path !== '/v3/kv/range') return false;
  try {
    const body = (await request.clone().json()) as { serializable?: unknown };
    return body.serializable === true;
  } catch {
    return false;
  }
}

/** Member names in the order to try for a request (see the file comment). */
export function candidates(members: readonly HostedMember[], learnerOk: boolean): string[] {
  const voters = shuffle(members.filter((m) => !m.isLearner).map((m) => m.name));
  if (!learnerOk) return voters;
  return [...shuffle(members.filter((m) => m.isLearner).map((m) => m.name)), ...voters];
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
