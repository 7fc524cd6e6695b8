import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logLevel, type LogEntry } from 'kafkajs';
import { kafkajsLogger } from '../src/kafka.js';
import { createLogger } from '../src/logger.js';
import { TransientStateWatch } from '../src/runtime/transient-states.js';

function capture(deadlineMs = 60_000, quietMs = 35_000) {
  const lines: { level: number; msg: string; transientState?: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  let now = 0;
  const log = kafkajsLogger(createLogger('test', 'debug', destination), new TransientStateWatch(deadlineMs, quietMs), () => now);
  const entry = (level: number, message: string, error?: string): LogEntry => ({ namespace: 'Connection', level, label: 'ERROR', log: { timestamp: '', message, ...(error === undefined ? {} : { error }) } });
  return {
    lines,
    at: (ms: number) => (now = ms),
    write: (level: number, message: string, error?: string) => log(entry(level, message, error)),
    errors: () => lines.filter((line) => line.level >= 50),
  };
}

// Lines kafkajs 2.2.4 wrote at ERROR on a fresh stack (coordinators loading) and while the broker was stopped for
// 20 s and started again (issue 15); the errors are kafkajs's texts for GROUP_COORDINATOR_NOT_AVAILABLE,
// COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS.
const transient: [string, string | undefined][] = [
  ['Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available'],
  ['Response InitProducerId(key: 22, version: 1)', "The coordinator is loading and hence can't process requests for this group"],
  ['Response FindCoordinator(key: 10, version: 2)', 'This is not the correct coordinator for this group'],
  ['Response InitProducerId(key: 22, version: 1)', 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing'],
  ['Connection error: connect ECONNREFUSED 127.0.0.1:19092', undefined],
  ['Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:19092', undefined],
  ['Crash: KafkaJSNonRetriableError: Failed to find group coordinator', undefined],
  ['Restarting the consumer in 300ms', undefined],
];

describe('kafkajsLogger', () => {
  it('puts the lines of a transient broker state at debug, naming the state', () => {
    const log = capture();
    for (const [message, error] of transient) log.write(logLevel.ERROR, message, error);
    expect(log.lines.map((line) => line.level)).toEqual(transient.map(() => 20));
    expect(log.lines.every((line) => line.transientState !== undefined)).toBe(true);
  });

  it('keeps everything else at the level kafkajs gives it', () => {
    const log = capture();
    log.write(logLevel.ERROR, 'Response SaslAuthenticate(key: 36, version: 2)', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
    log.write(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', 'Not authorized to access topics: [Topic authorization failed.]');
    log.write(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees');
    expect(log.lines.map((line) => line.level)).toEqual([50, 50, 40]);
  });

  it('reports a state that outlasts the deadline once, at error, saying what to check', () => {
    const log = capture(60_000, 35_000);
    for (let ms = 0; ms <= 120_000; ms += 5_000) {
      log.at(ms);
      log.write(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', 'The group coordinator is not available');
    }
    expect(log.errors()).toHaveLength(1);
    expect(log.errors()[0]!.msg).toMatch(/retrying for 60 s \(group or transaction coordinator unavailable, 13 .*__consumer_offsets/);
  });

  it('never reports spells that heal before the deadline, however many', () => {
    const log = capture(60_000, 35_000);
    // Spells of 30 s, 40 s of quiet between them: 5 minutes in all, none of them lasting.
    for (let spell = 0; spell < 5; spell++) {
      for (let ms = 0; ms <= 30_000; ms += 1_000) {
        log.at(spell * 70_000 + ms);
        log.write(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)', "The coordinator is loading and hence can't process requests for this group");
      }
    }
    expect(log.errors()).toEqual([]);
  });

  it('never reports the refusals between two commits, however long they keep coming', () => {
    const log = capture(60_000, 35_000);
    // A dozen tasks, each refused now and then while its previous commit settles: one line every 2 s for 5 minutes.
    for (let ms = 0; ms <= 300_000; ms += 2_000) {
      log.at(ms);
      log.write(logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing');
    }
    expect(log.lines.every((line) => line.level === 20)).toBe(true);
  });
});
