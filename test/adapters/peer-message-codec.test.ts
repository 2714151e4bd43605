// The peer protocol's binary Raft messages (adapters/transport/peer/message-codec.ts): every shape Raft sends
// comes back equal, and damaged payloads are refused with the decoder's own error, never half-read.
import { describe, expect, it } from 'vitest';
import {
  BINARY_MESSAGE_TAG,
  decodeBinaryMessage,
  encodeMessageFrame,
  MessageCodecError,
} from '../../adapters/transport/peer/message-codec.ts';
import { decodeMessage, FRAME_HEADER_BYTES, ProtocolError } from '../../adapters/transport/peer/wire.ts';
import type { Message } from '../../src/raft/types.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);
const payloadOf = (m: Message) => encodeMessageFrame(m).subarray(FRAME_HEADER_BYTES);

const samples: Message[] = [
  { type: 'MsgHeartbeat', from: 1n, to: 2n, term: 3, commit: 7, context: bytes(1, 2) },
  { type: 'MsgHeartbeatResp', from: 2n, to: 1n, term: 3 },
  {
    type: 'MsgApp',
    from: 0xfedcba9876543210n,
    to: 2n,
    term: 2 ** 40,
    index: 9,
    logTerm: 2,
    commit: 8,
    entries: [
      { term: 2, index: 10, type: 'normal', data: bytes(1, 2, 3) },
      { term: 2, index: 11, type: 'confChange', data: bytes() },
    ],
  },
  { type: 'MsgAppResp', from: 2n, to: 1n, term: 2, index: 11, reject: true, rejectHint: 4, logTerm: 1 },
  { type: 'MsgAppResp', from: 2n, to: 1n, term: 2, index: 11, reject: false },
  { type: 'MsgProp', from: 3n, to: 1n, term: 0, entries: [{ type: 'normal', data: bytes(9) }] as never },
  { type: 'MsgVote', from: 1n, to: 3n, term: 5, index: 20, logTerm: 4, transfer: true },
  {
    type: 'MsgSnap',
    from: 1n,
    to: 3n,
    term: 5,
    snapshot: {
      metadata: { index: 2 ** 33, term: 4, confState: { voters: [1n, 2n], learners: [3n] } },
      offset: 0,
      total: 3,
      data: bytes(7, 8, 9),
    },
  },
  { type: 'MsgSnapResp', from: 3n, to: 1n, term: 5, offset: 3 },
  { type: 'MsgReadIndex', from: 2n, to: 1n, term: 5, entries: [] },
];

describe('binary peer messages', () => {
  it('round-trip every shape Raft sends', () => {
    for (const m of samples) {
      const payload = payloadOf(m);
      expect(payload[0]).toBe(BINARY_MESSAGE_TAG);
      expect(decodeBinaryMessage(payload)).toEqual(m);
      expect(decodeMessage(payload)).toEqual(m);
    }
  });

  it('frame the payload with its big-endian length', () => {
    const frame = encodeMessageFrame(samples[0]);
    expect(new DataView(frame.buffer).getUint32(0)).toBe(frame.length - FRAME_HEADER_BYTES);
  });

  it('copy the data: the sender may reuse its arrays', () => {
    const data = bytes(1, 2, 3);
    const payload = payloadOf({ ...samples[2], entries: [{ term: 1, index: 1, type: 'normal', data }] });
    data[0] = 99;
    expect(decodeBinaryMessage(payload).entries?.[0].data).toEqual(bytes(1, 2, 3));
  });

  it('refuse every truncation and trailing bytes', () => {
    for (const m of samples) {
      const payload = payloadOf(m);
      for (let n = 0; n < payload.length; n++) {
        expect(() => decodeBinaryMessage(payload.subarray(0, n)), `${m.type} cut at ${n}`).toThrow(
          MessageCodecError,
        );
      }
      expect(() => decodeBinaryMessage(Uint8Array.of(...payload, 0))).toThrow(/trailing/);
    }
  });

  it('refuse an unknown type, unknown flags, a negative or fractional term, an unplaced entry outside MsgProp', () => {
    const payload = payloadOf(samples[2]);
    const damaged = (f: (view: DataView) => void) => {
      const copy = Uint8Array.from(payload);
      f(new DataView(copy.buffer));
      return () => decodeBinaryMessage(copy);
    };
    expect(damaged((v) => v.setUint8(1, 200))).toThrow(/type/);
    expect(damaged((v) => v.setUint16(2, 0xf000, true))).toThrow(/flags/);
    expect(damaged((v) => v.setFloat64(20, -1, true))).toThrow(/term/);
    expect(damaged((v) => v.setFloat64(20, 0.5, true))).toThrow(/term/);
    // The first entry's term, after the fixed part, index, logTerm, commit and the entry count.
    expect(damaged((v) => v.setFloat64(56, Number.NaN, true))).toThrow(/entry/);
  });

  it('refuse an entry count the payload cannot hold, before allocating for it', () => {
    const payload = Uint8Array.from(payloadOf(samples[2]));
    new DataView(payload.buffer).setUint32(52, 0xffffffff, true);
    expect(() => decodeBinaryMessage(payload)).toThrow(/entries/);
  });

  it('reach callers of decodeMessage as ProtocolError', () => {
    expect(() => decodeMessage(Uint8Array.of(BINARY_MESSAGE_TAG, 3))).toThrow(ProtocolError);
  });
});
