import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { doorAccess, DoorGuard, hashApiKey, parseDoorKeys, presentedKey, type DoorDecision } from '../src/door-auth.js';

const producerKey = randomBytes(32).toString('base64url');
const labellerKey = randomBytes(32).toString('base64url');
const keysDocument = JSON.stringify({
  keys: [
    { id: 'producer', sha256: hashApiKey(producerKey).toString('hex'), kinds: ['transaction'], ratePerSecond: 2, burst: 3 },
    { id: 'labeller', sha256: hashApiKey(labellerKey).toString('hex'), kinds: ['label', 'transaction'], ratePerSecond: 100 },
  ],
});
const guard = () => new DoorGuard(parseDoorKeys(keysDocument, 'test'));
const refusal = (decision: DoorDecision) => (decision.outcome === 'refused' ? [decision.reason, decision.status] : ['allowed']);

describe('DoorGuard refusals', () => {
  it('refuses a request without a key: 401 no_credentials', () => {
    expect(refusal(guard().check(undefined, 'transaction', 0))).toEqual(['no_credentials', 401]);
  });

  it('refuses a key it does not know, including one a character away from a real one: 401 unknown_key', () => {
    const near = producerKey.slice(0, -1) + (producerKey.endsWith('A') ? 'B' : 'A');
    for (const key of [near, `${producerKey}x`, 'x', randomBytes(32).toString('base64url')]) expect(refusal(guard().check(key, 'transaction', 0))).toEqual(['unknown_key', 401]);
  });

  it('refuses a record kind the key is not granted: 403 kind_not_granted', () => {
    const decision = guard().check(producerKey, 'label', 0);
    expect(refusal(decision)).toEqual(['kind_not_granted', 403]);
    expect(refusal(guard().check(labellerKey, 'label', 0))).toEqual(['allowed']);
  });

  it('refuses past the burst until the bucket refills: 429 rate_limited with Retry-After', () => {
    const door = guard();
    for (let i = 0; i < 3; i++) expect(refusal(door.check(producerKey, 'transaction', 1_000))).toEqual(['allowed']);
    const limited = door.check(producerKey, 'transaction', 1_000);
    expect(refusal(limited)).toEqual(['rate_limited', 429]);
    expect(limited.outcome === 'refused' && limited.retryAfterSeconds).toBe(1);
    // Another key has its own bucket.
    expect(refusal(door.check(labellerKey, 'transaction', 1_000))).toEqual(['allowed']);
    // 2 requests/s: one token back after 500 ms.
    expect(refusal(door.check(producerKey, 'transaction', 1_499))).toEqual(['rate_limited', 429]);
    expect(refusal(door.check(producerKey, 'transaction', 1_500))).toEqual(['allowed']);
  });

  it('never lets more than burst + rate × elapsed requests through (any arrival times)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        const door = guard();
        let now = 0;
        let allowed = 0;
        for (const gap of gaps) {
          now += gap;
          if (door.check(producerKey, 'transaction', now).outcome === 'allowed') allowed += 1;
        }
        return allowed <= 3 + (2 * now) / 1000 + 1e-9;
      }),
    );
  });

  it('lets everything through with INGEST_HTTP_AUTH=none', () => {
    expect(new DoorGuard('none').check(undefined, 'label', 0).outcome).toBe('allowed');
  });
});

describe('presentedKey', () => {
  it('reads a bearer token, else X-API-Key', () => {
    expect(presentedKey({ authorization: 'Bearer abc' })).toBe('abc');
    expect(presentedKey({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(presentedKey({ 'x-api-key': 'k' })).toBe('k');
    expect(presentedKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedKey({})).toBeUndefined();
  });
});

describe('doorAccess (configuration)', () => {
  const read = (files: Record<string, string>) => (path: string) => {
    if (!(path in files)) throw new Error('ENOENT');
    return Buffer.from(files[path]!);
  };

  it('requires keys unless INGEST_HTTP_AUTH=none: without any the door stays closed', () => {
    expect(doorAccess({ INGEST_HTTP_AUTH: 'keys' }, read({})).mode).toBe('closed');
    expect(doorAccess({ INGEST_HTTP_AUTH: 'none' }, read({})).mode).toBe('none');
    const access = doorAccess({ INGEST_HTTP_AUTH: 'keys', INGEST_HTTP_KEYS_FILE: '/keys.json' }, read({ '/keys.json': keysDocument }));
    expect(access.mode === 'keys' && access.keys).toBe(2);
  });

  it('names the variable at fault', () => {
    expect(() => doorAccess({ INGEST_HTTP_AUTH: 'keys', INGEST_HTTP_KEYS_FILE: '/missing.json' }, read({}))).toThrow(/INGEST_HTTP_KEYS_FILE: cannot read/);
    expect(() => doorAccess({ INGEST_HTTP_AUTH: 'keys', INGEST_HTTP_KEYS: '{"keys":[{"id":"a","sha256":"zz","kinds":["transaction"]}]}' }, read({}))).toThrow(/INGEST_HTTP_KEYS: keys.0.sha256/);
    expect(() => doorAccess({ INGEST_HTTP_AUTH: 'keys', INGEST_HTTP_KEYS: 'not json' }, read({}))).toThrow(/INGEST_HTTP_KEYS: not JSON/);
    expect(() => doorAccess({ INGEST_HTTP_AUTH: 'none', INGEST_HTTP_KEYS: keysDocument }, read({}))).toThrow(/INGEST_HTTP_AUTH=none/);
    expect(() => doorAccess({ INGEST_HTTP_AUTH: 'none', INGEST_HTTP_TLS_CERT_FILE: '/c' }, read({}))).toThrow(/INGEST_HTTP_TLS_CERT_FILE and INGEST_HTTP_TLS_KEY_FILE/);
  });

  it('refuses a key document with the same id twice', () => {
    const twice = JSON.stringify({ keys: [JSON.parse(keysDocument).keys[0], JSON.parse(keysDocument).keys[0]] });
    expect(() => parseDoorKeys(twice, 'test')).toThrow(/appears twice/);
  });
});
