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
});
