// Go-compatible pieces of the gateway: encoding/json's decoder errors, base64's, and jsonpb's output rules.
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../src/api/gateway/base64.ts';
import { decodeRange, MessageReader } from '../../src/api/gateway/decode.ts';
import { event, rangeResponse, txnResponse } from '../../src/api/gateway/encode.ts';
import { JsonNumber, JsonStreamDecoder, scanValue } from '../../src/api/gateway/json-scan.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const scanError = (s: string) => {
  try {
    scanValue(bytes(s), 0, true);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

describe('JSON scanner (Go encoding/json texts)', () => {
  it.each([
    ['{"a": nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['nope', "invalid character 'o' in literal null (expecting 'u')"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ['{a:1}', "invalid character 'a' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a":}', "invalid character '}' looking for beginning of value"],
    ['"\\x"', "invalid character 'x' in string escape code"],
    ['"a\nb"', "invalid character '\\n' in string literal"],
    ['-x', "invalid character 'x' in numeric literal"],
    ['1.x', "invalid character 'x' after decimal point in numeric literal"],
    ["'a'", "invalid character '\\'' looking for beginning of value"],
    ['{"a":', 'unexpected EOF'],
    ['"abc', 'unexpected EOF'],
  ])('%s → %s', (input, message) => {
    expect(scanError(input)).toBe(message);
  });

  it('keeps number literals as text (no precision loss)', () => {
    const r = scanValue(bytes('{"ID":9223372036854775807}'), 0, true);
    expect(r.kind).toBe('value');
    const v = (r as { value: Map<string, unknown> }).value.get('ID');
    expect(v).toBeInstanceOf(JsonNumber);
    expect((v as JsonNumber).text).toBe('9223372036854775807');
  });

  it('decodes escapes and unicode', () => {
    const r = scanValue(bytes('"a\\n\\u00e9\\ud83d\\ude00é"'), 0, true) as { value: string };
    expect(r.value).toBe('a\né😀é');
  });

  it('streams concatenated values across chunk boundaries', () => {
    const d = new JsonStreamDecoder();
    const got: unknown[] = [];
    for (const chunk of ['{"a":1}{"b"', ':2}  12', '3 [true]', ' null']) {
      d.push(bytes(chunk));
      for (let v = d.next(false); v !== undefined; v = d.next(false)) got.push(v);
    }
    for (let v = d.next(true); v !== undefined; v = d.next(true)) got.push(v);
    expect(got).toEqual([
      new Map([['a', new JsonNumber('1')]]),
      new Map([['b', new JsonNumber('2')]]),
      new JsonNumber('123'),
      [true],
      null,
    ]);
  });
});

describe('base64 (Go StdEncoding)', () => {
  it('round-trips with padding', () => {
    for (const s of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) {
      const enc = encodeBase64(bytes(s));
      expect(enc).toBe(Buffer.from(s).toString('base64'));
      expect(new TextDecoder().decode(decodeBase64(enc))).toBe(s);
    }
    expect(decodeBase64('Zm9v\nYmFy').length).toBe(6); // CR/LF are skipped
  });

  it.each([
    ['Zm9v!', 4],
    ['Zm9', 0],
    ['Zg', 0],
    ['Zm9vY', 4],
    ['Z===', 1],
    ['Zg=', 3],
    ['Zg==Zg==', 4],
    ['Zm-v', 2],
  ])('%s → illegal base64 data at input byte %i', (input, offset) => {
    expect(() => decodeBase64(input)).toThrow(`illegal base64 data at input byte ${offset}`);
  });
});

describe('jsonpb request rules', () => {
  const read = (json: string) => {
    const r = scanValue(bytes(json), 0, true);
    return MessageReader.of(r.kind === 'value' ? r.value : undefined, 'etcdserverpb.RangeRequest');
  };

  it('accepts proto and JSON names, strings or numbers for int64, names or numbers for enums', () => {
    const a = decodeRange(read('{"key":"Zm9v","range_end":"Zm9w","limit":"5","sort_order":"DESCEND"}'));
    const b = decodeRange(read('{"key":"Zm9v","rangeEnd":"Zm9w","limit":5,"sortOrder":2}'));
    expect(a).toEqual(b);
    expect(a.limit).toBe(5);
    expect(a.sortOrder).toBe('DESCEND');
    expect('revision' in a).toBe(false); // absent fields are left out, not undefined
  });

  it.each([
    ['{"key":5}', 'json: cannot unmarshal number into Go value of type []uint8'],
    ['{"limit":"abc"}', "invalid character 'a' looking for beginning of value"],
    ['{"limit":1.5}', 'json: cannot unmarshal number 1.5 into Go value of type int64'],
    ['{"limit":true}', 'json: cannot unmarshal bool into Go value of type int64'],
    ['{"sort_order":"UP"}', 'unknown value "UP" for enum etcdserverpb.RangeRequest_SortOrder'],
    ['{"serializable":"yes"}', 'json: cannot unmarshal string into Go value of type bool'],
    ['[1]', 'json: cannot unmarshal array into Go value of type map[string]json.RawMessage'],
  ])('%s → %s', (json, message) => {
    expect(() => decodeRange(read(json))).toThrow(message);
  });
});

describe('jsonpb response rules', () => {
  const header = { clusterId: 42n, memberId: 1n, revision: 5, raftTerm: 2 };
  const kv = { key: bytes('k'), createRevision: 2, modRevision: 5, version: 3, value: bytes('v'), lease: 0n };

  it('omits zero values, writes int64 as strings, bytes as base64', () => {
    expect(rangeResponse({ header, kvs: [], more: false, count: 0 })).toBe(
      '{"header":{"cluster_id":"42","member_id":"1","revision":"5","raft_term":"2"}}',
    );
    expect(rangeResponse({ header, kvs: [kv], more: true, count: 7 })).toBe(
      '{"header":{"cluster_id":"42","member_id":"1","revision":"5","raft_term":"2"},' +
        '"kvs":[{"key":"aw==","create_revision":"2","mod_revision":"5","version":"3","value":"dg=="}],' +
        '"more":true,"count":"7"}',
    );
  });

  it('enums by name, PUT omitted; nested txn headers carry only revision', () => {
    expect(event({ type: 'PUT', kv })).not.toContain('"type"');
    expect(
      event({ type: 'DELETE', kv: { ...kv, value: new Uint8Array(), version: 0, createRevision: 0 } }),
    ).toBe('{"type":"DELETE","kv":{"key":"aw==","mod_revision":"5"}}');
    expect(
      txnResponse({
        header,
        succeeded: true,
        responses: [
          { responsePut: { header } },
          { responseRange: { header, kvs: [], more: false, count: 0 } },
        ],
      }),
    ).toBe(
      '{"header":{"cluster_id":"42","member_id":"1","revision":"5","raft_term":"2"},"succeeded":true,' +
        '"responses":[{"response_put":{"header":{"revision":"5"}}},{"response_range":{"header":{"revision":"5"}}}]}',
    );
  });
});
