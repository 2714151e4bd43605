import { expect, it } from 'vitest';
import { MvccStore } from '../../src/mvcc/store.ts';

it('sizeBytes tracks snapshot length', () => {
  const s = new MvccStore();
  const t = new TextEncoder();
  const check = () => expect(s.sizeBytes).toBe(s.snapshot().length);
  check();
  for (let i = 0; i < 300; i++) {
    s.put({ key: t.encode(`k${i % 37}`), value: new Uint8Array(i * 7), lease: 0n });
    if (i % 50 === 0) check();
    if (i % 90 === 89) s.deleteRange({ key: t.encode('k1'), rangeEnd: t.encode('k3') });
  }
  check();
  s.compact(200);
  check();
  s.compact(s.revision);
  check();
  const r = MvccStore.restore(s.snapshot());
  expect(r.sizeBytes).toBe(s.snapshot().length);
});
