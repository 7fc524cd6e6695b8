import { createRequire } from 'node:module';
import { KafkaJSNonRetriableError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SluiceError, isRetriable, type ErrorCode } from '../src/errors.js';
import { retrying } from '../src/retry.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };

describe('SluiceError', () => {
  it("carries its code's retriable flag unless the thrower says otherwise", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) expect(new SluiceError(code, 'r').retriable).toBe(ERROR_CODES[code].retriable);
    expect(new SluiceError('TOPICS_NOT_READY', 'r').retriable).toBe(true);
    expect(new SluiceError('TOPICS_NOT_READY', 'r', { retriable: false }).retriable).toBe(false);
  });

  it('names its code and reason in the message', () => {
    expect(new SluiceError('CONFIG_INVALID', 'KAFKA_BROKERS: required').message).toBe('CONFIG_INVALID: KAFKA_BROKERS: required');
  });
});

describe('isRetriable', () => {
  it("reads the flag of a SluiceError and of a kafkajs error, whatever their text says", () => {
    expect(isRetriable(new SluiceError('SCHEMA_REGISTRY_RACE', 'not retriable by its text'))).toBe(true);
    expect(isRetriable(new SluiceError('UNDECODABLE_AVRO', 'retry, it may work'))).toBe(false);
    // kafkajs's protocol errors carry the protocol table's flag: 51 CONCURRENT_TRANSACTIONS, 47 INVALID_PRODUCER_EPOCH.
    expect(isRetriable(createErrorFromCode(51))).toBe(true);
    expect(isRetriable(createErrorFromCode(47))).toBe(false);
    expect(isRetriable(new KafkaJSNonRetriableError('Connection error: retry'))).toBe(false);
    expect(isRetriable(new Error('CONCURRENT_TRANSACTIONS'))).toBe(false);
    expect(isRetriable('TOPICS_NOT_READY')).toBe(false);
  });

  it('decides what retrying tries again', async () => {
    let calls = 0;
    const failing = (code: ErrorCode) => async () => {
      calls += 1;
      throw new SluiceError(code, 'failed');
    };
    await expect(retrying(failing('TOPICS_NOT_READY'), { attempts: 3, delayMs: () => 0, retriable: isRetriable })).rejects.toThrow('TOPICS_NOT_READY');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retrying(failing('SCHEMA_REGISTRATION_FAILED'), { attempts: 3, delayMs: () => 0, retriable: isRetriable })).rejects.toThrow('SCHEMA_REGISTRATION_FAILED');
    expect(calls).toBe(1);
  });
});
