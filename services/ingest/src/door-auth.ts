import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { SluiceError } from '@sluice/shared/errors';
import type { RecordKind } from './ingest-metrics.js';

/**
 * Who may use the HTTP door. API keys are random tokens a caller sends as
 * `Authorization: Bearer <key>` (or `X-API-Key: <key>`); the configuration
 * holds only their SHA-256. A slow hash (scrypt) protects guessable
 * passwords; a key of 32 random bytes cannot be guessed from its SHA-256, and
 * scrypt on every request would cost each call tens of milliseconds.
 */
const keySchema = z.object({
  /** Names the caller in logs and metrics; never secret. */
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'the key\'s SHA-256 in hex (64 digits): printf %s "$KEY" | sha256sum'),
  /** Record kinds this key may post. */
  kinds: z.array(z.enum(['transaction', 'label'])).min(1),
  /** Requests per second, sustained. */
  ratePerSecond: z.number().positive().default(20),
  /** Requests allowed at once after a quiet spell; at least one. */
  burst: z.number().int().positive().optional(),
});

const keysFileSchema = z.object({ keys: z.array(keySchema) });

export interface DoorKey {
  id: string;
  digest: Buffer;
  kinds: ReadonlySet<RecordKind>;
  ratePerSecond: number;
  burst: number;
}

export type RefusalReason = 'no_credentials' | 'unknown_key' | 'kind_not_granted' | 'rate_limited';

export type DoorDecision =
  | { outcome: 'allowed'; keyId: string | null }
  | { outcome: 'refused'; reason: RefusalReason; status: 401 | 403 | 429; message: string; retryAfterSeconds?: number };

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Parses a keys document (`{"keys":[{id, sha256, kinds, ratePerSecond?, burst?}]}`); `source` names where it came from. */
export function parseDoorKeys(text: string, source: string): DoorKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SluiceError('CONFIG_INVALID', `invalid configuration: ${source}: not JSON (${(error as Error).message})`);
  }
  const parsed = keysFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`);
    throw new SluiceError('CONFIG_INVALID', `invalid configuration: ${source}: ${problems.join('; ')}`);
  }
  const ids = new Set<string>();
  return parsed.data.keys.map((key) => {
    if (ids.has(key.id)) throw new SluiceError('CONFIG_INVALID', `invalid configuration: ${source}: key id "${key.id}" appears twice`);
    ids.add(key.id);
    return {
      id: key.id,
      digest: Buffer.from(key.sha256, 'hex'),
      kinds: new Set(key.kinds),
      ratePerSecond: key.ratePerSecond,
      burst: key.burst ?? Math.max(1, Math.ceil(key.ratePerSecond)),
    };
  });
}

/** The key a request presents, if any: `Authorization: Bearer <key>`, else `X-API-Key`. */
export function presentedKey(headers: { authorization?: string; 'x-api-key'?: string | string[] }): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
  if (bearer) return bearer;
  const header = headers['x-api-key'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  return value ? value : undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Decides whether a request may pass: a known key (compared in constant
 * time), granted the record kind, within its token bucket. With no keys
 * (`INGEST_HTTP_AUTH=none`) every request passes.
 */
export class DoorGuard {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly keys: readonly DoorKey[] | 'none') {}

  check(key: string | undefined, kind: RecordKind, nowMs: number): DoorDecision {
    if (this.keys === 'none') return { outcome: 'allowed', keyId: null };
    if (key === undefined) return { outcome: 'refused', reason: 'no_credentials', status: 401, message: 'send an API key: Authorization: Bearer <key>' };
    const match = this.find(hashApiKey(key));
    if (match === undefined) return { outcome: 'refused', reason: 'unknown_key', status: 401, message: 'the API key is not valid' };
    if (!match.kinds.has(kind)) {
      return { outcome: 'refused', reason: 'kind_not_granted', status: 403, message: `key "${match.id}" may not post ${kind}s (granted: ${[...match.kinds].join(', ')})` };
    }
    const wait = this.take(match, nowMs);
    if (wait > 0) {
      const retryAfterSeconds = Math.ceil(wait / 1000);
      return { outcome: 'refused', reason: 'rate_limited', status: 429, retryAfterSeconds, message: `key "${match.id}" is limited to ${match.ratePerSecond} requests/s: retry after ${retryAfterSeconds} s` };
    }
    return { outcome: 'allowed', keyId: match.id };
  }

  /** Compares the digest with every key's, without stopping at a match: the time taken does not tell which key, or how much of one, matched. */
  private find(digest: Buffer): DoorKey | undefined {
    let found: DoorKey | undefined;
    for (const key of this.keys as readonly DoorKey[]) if (timingSafeEqual(digest, key.digest) && found === undefined) found = key;
    return found;
  }

  /** Takes a token from the key's bucket; returns 0, or how long (ms) until one is there. */
  private take(key: DoorKey, nowMs: number): number {
    const bucket = this.buckets.get(key.id) ?? { tokens: key.burst, at: nowMs };
    const tokens = Math.min(key.burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) * key.ratePerSecond) / 1000);
    if (tokens >= 1) {
      this.buckets.set(key.id, { tokens: tokens - 1, at: nowMs });
      return 0;
    }
    this.buckets.set(key.id, { tokens, at: nowMs });
    return ((1 - tokens) * 1000) / key.ratePerSecond;
  }
}

export interface DoorAccessConfig {
  INGEST_HTTP_AUTH: 'keys' | 'none';
  INGEST_HTTP_KEYS_FILE?: string;
  INGEST_HTTP_KEYS?: string;
  INGEST_HTTP_TLS_CERT_FILE?: string;
  INGEST_HTTP_TLS_KEY_FILE?: string;
}

export type DoorAccess =
  | { mode: 'keys'; guard: DoorGuard; keys: number; tls?: { cert: Buffer; key: Buffer } }
  | { mode: 'none'; guard: DoorGuard; tls?: { cert: Buffer; key: Buffer } }
  /** Keys required and none configured: the door does not open. */
  | { mode: 'closed' };

/**
 * The door's access from configuration; `read` reads a file (the only I/O).
 * A configuration error names the variable. Keys are required unless
 * INGEST_HTTP_AUTH=none says otherwise: without them the door stays closed.
 */
export function doorAccess(config: DoorAccessConfig, read: (path: string) => Buffer): DoorAccess {
  const { INGEST_HTTP_TLS_CERT_FILE: certFile, INGEST_HTTP_TLS_KEY_FILE: keyFile } = config;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new SluiceError('CONFIG_INVALID', 'invalid configuration: INGEST_HTTP_TLS_CERT_FILE and INGEST_HTTP_TLS_KEY_FILE must be set together');
  }
  const readNamed = (variable: string, path: string) => {
    try {
      return read(path);
    } catch (error) {
      throw new SluiceError('CONFIG_INVALID', `invalid configuration: ${variable}: cannot read ${path} (${(error as Error).message})`);
    }
  };
  const tls = certFile && keyFile ? { cert: readNamed('INGEST_HTTP_TLS_CERT_FILE', certFile), key: readNamed('INGEST_HTTP_TLS_KEY_FILE', keyFile) } : undefined;
  if (config.INGEST_HTTP_AUTH === 'none') {
    if (config.INGEST_HTTP_KEYS_FILE !== undefined || config.INGEST_HTTP_KEYS !== undefined) {
      throw new SluiceError('CONFIG_INVALID', 'invalid configuration: INGEST_HTTP_AUTH=none with INGEST_HTTP_KEYS_FILE or INGEST_HTTP_KEYS set: choose one');
    }
    return { mode: 'none', guard: new DoorGuard('none'), tls };
  }
  const keys = [
    ...(config.INGEST_HTTP_KEYS_FILE !== undefined ? parseDoorKeys(readNamed('INGEST_HTTP_KEYS_FILE', config.INGEST_HTTP_KEYS_FILE).toString('utf8'), `INGEST_HTTP_KEYS_FILE (${config.INGEST_HTTP_KEYS_FILE})`) : []),
    ...(config.INGEST_HTTP_KEYS !== undefined ? parseDoorKeys(config.INGEST_HTTP_KEYS, 'INGEST_HTTP_KEYS') : []),
  ];
  if (keys.length === 0) return { mode: 'closed' };
  return { mode: 'keys', guard: new DoorGuard(keys), keys: keys.length, tls };
}
