import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
const secretPaths = [
  'password',
  '*.password',
  'sasl',
  '*.sasl',
  'KAFKA_SASL_PASSWORD',
  '*.KAFKA_SASL_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
  '*.SCHEMA_REGISTRY_PASSWORD',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

// 13 to 19 digits, optionally grouped by spaces or dashes: the shape of a card number.
const cardLikeNumber = /\b(?:\d[ -]?){12,18}\d\b/g;

export function redactCardNumbers(text: string): string {
  return text.replace(cardLikeNumber, (match) => `[card ****${match.replace(/\D/g, '').slice(-4)}]`);
}

function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactCardNumbers(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item, depth + 1);
  return out;
}

/** JSON-lines logger with secrets and card-like numbers redacted. */
export function createLogger(name: string, level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: secretPaths, censor: '[redacted]' },
      formatters: { log: (object) => redactDeep(object) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((arg) => (typeof arg === 'string' ? redactCardNumbers(arg) : arg));
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
