// Fragmentation of large watch responses (etcd v3rpc/watch.go sendFragments, 3.4). Only for watchers created
// with `fragment: true`: a response whose encoded size reaches the limit and that carries at least two events is
// cut into pieces, each holding as many events as stay under the limit (always at least one); every piece but
// the last has `fragment: true`. Clients reassemble by concatenating events until a piece without the flag.

import type { Event } from '../etcd/kv.ts';
import type { WatchResponse } from '../etcd/types.ts';
import { eventFieldSize, watchResponseBaseSize } from './size.ts';

export function fragmentResponse(resp: WatchResponse, maxBytes: number): WatchResponse[] {
  const { events } = resp;
  if (events.length < 2) return [resp];
  const sizes = events.map(eventFieldSize);
  let total = watchResponseBaseSize(resp);
  for (const s of sizes) total += s;
  if (total < maxBytes) return [resp];

  const base = watchResponseBaseSize({ ...resp, fragment: true });
  const pieces: WatchResponse[] = [];
  let i = 0;
  while (i < events.length) {
    const part: Event[] = [];
    let size = base;
    while (i < events.length && (part.length === 0 || size + sizes[i] < maxBytes)) {
      part.push(events[i]);
      size += sizes[i];
      i++;
    }
    pieces.push({ ...resp, events: part, fragment: i < events.length });
  }
  return pieces;
}
