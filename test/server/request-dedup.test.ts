import { describe, expect, it } from 'vitest';
import { RequestDedup } from '../../src/server/request-dedup.ts';

describe('RequestDedup (exactly-once apply of proposals)', () => {
  it('applies a request ID once, per proposer incarnation', () => {
    const d = new RequestDedup();
    const id = { member: 7n, nonce: 1, seq: 5 };
    expect(d.firstTime(id, 10)).toBe(true);
    expect(d.firstTime(id, 11)).toBe(false); // the duplicated MsgProp, appended again
    expect(d.firstTime({ ...id, nonce: 2 }, 12)).toBe(true); // same seq after a restart: a new request
    expect(d.firstTime({ ...id, member: 8n }, 13)).toBe(true);
  });

  it('survives a snapshot round trip, so members restored from a snapshot decide alike', () => {
    const d = new RequestDedup();
    for (let seq = 0; seq < 100; seq++) d.firstTime({ member: 1n, nonce: 9, seq }, seq + 1);
    const restored = RequestDedup.fromJSON(JSON.parse(JSON.stringify(d.toJSON())));
    expect(restored.firstTime({ member: 1n, nonce: 9, seq: 42 }, 200)).toBe(false);
    expect(restored.firstTime({ member: 1n, nonce: 9, seq: 100 }, 201)).toBe(true);
  });

  it('remembers the last 4096 request IDs per proposer, oldest forgotten first, in order across a snapshot', () => {
    const d = new RequestDedup();
    const id = (seq: number) => ({ member: 3n, nonce: 1, seq });
    for (let seq = 0; seq < 4096 + 10; seq++) expect(d.firstTime(id(seq), seq + 1)).toBe(true);
    const [[, , order]] = d.toJSON();
    expect(order).toEqual(Array.from({ length: 4096 }, (_, i) => i + 10));
    const restored = RequestDedup.fromJSON(JSON.parse(JSON.stringify(d.toJSON())));
    expect(restored.toJSON()).toEqual(d.toJSON());
    for (const x of [d, restored]) {
      expect(x.firstTime(id(10), 5000)).toBe(false);
      expect(x.firstTime(id(9), 5001)).toBe(true); // forgotten: the window moved past it
      expect(x.firstTime(id(10), 5002)).toBe(true); // and 9 pushed out 10, the oldest
    }
    expect(restored.toJSON()).toEqual(d.toJSON());
  });
});
