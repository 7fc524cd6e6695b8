/**
 * Splits an HTTP body for `POST /v1/transactions` and `POST /v1/labels` into
 * its records without parsing them: each record's raw bytes go through the
 * same validator as a Kafka message, so both doors accept and reject exactly
 * the same things (a number such as 1e400 would not survive a parse and
 * re-serialise). The body is a JSON array when its first non-space character
 * is `[`, NDJSON otherwise.
 *
 * Scanning works on bytes: the structural characters are ASCII and never
 * occur inside a multi-byte UTF-8 sequence, so an invalid byte stays inside
 * its record and is rejected there, not for the whole request.
 */

export const BATCH_BODY_ERROR_CODES = ['EMPTY_BODY', 'MALFORMED_BODY'] as const;
export type BatchBodyErrorCode = (typeof BATCH_BODY_ERROR_CODES)[number];

export interface BatchItem {
  /** Position among the body's records, from 0. */
  index: number;
  /** Line where the record starts, from 1. */
  line: number;
  /** The record's bytes (a view into the body), whitespace trimmed. */
  raw: Uint8Array;
}

export type BatchBody =
  | { ok: true; format: 'json-array' | 'ndjson'; items: BatchItem[] }
  | { ok: false; code: BatchBodyErrorCode; reason: string };

const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === LF || b === 0x0d;
}

export function splitBatchBody(body: Uint8Array | string): BatchBody {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  let first = start;
  while (first < bytes.length && isSpace(bytes[first] as number)) first++;
  if (first === bytes.length) {
    return { ok: false, code: 'EMPTY_BODY', reason: 'the body is empty: expected a JSON array of records or NDJSON (one record per line)' };
  }
  return bytes[first] === OPEN_BRACKET ? splitArray(bytes, first) : splitNdjson(bytes, start);
}

function splitNdjson(bytes: Uint8Array, start: number): BatchBody {
  const items: BatchItem[] = [];
  let line = 1;
  let lineStart = start;
  for (let i = start; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== LF) continue;
    const raw = trimmed(bytes, lineStart, i);
    if (raw.length > 0) items.push({ index: items.length, line, raw });
    line++;
    lineStart = i + 1;
  }
  return { ok: true, format: 'ndjson', items };
}

/**
 * Elements are separated by commas at depth 1 outside strings. A malformed
 * element stays one element (rejected on its own); only a body whose array
 * never closes, or that has data after it, fails as a whole.
 */
function splitArray(bytes: Uint8Array, open: number): BatchBody {
  const items: BatchItem[] = [];
  const openLine = 1 + countLf(bytes, 0, open);
  let line = openLine;
  let depth = 1;
  let inString = false;
  let elementStart = open + 1;
  let elementLine = line;
  let sawSeparator = false;
  let i = open + 1;
  for (; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === LF) line++;
    if (inString) {
      if (b === BACKSLASH && bytes[i + 1] !== LF) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      depth++;
    } else if ((b === CLOSE_BRACKET || b === CLOSE_BRACE) && depth > 1) {
      depth--;
    } else if (depth === 1 && (b === COMMA || b === CLOSE_BRACKET)) {
      const raw = trimmed(bytes, elementStart, i);
      // `[]` has no element; `[a,]` and `[a,,b]` have empty ones, rejected per record.
      if (raw.length > 0 || b === COMMA || sawSeparator) {
        items.push({ index: items.length, line: lineOf(bytes, elementStart, elementLine, raw), raw });
      }
      if (b === CLOSE_BRACKET) break;
      sawSeparator = true;
      elementStart = i + 1;
      elementLine = line;
    }
  }
  if (i >= bytes.length) {
    return { ok: false, code: 'MALFORMED_BODY', reason: `the JSON array that starts on line ${openLine} is never closed` };
  }
  for (let j = i + 1; j < bytes.length; j++) {
    if (!isSpace(bytes[j] as number)) {
      return { ok: false, code: 'MALFORMED_BODY', reason: `unexpected data after the JSON array, on line ${line + countLf(bytes, i + 1, j)}` };
    }
  }
  return { ok: true, format: 'json-array', items };
}

function trimmed(bytes: Uint8Array, from: number, to: number): Uint8Array {
  let a = from;
  let b = to;
  while (a < b && isSpace(bytes[a] as number)) a++;
  while (b > a && isSpace(bytes[b - 1] as number)) b--;
  return bytes.subarray(a, b);
}

/** Line of the first byte of `raw` (a view inside `bytes` starting at or after `from`, which is on `fromLine`). */
function lineOf(bytes: Uint8Array, from: number, fromLine: number, raw: Uint8Array): number {
  return fromLine + countLf(bytes, from, raw.byteOffset - bytes.byteOffset);
}

function countLf(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (bytes[i] === LF) n++;
  return n;
}
