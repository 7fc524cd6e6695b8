import { z } from 'zod';
import type { Label, Transaction } from '@sluice/shared';

/**
 * Validation of raw JSON messages from `transactions.raw` and `labels.raw`.
 * It never throws: every input ends as an accepted record or as a rejection
 * with a code from INGEST_ERROR_CODES (bounded, so usable as a metric label)
 * and a reason naming the field, what was expected and what was received.
 */

export const INGEST_ERROR_CODES = [
  'MESSAGE_TOO_LARGE',
  'BAD_ENCODING',
  'NESTING_TOO_DEEP',
  'MALFORMED_JSON',
  'NOT_AN_OBJECT',
  'MISSING_FIELD',
  'WRONG_TYPE',
  'BAD_ID',
  'OUT_OF_RANGE',
  'BAD_TIMESTAMP',
  'TIMESTAMP_OUT_OF_RANGE',
  'BAD_CURRENCY',
] as const;
export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

export type ValidationResult<T> =
  | { ok: true; record: T }
  | { ok: false; code: IngestErrorCode; reason: string };

export interface ValidationLimits {
  /** Checked on the raw bytes before decoding or parsing. */
  maxMessageBytes: number;
  /** Deepest allowed nesting of arrays and objects (the records themselves are flat). */
  maxDepth: number;
  /** How far an event time may lie ahead of `nowMs` (producer clock skew). */
  maxFutureMs: number;
  /** Earliest plausible event time, epoch ms. */
  minEventTimeMs: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxMessageBytes: 64 * 1024,
  maxDepth: 32,
  maxFutureMs: 24 * 60 * 60 * 1000,
  minEventTimeMs: Date.UTC(2000, 0, 1),
};

export interface ValidationContext {
  /** Reference for the event-time sanity range. */
  nowMs: number;
  /** Stamped on the record as `ingested_at`; also the default `labeled_at`. */
  ingestedAt: number;
}

export type RawMessage = Uint8Array | string;

export const MAX_ID_LENGTH = 128;
export const MAX_AMOUNT = 1e9;

// With the u flag a well-formed surrogate pair is read as one code point, so
// this only matches lone surrogates: they cannot be encoded to UTF-8 (Avro)
// without being replaced, which would silently change the id.
const LONE_SURROGATE = /\p{Surrogate}/u;

const idSchema = z
  .string()
  .trim()
  .min(1)
  .max(MAX_ID_LENGTH)
  .refine((s) => !LONE_SURROGATE.test(s));

const amountSchema = z.number().min(0).max(MAX_AMOUNT);

// RFC 3339 allows lower-case 't' and 'z'; the ISO pattern also checks the
// calendar (month lengths, leap years), which Date.parse would not.
const rfc3339Schema = z
  .string()
  .toUpperCase()
  .pipe(z.iso.datetime({ offset: true }))
  .transform((s) => Date.parse(s));

const eventTimeSchema = z.union([z.int(), rfc3339Schema]);

const currencySchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/)
  .transform((s) => s.toUpperCase())
  .nullish();

export const transactionSchema = z.looseObject({
  transaction_id: idSchema,
  customer_id: idSchema,
  terminal_id: idSchema,
  amount: amountSchema,
  timestamp: eventTimeSchema,
  currency: currencySchema,
});

export const labelSchema = z.looseObject({
  transaction_id: idSchema,
  customer_id: idSchema,
  terminal_id: idSchema,
  tx_timestamp: eventTimeSchema,
  is_fraud: z.boolean(),
  labeled_at: eventTimeSchema.nullish(),
});

/*
 * The common case without zod. Issue 13's profile of ingest had zod's safeParse at ~6% of its CPU (a parse
 * context, checks and transforms per field) for records that are already in their normal form. These functions
 * accept only such records: ids of printable ASCII at both ends (so trimming changes nothing) and well-formed,
 * an amount in range, integer epoch-ms times, a currency of three letters or none. Anything else returns
 * undefined and goes through the schemas, which also explain what is wrong; a property test checks that the two
 * never disagree (services/ingest/test/validation.test.ts).
 */

type PlainTransaction = Pick<z.output<typeof transactionSchema>, 'transaction_id' | 'customer_id' | 'terminal_id' | 'amount' | 'timestamp' | 'currency'>;
type PlainLabel = Pick<z.output<typeof labelSchema>, 'transaction_id' | 'customer_id' | 'terminal_id' | 'tx_timestamp' | 'is_fraud' | 'labeled_at'>;

export function plainTransaction(value: unknown): PlainTransaction | undefined {
  if (!isPlainObject(value)) return undefined;
  const { transaction_id, customer_id, terminal_id, amount, timestamp, currency } = value;
  if (!plainId(transaction_id) || !plainId(customer_id) || !plainId(terminal_id)) return undefined;
  if (typeof amount !== 'number' || !(amount >= 0 && amount <= MAX_AMOUNT)) return undefined;
  if (!Number.isSafeInteger(timestamp)) return undefined;
  let normalCurrency: string | null;
  if (currency === undefined || currency === null) normalCurrency = null;
  else if (typeof currency === 'string' && /^[A-Za-z]{3}$/.test(currency)) normalCurrency = currency.toUpperCase();
  else return undefined;
  return { transaction_id, customer_id, terminal_id, amount, timestamp: timestamp as number, currency: normalCurrency };
}

export function plainLabel(value: unknown): PlainLabel | undefined {
  if (!isPlainObject(value)) return undefined;
  const { transaction_id, customer_id, terminal_id, tx_timestamp, is_fraud, labeled_at } = value;
  if (!plainId(transaction_id) || !plainId(customer_id) || !plainId(terminal_id)) return undefined;
  if (!Number.isSafeInteger(tx_timestamp) || typeof is_fraud !== 'boolean') return undefined;
  if (labeled_at !== undefined && labeled_at !== null && !Number.isSafeInteger(labeled_at)) return undefined;
  return { transaction_id, customer_id, terminal_id, tx_timestamp: tx_timestamp as number, is_fraud, labeled_at: labeled_at as number | null | undefined };
}

function plainId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length < 1 || value.length > MAX_ID_LENGTH) return false;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f && !LONE_SURROGATE.test(value);
}

type FieldKind = 'id' | 'amount' | 'time' | 'currency' | 'flag';

const EXPECTED: Record<FieldKind, string> = {
  id: `a string of 1 to ${MAX_ID_LENGTH} characters after trimming, well-formed Unicode`,
  amount: `a finite number, 0 <= amount <= ${MAX_AMOUNT}`,
  time: 'an RFC 3339 date-time with offset (e.g. "2018-04-01T12:30:00Z") or an integer of epoch milliseconds',
  currency: 'an ISO 4217 code of 3 letters, or null',
  flag: 'a boolean (true or false)',
};

const TRANSACTION_FIELDS: Record<keyof z.input<typeof transactionSchema>, FieldKind> = {
  transaction_id: 'id',
  customer_id: 'id',
  terminal_id: 'id',
  amount: 'amount',
  timestamp: 'time',
  currency: 'currency',
};

const LABEL_FIELDS: Record<keyof z.input<typeof labelSchema>, FieldKind> = {
  transaction_id: 'id',
  customer_id: 'id',
  terminal_id: 'id',
  tx_timestamp: 'time',
  is_fraud: 'flag',
  labeled_at: 'time',
};

type Rejection = { ok: false; code: IngestErrorCode; reason: string };

function reject(code: IngestErrorCode, reason: string): Rejection {
  return { ok: false, code, reason };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Steps shared by every message type: size, encoding, nesting, JSON syntax. */
export function parseJsonMessage(message: RawMessage, limits: ValidationLimits): { ok: true; value: unknown } | Rejection {
  let text: string;
  if (typeof message === 'string') {
    // A UTF-16 code unit never takes less than one UTF-8 byte: long strings are
    // rejected without measuring them.
    const bytes = message.length > limits.maxMessageBytes ? message.length : Buffer.byteLength(message, 'utf8');
    if (bytes > limits.maxMessageBytes) return tooLarge(bytes, limits, message.length > limits.maxMessageBytes);
    text = message;
  } else {
    if (message.byteLength > limits.maxMessageBytes) return tooLarge(message.byteLength, limits, false);
    try {
      text = utf8.decode(message);
    } catch {
      return reject('BAD_ENCODING', 'message is not valid UTF-8');
    }
  }
  // Parsed first, nesting measured after: on a flat record that is one look at each field, where scanning the
  // text cost every character (V8's JSON.parse does not recurse, so a deep document cannot overflow the stack).
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (exceedsDepth(text, limits.maxDepth)) return tooDeep(limits);
    const detail = err instanceof Error ? err.message : String(err);
    return reject('MALFORMED_JSON', `message is not valid JSON: ${truncate(detail, 160)}`);
  }
  if (nestedDeeperThan(value, limits.maxDepth)) return tooDeep(limits);
  return { ok: true, value };
}

function tooDeep(limits: ValidationLimits): Rejection {
  return reject('NESTING_TOO_DEEP', `JSON nesting is deeper than ${limits.maxDepth} levels`);
}

/** Depth of arrays and objects in a parsed value, as the text's brackets count it; stops below `maxDepth`. */
function nestedDeeperThan(value: unknown, maxDepth: number, depth = 0): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth + 1 > maxDepth) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestedDeeperThan(item, maxDepth, depth + 1)) return true;
  } else {
    for (const key in value) if (nestedDeeperThan((value as Record<string, unknown>)[key], maxDepth, depth + 1)) return true;
  }
  return false;
}

function tooLarge(bytes: number, limits: ValidationLimits, atLeast: boolean): Rejection {
  return reject(
    'MESSAGE_TOO_LARGE',
    `message is ${atLeast ? 'at least ' : ''}${bytes} bytes, the limit is ${limits.maxMessageBytes} bytes`,
  );
}

/** Counts bracket depth outside strings; linear, no recursion, stops early (for text JSON.parse refused). */
function exceedsDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

export function validateTransaction(
  message: RawMessage,
  ctx: ValidationContext,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): ValidationResult<Transaction> {
  const parsed = parseJsonMessage(message, limits);
  if (!parsed.ok) return parsed;
  let tx = plainTransaction(parsed.value);
  if (tx === undefined) {
    const result = transactionSchema.safeParse(parsed.value);
    if (!result.success) return describeIssues(result.error.issues, parsed.value, TRANSACTION_FIELDS);
    tx = result.data;
  }
  const timeProblem = checkEventTime('timestamp', tx.timestamp, ctx.nowMs, limits);
  if (timeProblem) return timeProblem;
  return {
    ok: true,
    record: {
      transaction_id: tx.transaction_id,
      customer_id: tx.customer_id,
      terminal_id: tx.terminal_id,
      amount: tx.amount,
      event_time: tx.timestamp,
      currency: tx.currency ?? null,
      ingested_at: ctx.ingestedAt,
    },
  };
}

/**
 * A label without `labeled_at` is taken as established when ingest received
 * it (never before its transaction). Defaulting to the transaction time would
 * pretend the fraud was known at the moment it happened: a leak of the future
 * into the learner and the delayed terminal-risk features. Producers replaying
 * history should send `labeled_at`.
 */
export function validateLabel(
  message: RawMessage,
  ctx: ValidationContext,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): ValidationResult<Label> {
  const parsed = parseJsonMessage(message, limits);
  if (!parsed.ok) return parsed;
  let label = plainLabel(parsed.value);
  if (label === undefined) {
    const result = labelSchema.safeParse(parsed.value);
    if (!result.success) return describeIssues(result.error.issues, parsed.value, LABEL_FIELDS);
    label = result.data;
  }
  const txProblem = checkEventTime('tx_timestamp', label.tx_timestamp, ctx.nowMs, limits);
  if (txProblem) return txProblem;
  let labeledAt: number;
  if (label.labeled_at === undefined || label.labeled_at === null) {
    labeledAt = Math.max(ctx.ingestedAt, label.tx_timestamp);
  } else {
    const labeledProblem = checkEventTime('labeled_at', label.labeled_at, ctx.nowMs, limits);
    if (labeledProblem) return labeledProblem;
    if (label.labeled_at < label.tx_timestamp) {
      return reject(
        'TIMESTAMP_OUT_OF_RANGE',
        `labeled_at: expected a time at or after tx_timestamp (${isoOf(label.tx_timestamp)}), received ${isoOf(label.labeled_at)}`,
      );
    }
    labeledAt = label.labeled_at;
  }
  return {
    ok: true,
    record: {
      transaction_id: label.transaction_id,
      customer_id: label.customer_id,
      terminal_id: label.terminal_id,
      tx_event_time: label.tx_timestamp,
      is_fraud: label.is_fraud,
      labeled_at: labeledAt,
      ingested_at: ctx.ingestedAt,
    },
  };
}

function checkEventTime(field: string, ms: number, nowMs: number, limits: ValidationLimits): Rejection | null {
  const latest = nowMs + limits.maxFutureMs;
  if (ms >= limits.minEventTimeMs && ms <= latest) return null;
  // Epoch seconds read as milliseconds land in January 1970: say so.
  const hint = ms >= 0 && ms * 1000 >= limits.minEventTimeMs && ms * 1000 <= latest ? ' (epoch seconds instead of milliseconds?)' : '';
  return reject(
    'TIMESTAMP_OUT_OF_RANGE',
    `${field}: expected a time between ${isoOf(limits.minEventTimeMs)} and ${isoOf(latest)}, received ${isoOf(ms)}${hint}`,
  );
}

function isoOf(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  value: unknown,
  fields: Record<string, FieldKind>,
): Rejection {
  const root = issues.find((issue) => issue.path.length === 0);
  if (root || !isPlainObject(value)) {
    return reject('NOT_AN_OBJECT', `expected a JSON object, received ${describe(value)}`);
  }
  const problems: { code: IngestErrorCode; text: string }[] = [];
  const reported = new Set<string>();
  for (const issue of issues) {
    const field = String(issue.path[0]);
    const kind = fields[field];
    if (kind === undefined || reported.has(field)) continue;
    reported.add(field);
    const present = Object.hasOwn(value, field);
    const received = value[field];
    const code = present ? fieldCode(kind, received) : 'MISSING_FIELD';
    problems.push({
      code,
      text: `${field}: expected ${EXPECTED[kind]}, ${present ? `received ${describe(received)}` : 'but it is missing'}`,
    });
  }
  const first = problems[0];
  if (first === undefined) return reject('WRONG_TYPE', truncate(issues.map((i) => i.message).join('; '), 300));
  return reject(first.code, problems.map((p) => p.text).join('; '));
}

/** The code depends on what was received: a value of the right JSON type that fails is a range/format problem. */
function fieldCode(kind: FieldKind, received: unknown): IngestErrorCode {
  switch (kind) {
    case 'id':
      return typeof received === 'string' ? 'BAD_ID' : 'WRONG_TYPE';
    case 'amount':
      return typeof received === 'number' ? 'OUT_OF_RANGE' : 'WRONG_TYPE';
    case 'time':
      return typeof received === 'number' || typeof received === 'string' ? 'BAD_TIMESTAMP' : 'WRONG_TYPE';
    case 'currency':
      return typeof received === 'string' ? 'BAD_CURRENCY' : 'WRONG_TYPE';
    case 'flag':
      return 'WRONG_TYPE';
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ECHO_LIMIT = 40;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length > ECHO_LIMIT
        ? `string ${JSON.stringify(value.slice(0, ECHO_LIMIT))}… (${value.length} characters)`
        : `string ${JSON.stringify(value)}`;
    case 'object':
      return 'an object';
    default:
      return `${typeof value} ${String(value)}`;
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
