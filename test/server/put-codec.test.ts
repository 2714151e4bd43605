// Put proposals in their binary layout (src/server/put-codec.ts): every shape of PutRequest comes back as it was
// proposed (absent stays absent), other operations keep msgpack, and a damaged entry is refused, not half-read.
import { describe, expect, it } from 'vitest';
import { decodeProposal, encodeProposal, type Proposal } from '../../src/server/ops.ts';
import { decodePutProposal, PUT_PROPOSAL_TAG } from '../../src/server/put-codec.ts';

const b = (s: string) => new TextEncoder().encode(s);
const id = { member: 0xfedcba9876543210n, nonce: 123456789, seq: 2 ** 40 };

const puts: Proposal[] = [
  { id, op: { type: 'put', request: { key: b('k'), value: b('v') } } },
  { id, op: { type: 'put', request: { key: b('k') } } },
  { id, op: { type: 'put', request: { key: b('k'), value: new Uint8Array(0), lease: 0n } } },
  {
    id,
    op: {
      type: 'put',
      request: { key: b('ключ'), value: b('x'.repeat(3000)), lease: -5n, prevKv: true },
      auth: { user: 'röot', revision: 17 },
    },
  },
  {
    id,
    op: {
      type: 'put',
      request: { key: b('k'), ignoreValue: true, ignoreLease: true },
      auth: { user: '', revision: 0 },
    },
  },
];

describe('put proposals', () => {
  it('come back as proposed, in the binary layout', () => {
    for (const p of puts) {
      const data = encodeProposal(p);
      expect(data[0]).toBe(PUT_PROPOSAL_TAG);
      expect(decodeProposal(data)).toEqual(p);
    }
  });

  it('leave every other operation in msgpack', () => {
    const p: Proposal = { id, op: { type: 'deleteRange', request: { key: b('a'), rangeEnd: b('b') } } };
    const data = encodeProposal(p);
    expect(data[0]).not.toBe(PUT_PROPOSAL_TAG);
    expect(decodeProposal(data)).toEqual(p);
  });

  it('refuse a truncated or overlong entry', () => {
    for (const p of puts) {
      const data = encodeProposal(p);
      for (let n = 0; n < data.length; n++)
        expect(() => decodePutProposal(data.subarray(0, n))).toThrow(/malformed/);
      expect(() => decodePutProposal(Uint8Array.of(...data, 0))).toThrow(/malformed/);
    }
  });
});
