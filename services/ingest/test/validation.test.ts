import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_VALIDATION_LIMITS,
  INGEST_ERROR_CODES,
  labelSchema,
  plainLabel,
  plainTransaction,
  transactionSchema,
  validateLabel,
  validateTransaction,
  type IngestErrorCode,
  type ValidationLimits,
  type ValidationResult,
} from '../src/validation.js';

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const CTX = { nowMs: NOW, ingestedAt: NOW + 5 };
const DAY = 86_400_000;
const TX_TIME = Date.UTC(2024, 4, 31, 8, 30, 0);

const goodTx = {
  transaction_id: 'tx-1',
  customer_id: 'c-1',
  terminal_id: 't-1',
  amount: 42.5,
  timestamp: TX_TIME,
  currency: 'EUR',
};

const goodLabel = {
  transaction_id: 'tx-1',
  customer_id: 'c-1',
  terminal_id: 't-1',
  tx_timestamp: TX_TIME,
  is_fraud: true,
  labeled_at: TX_TIME + DAY,
};

function txWith(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...goodTx, ...overrides });
}

function txWithout(field: keyof typeof goodTx): string {
  const copy: Record<string, unknown> = { ...goodTx };
  delete copy[field];
  return JSON.stringify(copy);
}

/** Splices raw JSON text (which JSON.stringify cannot produce) in place of a field's value. */
function txRaw(field: keyof typeof goodTx, rawValue: string): string {
  return txWith({ [field]: '__RAW__' }).replace('"__RAW__"', rawValue);
}

/** The message's bytes with its first '#' replaced by a raw byte. */
function withByte(text: string, byte: number): Buffer {
  const bytes = Buffer.from(text);
  bytes[bytes.indexOf('#')] = byte;
  return bytes;
}

function labelWith(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...goodLabel, ...overrides });
}

function codeOf<T>(result: ValidationResult<T>): IngestErrorCode | 'ok' {
  return result.ok ? 'ok' : result.code;
}

const badTransactions: [string, string | Uint8Array, IngestErrorCode][] = [
  ['empty message', '', 'MALFORMED_JSON'],
  ['whitespace only', '   \n ', 'MALFORMED_JSON'],
  ['truncated JSON', txWith({}).slice(0, 30), 'MALFORMED_JSON'],
  ['trailing garbage', `${txWith({})} x`, 'MALFORMED_JSON'],
  ['single-quoted JSON', "{'transaction_id': 'tx-1'}", 'MALFORMED_JSON'],
  ['bare NaN token', txRaw('amount', 'NaN'), 'MALFORMED_JSON'],
  ['UTF-16LE encoded JSON', Buffer.from(txWith({}), 'utf16le'), 'MALFORMED_JSON'],
  ['null', 'null', 'NOT_AN_OBJECT'],
  ['empty array', '[]', 'NOT_AN_OBJECT'],
  ['array of one record', `[${txWith({})}]`, 'NOT_AN_OBJECT'],
  ['string', '"tx-1"', 'NOT_AN_OBJECT'],
  ['number', '42', 'NOT_AN_OBJECT'],
  ['boolean', 'true', 'NOT_AN_OBJECT'],
  ['empty object', '{}', 'MISSING_FIELD'],
  ['missing amount', txWithout('amount'), 'MISSING_FIELD'],
  ['missing timestamp', txWithout('timestamp'), 'MISSING_FIELD'],
  ['missing terminal_id', txWithout('terminal_id'), 'MISSING_FIELD'],
  ['null transaction_id', txWith({ transaction_id: null }), 'WRONG_TYPE'],
  ['null amount', txWith({ amount: null }), 'WRONG_TYPE'],
  ['numeric string amount', txWith({ amount: '12.5' }), 'WRONG_TYPE'],
  ['"NaN" amount', txWith({ amount: 'NaN' }), 'WRONG_TYPE'],
  ['"Infinity" amount', txWith({ amount: 'Infinity' }), 'WRONG_TYPE'],
  ['object amount', txWith({ amount: { value: 10 } }), 'WRONG_TYPE'],
  ['array amount', txWith({ amount: [10] }), 'WRONG_TYPE'],
  ['boolean amount', txWith({ amount: true }), 'WRONG_TYPE'],
  ['1e400 amount (parses to Infinity)', txRaw('amount', '1e400'), 'OUT_OF_RANGE'],
  ['-1e400 amount', txRaw('amount', '-1e400'), 'OUT_OF_RANGE'],
  ['negative amount', txWith({ amount: -0.01 }), 'OUT_OF_RANGE'],
  ['amount just above 1e9', txWith({ amount: 1_000_000_000.01 }), 'OUT_OF_RANGE'],
  ['huge amount', txWith({ amount: 1e300 }), 'OUT_OF_RANGE'],
  ['month 13', txWith({ timestamp: '2018-13-01T00:00:00Z' }), 'BAD_TIMESTAMP'],
  ['date without time', txWith({ timestamp: '2018-13-01' }), 'BAD_TIMESTAMP'],
  ['February 30', txWith({ timestamp: '2020-02-30T00:00:00Z' }), 'BAD_TIMESTAMP'],
  ['February 29 of a non-leap year', txWith({ timestamp: '2023-02-29T00:00:00Z' }), 'BAD_TIMESTAMP'],
  ['"yesterday"', txWith({ timestamp: 'yesterday' }), 'BAD_TIMESTAMP'],
  ['empty timestamp', txWith({ timestamp: '' }), 'BAD_TIMESTAMP'],
  ['no offset', txWith({ timestamp: '2024-05-31T08:30:00' }), 'BAD_TIMESTAMP'],
  ['offset without colon', txWith({ timestamp: '2024-05-31T08:30:00+0200' }), 'BAD_TIMESTAMP'],
  ['space instead of T', txWith({ timestamp: '2024-05-31 08:30:00Z' }), 'BAD_TIMESTAMP'],
  ['hour 24', txWith({ timestamp: '2024-05-31T24:00:00Z' }), 'BAD_TIMESTAMP'],
  ['epoch ms as a string', txWith({ timestamp: String(TX_TIME) }), 'BAD_TIMESTAMP'],
  ['fractional epoch ms', txWith({ timestamp: TX_TIME + 0.5 }), 'BAD_TIMESTAMP'],
  ['1e400 timestamp', txRaw('timestamp', '1e400'), 'BAD_TIMESTAMP'],
  ['boolean timestamp', txWith({ timestamp: true }), 'WRONG_TYPE'],
  ['null timestamp', txWith({ timestamp: null }), 'WRONG_TYPE'],
  ['object timestamp', txWith({ timestamp: { ms: TX_TIME } }), 'WRONG_TYPE'],
  ['far future', txWith({ timestamp: '2999-01-01T00:00:00Z' }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['one ms past the allowed skew', txWith({ timestamp: NOW + DAY + 1 }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['before 2000', txWith({ timestamp: '1999-12-31T23:59:59.999Z' }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['epoch seconds', txWith({ timestamp: Math.floor(TX_TIME / 1000) }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['negative epoch', txWith({ timestamp: -1 }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['year 0000', txWith({ timestamp: '0000-01-01T00:00:00Z' }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['empty transaction_id', txWith({ transaction_id: '' }), 'BAD_ID'],
  ['whitespace-only customer_id', txWith({ customer_id: ' \t\u00a0 ' }), 'BAD_ID'],
  ['terminal_id of 129 characters', txWith({ terminal_id: 'x'.repeat(129) }), 'BAD_ID'],
  ['id with an escaped lone surrogate', txRaw('transaction_id', '"tx-\\ud800"'), 'BAD_ID'],
  ['id with a lone low surrogate', txRaw('customer_id', '"\\udc00c"'), 'BAD_ID'],
  ['boolean customer_id', txWith({ customer_id: true }), 'WRONG_TYPE'],
  ['number terminal_id', txWith({ terminal_id: 12345 }), 'WRONG_TYPE'],
  ['array transaction_id', txWith({ transaction_id: ['tx-1'] }), 'WRONG_TYPE'],
  ['two-letter currency', txWith({ currency: 'US' }), 'BAD_CURRENCY'],
  ['four-letter currency', txWith({ currency: 'USDX' }), 'BAD_CURRENCY'],
  ['currency with a symbol', txWith({ currency: 'U$D' }), 'BAD_CURRENCY'],
  ['padded currency', txWith({ currency: ' EUR' }), 'BAD_CURRENCY'],
  ['numeric currency', txWith({ currency: 978 }), 'WRONG_TYPE'],
  ['10 MB payload (bytes)', Buffer.from(txWith({ padding: 'x'.repeat(10 * 1024 * 1024) })), 'MESSAGE_TOO_LARGE'],
  ['10 MB payload (string)', txWith({ padding: 'x'.repeat(10 * 1024 * 1024) }), 'MESSAGE_TOO_LARGE'],
  ['60k unclosed arrays', '['.repeat(60_000), 'NESTING_TOO_DEEP'],
  ['30k nested arrays, closed', '['.repeat(30_000) + ']'.repeat(30_000), 'NESTING_TOO_DEEP'],
  ['100k nested arrays (over the size limit first)', '['.repeat(100_000), 'MESSAGE_TOO_LARGE'],
  ['deep object in an extra field', txWith({ extra: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }), 'NESTING_TOO_DEEP'],
  ['invalid UTF-8 byte in an id', withByte(txWith({ transaction_id: 'tx-#' }), 0xff), 'BAD_ENCODING'],
  ['Latin-1 encoded text', withByte(txWith({ customer_id: 'caf#' }), 0xe9), 'BAD_ENCODING'],
  ['overlong UTF-8 encoding', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]), 'BAD_ENCODING'],
  ['UTF-8-encoded surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'BAD_ENCODING'],
  ['truncated multi-byte sequence', Buffer.from([0x22, 0xe2, 0x82, 0x22]), 'BAD_ENCODING'],
];

const badLabels: [string, string, IngestErrorCode][] = [
  ['is_fraud as the string "true"', labelWith({ is_fraud: 'true' }), 'WRONG_TYPE'],
  ['is_fraud as 1', labelWith({ is_fraud: 1 }), 'WRONG_TYPE'],
  ['is_fraud null', labelWith({ is_fraud: null }), 'WRONG_TYPE'],
  ['missing is_fraud', JSON.stringify({ ...goodLabel, is_fraud: undefined }), 'MISSING_FIELD'],
  ['missing tx_timestamp', JSON.stringify({ ...goodLabel, tx_timestamp: undefined }), 'MISSING_FIELD'],
  ['transaction timestamp field name instead of tx_timestamp', JSON.stringify({ ...goodLabel, tx_timestamp: undefined, timestamp: TX_TIME }), 'MISSING_FIELD'],
  ['bad tx_timestamp', labelWith({ tx_timestamp: '2018-13-01T00:00:00Z' }), 'BAD_TIMESTAMP'],
  ['labeled_at not a date', labelWith({ labeled_at: 'soon' }), 'BAD_TIMESTAMP'],
  ['labeled_at boolean', labelWith({ labeled_at: false }), 'WRONG_TYPE'],
  ['labeled_at before the transaction', labelWith({ labeled_at: TX_TIME - 1 }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['labeled_at far in the future', labelWith({ labeled_at: NOW + 2 * DAY }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['tx_timestamp before 2000', labelWith({ tx_timestamp: Date.UTC(1999, 0, 1) }), 'TIMESTAMP_OUT_OF_RANGE'],
  ['empty customer_id', labelWith({ customer_id: '' }), 'BAD_ID'],
  ['label array', `[${labelWith({})}]`, 'NOT_AN_OBJECT'],
];

describe('validateTransaction rejects bad shapes', () => {
  it('has at least 30 distinct bad shapes', () => {
    expect(new Set(badTransactions.map(([name]) => name)).size).toBe(badTransactions.length);
    expect(badTransactions.length + badLabels.length).toBeGreaterThanOrEqual(30);
  });

  it.each(badTransactions)('%s -> %s', (_name, message, code) => {
    const result = validateTransaction(message, CTX);
    expect(codeOf(result)).toBe(code);
    if (!result.ok) {
      expect(result.reason.length).toBeGreaterThan(10);
      expect(result.reason.length).toBeLessThan(600);
    }
  });
});

describe('validateLabel rejects bad shapes', () => {
  it.each(badLabels)('%s -> %s', (_name, message, code) => {
    expect(codeOf(validateLabel(message, CTX))).toBe(code);
  });
});

describe('rejection reasons', () => {
  it('name the field, what was expected and what was received', () => {
    const result = validateTransaction(txWith({ amount: '12.5' }), CTX);
    expect(result).toMatchObject({ ok: false, code: 'WRONG_TYPE' });
    if (!result.ok) {
      expect(result.reason).toContain('amount');
      expect(result.reason).toContain('finite number');
      expect(result.reason).toContain('"12.5"');
    }
  });

  it('say a field is missing', () => {
    const result = validateTransaction(txWithout('customer_id'), CTX);
    expect(!result.ok && result.reason).toMatch(/customer_id: .*missing/);
  });

  it('truncate echoed values', () => {
    const longId = 'A'.repeat(5000);
    const result = validateTransaction(txWith({ transaction_id: longId }), CTX);
    expect(codeOf(result)).toBe('BAD_ID');
    if (!result.ok) {
      expect(result.reason).toContain('5000 characters');
      expect(result.reason.length).toBeLessThan(300);
    }
  });

  it('list every bad field, with the code of the first in declaration order', () => {
    const result = validateTransaction(txWith({ customer_id: 7, amount: -1, currency: 'x' }), CTX);
    expect(codeOf(result)).toBe('WRONG_TYPE');
    if (!result.ok) {
      for (const field of ['customer_id', 'amount', 'currency']) expect(result.reason).toContain(field);
      expect(result.reason).not.toContain('transaction_id');
    }
  });

  it('hint at epoch seconds', () => {
    const result = validateTransaction(txWith({ timestamp: Math.floor(TX_TIME / 1000) }), CTX);
    expect(!result.ok && result.reason).toContain('epoch seconds');
  });

  it('reject 100k levels of nesting without overflowing the stack when the size limit allows them', () => {
    const limits = { ...DEFAULT_VALIDATION_LIMITS, maxMessageBytes: 1024 * 1024 };
    expect(codeOf(validateTransaction('['.repeat(100_000) + ']'.repeat(100_000), CTX, limits))).toBe('NESTING_TOO_DEEP');
    expect(codeOf(validateTransaction('{"a":'.repeat(100_000), CTX, limits))).toBe('NESTING_TOO_DEEP');
  });

  it('report the size before reading a huge message', () => {
    const result = validateTransaction(Buffer.alloc(10 * 1024 * 1024, 0x20), CTX);
    expect(result).toEqual({ ok: false, code: 'MESSAGE_TOO_LARGE', reason: `message is ${10 * 1024 * 1024} bytes, the limit is 65536 bytes` });
  });
});

describe('validateTransaction accepts good inputs', () => {
  it('normalises a complete record', () => {
    expect(validateTransaction(txWith({}), CTX)).toEqual({
      ok: true,
      record: {
        transaction_id: 'tx-1',
        customer_id: 'c-1',
        terminal_id: 't-1',
        amount: 42.5,
        event_time: TX_TIME,
        currency: 'EUR',
        ingested_at: CTX.ingestedAt,
      },
    });
  });

  const goodCases: [string, Record<string, unknown>, Partial<Record<string, unknown>>][] = [
    ['RFC 3339 in UTC', { timestamp: '2024-05-31T08:30:00Z' }, { event_time: TX_TIME }],
    ['RFC 3339 with a positive offset', { timestamp: '2024-05-31T10:30:00+02:00' }, { event_time: TX_TIME }],
    ['RFC 3339 with a negative offset', { timestamp: '2024-05-31T03:00:00-05:30' }, { event_time: TX_TIME }],
    ['RFC 3339 lower case', { timestamp: '2024-05-31t08:30:00z' }, { event_time: TX_TIME }],
    ['fractional seconds to the ms', { timestamp: '2024-05-31T08:30:00.123Z' }, { event_time: TX_TIME + 123 }],
    ['sub-millisecond fraction is truncated', { timestamp: '2024-05-31T08:30:00.123999Z' }, { event_time: TX_TIME + 123 }],
    ['leap day', { timestamp: '2024-02-29T00:00:00Z' }, { event_time: Date.UTC(2024, 1, 29) }],
    ['earliest allowed time', { timestamp: Date.UTC(2000, 0, 1) }, { event_time: Date.UTC(2000, 0, 1) }],
    ['latest allowed time', { timestamp: NOW + DAY }, { event_time: NOW + DAY }],
    ['ids trimmed', { transaction_id: '  tx-9\t', customer_id: '\nc-9 ', terminal_id: ' t-9' }, { transaction_id: 'tx-9', customer_id: 'c-9', terminal_id: 't-9' }],
    ['unicode ids', { transaction_id: 'трансакция-1', customer_id: ' 客户😀 ', terminal_id: 'café' }, { transaction_id: 'трансакция-1', customer_id: '客户😀', terminal_id: 'café' }],
    ['id of exactly 128 characters', { transaction_id: 'y'.repeat(128) }, { transaction_id: 'y'.repeat(128) }],
    ['id of 128 characters once trimmed', { transaction_id: `  ${'y'.repeat(128)}  ` }, { transaction_id: 'y'.repeat(128) }],
    ['brackets inside a string do not count as nesting', { transaction_id: '['.repeat(100) }, { transaction_id: '['.repeat(100) }],
    ['escaped quotes do not end a string for the nesting check', { transaction_id: `\\"${'['.repeat(60)}` }, { transaction_id: `\\"${'['.repeat(60)}` }],
    ['amount 0', { amount: 0 }, { amount: 0 }],
    ['amount 1e9', { amount: 1e9 }, { amount: 1e9 }],
    ['integer amount', { amount: 17 }, { amount: 17 }],
    ['lower-case currency', { currency: 'usd' }, { currency: 'USD' }],
    ['null currency', { currency: null }, { currency: null }],
    ['absent currency', { currency: undefined }, { currency: null }],
    ['extra fields ignored', { note: 'hi', nested: { a: [1, { b: 2 }] }, __proto__x: 1, ingested_at: 1 }, { ingested_at: CTX.ingestedAt }],
  ];

  it.each(goodCases)('%s', (_name, overrides, expected) => {
    const result = validateTransaction(txWith(overrides), CTX);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.record).toMatchObject(expected);
  });

  it('ignores a "__proto__" key and unknown fields with lone surrogates', () => {
    const text = txWith({}).replace('{', '{"__proto__":{"amount":-5},"note":"\\ud800",');
    const result = validateTransaction(text, CTX);
    expect(result.ok && result.record.amount).toBe(42.5);
  });

  it('gives the same result for string, Buffer and Uint8Array', () => {
    const text = txWith({ customer_id: 'ünï-çødé' });
    const fromString = validateTransaction(text, CTX);
    expect(validateTransaction(Buffer.from(text), CTX)).toEqual(fromString);
    expect(validateTransaction(new Uint8Array(Buffer.from(text)), CTX)).toEqual(fromString);
    expect(fromString.ok).toBe(true);
  });

  it('accepts a UTF-8 byte order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(txWith({}))]);
    expect(validateTransaction(bytes, CTX).ok).toBe(true);
  });

  it('applies configured limits at their exact edges', () => {
    const text = txWith({});
    const bytes = Buffer.byteLength(text);
    const limits = (over: Partial<ValidationLimits>): ValidationLimits => ({ ...DEFAULT_VALIDATION_LIMITS, ...over });
    expect(validateTransaction(text, CTX, limits({ maxMessageBytes: bytes })).ok).toBe(true);
    expect(codeOf(validateTransaction(text, CTX, limits({ maxMessageBytes: bytes - 1 })))).toBe('MESSAGE_TOO_LARGE');
    const multiByte = txWith({ customer_id: '€'.repeat(10) });
    const multiBytes = Buffer.byteLength(multiByte);
    expect(codeOf(validateTransaction(multiByte, CTX, limits({ maxMessageBytes: multiBytes - 1 })))).toBe('MESSAGE_TOO_LARGE');
    expect(validateTransaction(multiByte, CTX, limits({ maxMessageBytes: multiBytes })).ok).toBe(true);

    const nested = txWith({ extra: [[[1]]] });
    expect(validateTransaction(nested, CTX, limits({ maxDepth: 4 })).ok).toBe(true);
    expect(codeOf(validateTransaction(nested, CTX, limits({ maxDepth: 3 })))).toBe('NESTING_TOO_DEEP');

    const hourAhead = txWith({ timestamp: NOW + 3_600_000 });
    expect(validateTransaction(hourAhead, CTX, limits({ maxFutureMs: 3_600_000 })).ok).toBe(true);
    expect(codeOf(validateTransaction(hourAhead, CTX, limits({ maxFutureMs: 3_599_999 })))).toBe('TIMESTAMP_OUT_OF_RANGE');
    expect(codeOf(validateTransaction(txWith({}), CTX, limits({ minEventTimeMs: TX_TIME + 1 })))).toBe('TIMESTAMP_OUT_OF_RANGE');
  });
});

describe('validateLabel accepts good inputs', () => {
  it('normalises a complete label', () => {
    expect(validateLabel(labelWith({ tx_timestamp: '2024-05-31T10:30:00+02:00', customer_id: ' c-1 ' }), CTX)).toEqual({
      ok: true,
      record: {
        transaction_id: 'tx-1',
        customer_id: 'c-1',
        terminal_id: 't-1',
        tx_event_time: TX_TIME,
        is_fraud: true,
        labeled_at: TX_TIME + DAY,
        ingested_at: CTX.ingestedAt,
      },
    });
  });

  it('accepts is_fraud false and labeled_at equal to the transaction time', () => {
    const result = validateLabel(labelWith({ is_fraud: false, labeled_at: TX_TIME }), CTX);
    expect(result.ok && [result.record.is_fraud, result.record.labeled_at]).toEqual([false, TX_TIME]);
  });

  it('defaults labeled_at to the ingest time when absent or null', () => {
    for (const labeled_at of [undefined, null]) {
      const result = validateLabel(labelWith({ labeled_at }), CTX);
      expect(result.ok && result.record.labeled_at).toBe(CTX.ingestedAt);
    }
  });

  it('never defaults labeled_at before the transaction', () => {
    const ahead = NOW + 60_000;
    const result = validateLabel(labelWith({ labeled_at: undefined, tx_timestamp: ahead }), CTX);
    expect(result.ok && result.record.labeled_at).toBe(ahead);
  });
});

describe('properties', () => {
  const knownCodes = new Set<string>(INGEST_ERROR_CODES);

  function wellFormed<T>(result: ValidationResult<T>): boolean {
    return result.ok || (knownCodes.has(result.code) && result.reason.length > 0);
  }

  it('random bytes never throw and end accepted or with a known code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(wellFormed(validateTransaction(bytes, CTX))).toBe(true);
        expect(wellFormed(validateLabel(bytes, CTX))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('random strings (including lone surrogates) never throw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(wellFormed(validateTransaction(text, CTX))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('random JSON documents never throw; non-objects are NOT_AN_OBJECT', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (text) => {
        const value: unknown = JSON.parse(text);
        const result = validateTransaction(text, CTX);
        expect(wellFormed(result)).toBe(true);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) expect(codeOf(result)).toBe('NOT_AN_OBJECT');
      }),
      { numRuns: 500 },
    );
  });

  it('random objects are rejected with a known code, never accepted without the fields', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.anything({ maxDepth: 3 })), (object) => {
        const result = validateTransaction(JSON.stringify(object), CTX);
        expect(wellFormed(result)).toBe(true);
        const complete = ['transaction_id', 'customer_id', 'terminal_id', 'amount', 'timestamp'].every((k) => Object.hasOwn(object, k));
        if (!complete) expect(result.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  // Independent, hand-written oracles for single-field mutations of a good record.
  const json = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: 'binary' }), fc.double(), fc.integer());

  function idOracle(v: unknown): IngestErrorCode | 'ok' {
    if (typeof v !== 'string') return 'WRONG_TYPE';
    const t = v.trim();
    if (t.length < 1 || t.length > 128) return 'BAD_ID';
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      const isHigh = c >= 0xd800 && c <= 0xdbff;
      const isLow = c >= 0xdc00 && c <= 0xdfff;
      if (isHigh) {
        const next = t.charCodeAt(i + 1);
        if (!(next >= 0xdc00 && next <= 0xdfff)) return 'BAD_ID';
        i++;
      } else if (isLow) return 'BAD_ID';
    }
    return 'ok';
  }

  function amountOracle(v: unknown): IngestErrorCode | 'ok' {
    if (typeof v !== 'number') return 'WRONG_TYPE';
    return Number.isFinite(v) && v >= 0 && v <= 1e9 ? 'ok' : 'OUT_OF_RANGE';
  }

  function currencyOracle(v: unknown): IngestErrorCode | 'ok' {
    if (v === null) return 'ok';
    if (typeof v !== 'string') return 'WRONG_TYPE';
    return /^[a-zA-Z]{3}$/.test(v) ? 'ok' : 'BAD_CURRENCY';
  }

  // JSON.stringify turns non-finite numbers into null and -0 into 0; compare with what is actually sent.
  const asSent = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

  it.each([
    ['transaction_id', idOracle],
    ['customer_id', idOracle],
    ['terminal_id', idOracle],
    ['amount', amountOracle],
    ['currency', currencyOracle],
  ] as const)('a mutated %s is judged as an independent oracle says', (field, oracle) => {
    fc.assert(
      fc.property(fc.oneof(json, field === 'amount' ? fc.double({ min: -10, max: 2e9 }) : fc.string({ maxLength: 140 })), (raw) => {
        const value = asSent(raw);
        fc.pre(value !== undefined);
        const result = validateTransaction(txWith({ [field]: value }), CTX);
        expect(codeOf(result)).toBe(oracle(value));
        if (result.ok && typeof value === 'string') {
          const normalised = field === 'currency' ? value.toUpperCase() : value.trim();
          expect(result.record[field]).toBe(normalised);
        }
      }),
      { numRuns: 400 },
    );
  });

  // Field values near the edges of the fast path: whitespace and non-ASCII at the ends, lone surrogates, lengths
  // around the limits, fractional and unsafe integers, string times, currencies of every case, null and absent.
  const edgyId = fc.oneof(
    fc.string({ maxLength: 130 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom('tx-1', ' tx-1', 'tx-1\t', '\u00a0x', 'x\ufeff', 'é', 'a\ud800b', '\ud83d\ude00', '', 'x'.repeat(128), 'x'.repeat(129)),
  );
  const edgyTime = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 53, 2 ** 53 - 1, -0, '2024-05-31T08:30:00Z', null));
  const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

  it('the fast path accepts only what the schema accepts, with the same values', () => {
    const record = fc.record({
      transaction_id: edgyId,
      customer_id: edgyId,
      terminal_id: edgyId,
      amount: fc.oneof(fc.double(), fc.constantFrom(0, 1e9, 1e9 + 1, -0, '5')),
      timestamp: edgyTime,
      currency: maybe(fc.oneof(fc.constantFrom('eur', 'EUR', 'Eu', 'EURO', 'é€u', null), fc.string({ maxLength: 4 }))),
    });
    fc.assert(
      fc.property(record, (raw) => {
        const value = asSent(raw);
        const fast = plainTransaction(value);
        const schema = transactionSchema.safeParse(value);
        if (fast !== undefined) {
          expect(schema.success).toBe(true);
          const { transaction_id, customer_id, terminal_id, amount, timestamp, currency } = schema.data!;
          expect(fast).toEqual({ transaction_id, customer_id, terminal_id, amount, timestamp, currency: currency ?? null });
        }
      }),
      { numRuns: 2_000 },
    );
    const label = fc.record({
      transaction_id: edgyId,
      customer_id: edgyId,
      terminal_id: edgyId,
      tx_timestamp: edgyTime,
      is_fraud: fc.oneof(fc.boolean(), fc.constantFrom(0, 'true', null)),
      labeled_at: maybe(edgyTime),
    });
    fc.assert(
      fc.property(label, (raw) => {
        const value = asSent(raw);
        const fast = plainLabel(value);
        const schema = labelSchema.safeParse(value);
        if (fast !== undefined) {
          expect(schema.success).toBe(true);
          const { transaction_id, customer_id, terminal_id, tx_timestamp, is_fraud, labeled_at } = schema.data!;
          expect(fast).toEqual({ transaction_id, customer_id, terminal_id, tx_timestamp, is_fraud, labeled_at });
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('the fast path takes the plain records producers send', () => {
    expect(plainTransaction(goodTx)).toEqual({ ...goodTx });
    expect(plainTransaction({ ...goodTx, currency: 'eur' })?.currency).toBe('EUR');
    expect(plainLabel(goodLabel)).toEqual(goodLabel);
  });

  it('a mutated is_fraud is accepted only as a boolean', () => {
    fc.assert(
      fc.property(json, (raw) => {
        const value = asSent(raw);
        const result = validateLabel(labelWith({ is_fraud: value }), CTX);
        expect(codeOf(result)).toBe(typeof value === 'boolean' ? 'ok' : 'WRONG_TYPE');
      }),
    );
  });

  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

  /** Formats an instant in a given offset by shifting it, without going through the parser under test. */
  function rfc3339(ms: number, offsetMinutes: number, fractionDigits: number): string {
    const local = new Date(ms + offsetMinutes * 60_000).toISOString();
    const fraction = fractionDigits === 0 ? '' : `.${local.slice(20, 23)}${'0'.repeat(Math.max(0, fractionDigits - 3))}`.slice(0, fractionDigits + 1);
    const sign = offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(offsetMinutes);
    const offset = offsetMinutes === 0 && fractionDigits % 2 === 0 ? 'Z' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    return `${local.slice(0, 19)}${fraction}${offset}`;
  }

  it('RFC 3339 with any offset and precision gives back the instant', () => {
    const earliest = DEFAULT_VALIDATION_LIMITS.minEventTimeMs;
    fc.assert(
      fc.property(
        fc.integer({ min: earliest, max: NOW + DAY }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.integer({ min: 0, max: 6 }),
        (ms, offset, digits) => {
          const expected = digits === 0 ? ms - (ms % 1000) : digits === 1 ? ms - (ms % 100) : digits === 2 ? ms - (ms % 10) : ms;
          const result = validateTransaction(txWith({ timestamp: rfc3339(ms, offset, digits) }), CTX);
          expect(result.ok && result.record.event_time).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('epoch ms is accepted exactly inside the sanity range', () => {
    const earliest = DEFAULT_VALIDATION_LIMITS.minEventTimeMs;
    fc.assert(
      fc.property(fc.integer({ min: earliest - 10 * DAY, max: NOW + 3 * DAY }), (ms) => {
        const result = validateTransaction(txWith({ timestamp: ms }), CTX);
        const inRange = ms >= earliest && ms <= NOW + DAY;
        expect(codeOf(result)).toBe(inRange ? 'ok' : 'TIMESTAMP_OUT_OF_RANGE');
      }),
      { numRuns: 300 },
    );
  });
});
