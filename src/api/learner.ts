// What a learner serves, for every API surface (gRPC, the JSON gateway, the Worker, the in-page gateway): the
// request pipeline's admission (./pipeline.ts) asks. etcd's isRPCSupportedForLearner allows Status and serializable
// Range; everything else gets "etcdserver: rpc not supported for learner". edgecd also lets a learner serve Watch
// from its own replica (etcd refuses every stream on a learner): learners near users — edge and browser members —
// exist to serve reads and watches, and a watch is as stale-tolerant as a serializable range (a deliberate
// deviation, see README). For the same reason a learner serves a serializable RangeStream (etcd v3.7's stream
// interceptor refuses it there, as every stream but Snapshot): it is a serializable Range sent in chunks.

/** `rpc` is the method's name without its service (`Range`, `Status`, `Watch`, …). */
export function learnerMayServe(rpc: string, serializable: boolean): boolean {
  if (rpc === 'Status' || rpc === 'Watch') return true;
  return (rpc === 'Range' || rpc === 'RangeStream') && serializable;
}
