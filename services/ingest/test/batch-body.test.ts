import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BATCH_BODY_ERROR_CODES, splitBatchBody, type BatchBody, type BatchItem } from '../src/batch-body.js';
import { validateTransaction } from '../src/validation.js';

const NOW = Date.UTC(2024, 5, 1);
const CTX = { nowMs: NOW, ingestedAt: NOW };

const tx = (id: string): Record<string, unknown> => ({
  transaction_id: id,
  customer_id: 'c',
  terminal_id: 't',
  amount: 10,
  timestamp: NOW - 1000,
});

function items(body: BatchBody): BatchItem[] {
  if (!body.ok) throw new Error(`unexpected ${body.code}: ${body.reason}`);
  return body.items;
}

const texts = (body: BatchBody): string[] => items(body).map((item) => Buffer.from(item.raw).toString('utf8'));

/** Strings full of the characters a naive splitter would trip on. */
const trickyString = fc.string({ unit: fc.constantFrom(',', '[', ']', '{', '}', '"', '\\', '\n', ' ', 'a', 'é', '😀'), maxLength: 12 });
const element = fc.oneof(fc.jsonValue({ maxDepth: 3 }), trickyString, fc.dictionary(trickyString, fc.oneof(trickyString, fc.jsonValue({ maxDepth: 2 }))));

describe('splitBatchBody: JSON array', () => {
  it('gives back exactly the elements of any array, compact or pretty-printed', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 8 }), fc.boolean(), (array, pretty) => {
        const body = splitBatchBody(pretty ? JSON.stringify(array, null, 2) : JSON.stringify(array));
        expect(body.ok && body.format).toBe('json-array');
        expect(texts(body).map((t) => JSON.parse(t))).toEqual(JSON.parse(JSON.stringify(array)));
        expect(items(body).map((i) => i.index)).toEqual(array.map((_, i) => i));
      }),
      { numRuns: 400 },
    );
  });

  it('reports the line each element starts on', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 6 }), (array) => {
        // In JSON.stringify(array, null, 2) the first element is on line 2 and each one takes its own pretty-printed lines.
        const expected: number[] = [];
        let line = 2;
        for (const el of array) {
          expected.push(line);
          line += JSON.stringify(el, null, 2).split('\n').length;
        }
        expect(items(splitBatchBody(JSON.stringify(array, null, 2))).map((i) => i.line)).toEqual(expected);
      }),
    );
  });

  it('keeps a malformed element as one rejected record among good ones', () => {
    const body = splitBatchBody(`[${JSON.stringify(tx('a'))}, {"transaction_id": , "x": [1, 2]}, ${JSON.stringify(tx('b'))}]`);
    const results = items(body).map((item) => validateTransaction(item.raw, CTX));
    expect(results.map((r) => (r.ok ? r.record.transaction_id : r.code))).toEqual(['a', 'MALFORMED_JSON', 'b']);
  });

  it('passes numbers through unparsed, so 1e400 is judged like on Kafka', () => {
    const body = splitBatchBody(`[${JSON.stringify(tx('a')).replace('"amount":10', '"amount":1e400')}]`);
    const [only] = items(body);
    expect(only && validateTransaction(only.raw, CTX)).toMatchObject({ ok: false, code: 'OUT_OF_RANGE' });
  });

  it('keeps invalid UTF-8 inside its own record', () => {
    const good = Buffer.from(JSON.stringify(tx('a')));
    const bad = Buffer.from(JSON.stringify(tx('b#')));
    bad[bad.indexOf('#')] = 0xfe;
    const body = splitBatchBody(Buffer.concat([Buffer.from('['), good, Buffer.from(','), bad, Buffer.from(']')]));
    expect(items(body).map((item) => validateTransaction(item.raw, CTX).ok)).toEqual([true, false]);
    expect(validateTransaction(items(body)[1]?.raw ?? '', CTX)).toMatchObject({ code: 'BAD_ENCODING' });
  });

  it('treats empty elements as records that fail to parse', () => {
    expect(texts(splitBatchBody('[1,,2]'))).toEqual(['1', '', '2']);
    expect(texts(splitBatchBody('[1,]'))).toEqual(['1', '']);
    expect(texts(splitBatchBody('[ , ]'))).toEqual(['', '']);
    expect(texts(splitBatchBody('[]'))).toEqual([]);
    expect(texts(splitBatchBody('  [ \n ]  \n'))).toEqual([]);
  });

  it('fails the whole body when the array never closes or has data after it', () => {
    expect(splitBatchBody('[{"a":1}')).toMatchObject({ ok: false, code: 'MALFORMED_BODY' });
    expect(splitBatchBody('[{"a":"]}')).toMatchObject({ ok: false, code: 'MALFORMED_BODY' });
    expect(splitBatchBody('\n\n[1, 2')).toMatchObject({ ok: false, code: 'MALFORMED_BODY', reason: expect.stringContaining('line 3') });
    expect(splitBatchBody('[1] x')).toMatchObject({ ok: false, code: 'MALFORMED_BODY' });
    expect(splitBatchBody('[1]\n[2]')).toMatchObject({ ok: false, code: 'MALFORMED_BODY', reason: expect.stringContaining('line 2') });
  });
});

describe('splitBatchBody: NDJSON', () => {
  it('gives one record per non-blank line, with its line number', () => {
    const lines = [JSON.stringify(tx('a')), '', '   ', JSON.stringify(tx('b')), '{"broken": ', JSON.stringify(tx('c'))];
    const body = splitBatchBody(lines.join('\n') + '\n');
    expect(body.ok && body.format).toBe('ndjson');
    expect(items(body).map((i) => [i.index, i.line])).toEqual([
      [0, 1],
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    const results = items(body).map((item) => validateTransaction(item.raw, CTX));
    expect(results.map((r) => (r.ok ? r.record.transaction_id : r.code))).toEqual(['a', 'b', 'MALFORMED_JSON', 'c']);
  });

  it('handles CRLF line ends and a byte order mark', () => {
    const body = splitBatchBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${JSON.stringify(tx('a'))}\r\n${JSON.stringify(tx('b'))}\r\n`)]));
    expect(texts(body)).toEqual([JSON.stringify(tx('a')), JSON.stringify(tx('b'))]);
  });

  it('takes a single object as one NDJSON record', () => {
    expect(texts(splitBatchBody(` ${JSON.stringify(tx('a'))} `))).toEqual([JSON.stringify(tx('a'))]);
  });

  it('gives back every line of random NDJSON', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 8 }), (values) => {
        fc.pre(!Array.isArray(values[0]));
        const body = splitBatchBody(values.map((v) => JSON.stringify(v)).join('\n'));
        expect(texts(body).map((t) => JSON.parse(t))).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))));
      }),
    );
  });
});

describe('splitBatchBody: bodies', () => {
  it('rejects an empty body', () => {
    for (const empty of ['', '  \n\t ', Buffer.from([0xef, 0xbb, 0xbf])]) {
      expect(splitBatchBody(empty)).toMatchObject({ ok: false, code: 'EMPTY_BODY' });
    }
  });

  it('gives the same split for a string and its bytes', () => {
    const text = `[${JSON.stringify(tx('é'))},${JSON.stringify(tx('😀'))}]`;
    expect(texts(splitBatchBody(text))).toEqual(texts(splitBatchBody(Buffer.from(text))));
  });

  it('never throws on random bytes, and items are views inside the body', () => {
    const codes = new Set<string>(BATCH_BODY_ERROR_CODES);
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: fc.constantFrom('[', ']', ',', '"', '\\', '\n', '{', '}', 'x', ' ') }).map((s) => Buffer.from(s))),
        (bytes) => {
          const body = splitBatchBody(bytes);
          if (!body.ok) {
            expect(codes.has(body.code)).toBe(true);
            return;
          }
          for (const item of body.items) {
            expect(item.raw.buffer).toBe(bytes.buffer);
            expect(item.raw.byteOffset + item.raw.byteLength).toBeLessThanOrEqual(bytes.byteOffset + bytes.byteLength);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
