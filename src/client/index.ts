// edgecd's portable client recipes for code that embeds the core (an EdgeNode from createNode): a Session (a lease
// kept alive through an injected Clock), a Mutex and an Election on it, and fencing tokens. See ./README.md.

export { Election } from './election.ts';
export { type FencingToken, fencingCompare, withFencing } from './fencing.ts';
export { Mutex } from './mutex.ts';
export { Session, type SessionOptions } from './session.ts';
