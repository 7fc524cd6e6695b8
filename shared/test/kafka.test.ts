import { describe, expect, it } from 'vitest';
import { logLevel } from 'kafkajs';
import { kafkajsLogLevel } from '../src/kafka.js';

describe('kafkajsLogLevel', () => {
  it('puts what a broker restart or a moving coordinator causes at debug', () => {
    // Lines kafkajs 2.2.4 wrote at ERROR while the broker was stopped for 20 s and started again (issue 15);
    // the errors are kafkajs's texts for GROUP_COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR.
    const transient: [string, string | undefined][] = [
      ['Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available'],
      ['Response InitProducerId(key: 22, version: 1)', "The coordinator is loading and hence can't process requests for this group"],
      ['Response FindCoordinator(key: 10, version: 2)', 'This is not the correct coordinator for this group'],
      ['Connection error: connect ECONNREFUSED 127.0.0.1:19092', undefined],
      ['Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:19092', undefined],
      ['Crash: KafkaJSNonRetriableError: Failed to find group coordinator', undefined],
      ['Restarting the consumer in 300ms', undefined],
    ];
    for (const [message, error] of transient) expect(kafkajsLogLevel(logLevel.ERROR, message, error), message).toBe('debug');
  });

  it('keeps everything else at the level kafkajs gives it', () => {
    expect(kafkajsLogLevel(logLevel.ERROR, 'Response SaslAuthenticate(key: 36, version: 2)', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512')).toBe('error');
    expect(kafkajsLogLevel(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', 'Not authorized to access topics: [Topic authorization failed.]')).toBe('error');
    expect(kafkajsLogLevel(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees')).toBe('warn');
  });
});
