// The keyspace's value spill for Node (ValueSpill, src/mvcc/value-store.ts): a scratch file in the data
// directory that the store writes segments of values to and reads them back from, synchronously (a read of a
// spilled value is a read of the page cache, as etcd's reads of its bbolt file are). Nothing in it is needed after
// the process ends, so it is unlinked as soon as it is open: it never outlives the process, even after a crash,
// and its disk space goes with its descriptor. A store that is replaced (a restored snapshot) lets go of its
// spill, which is then closed when collected.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ValueSpill } from '../../../src/mvcc/value-store.ts';

const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing holds it.
  }
});

let opened = 0;

/** A fresh, empty spill file in `dir` (which must exist). */
export function openValueSpill(dir: string): ValueSpill {
  const path = join(dir, `values-${process.pid}-${++opened}.spill`);
  const fd = openSync(path, 'w+');
  unlinkSync(path);
  const spill: ValueSpill = {
    write(position, bytes) {
      for (let done = 0; done < bytes.length; ) {
        done += writeSync(fd, bytes, done, bytes.length - done, position + done);
      }
    },
    read(position, into) {
      for (let done = 0; done < into.length; ) {
        const n = readSync(fd, into, done, into.length - done, position + done);
        if (n === 0) throw new Error(`value spill: read past its end at ${position + done}`);
        done += n;
      }
    },
  };
  closer.register(spill, fd);
  return spill;
}
