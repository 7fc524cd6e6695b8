import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// kafkajs 2.2.4 grouped a send's messages per partition by copying each partition's list for every message
// (quadratic: 4-7 µs per message in batches of 500-8,000, issue 13's profile); patches/kafkajs+2.2.4.patch
// (applied on install) appends instead. The grouping must stay exactly the original's.
const require = createRequire(import.meta.url);
type Group = (input: { topic: string; partitionMetadata: unknown[]; messages: { key: string }[]; partitioner: (input: { message: { key: string } }) => number }) => Record<number, { key: string }[]>;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as Group;

/** The original kafkajs 2.2.4 code, as the oracle. */
const original: Group = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<number, { key: string }[]>>((result, message) => {
    const partition = partitioner({ message, ...{ topic, partitionMetadata } });
    return Object.assign(result, { [partition]: [...(result[partition] ?? []), message] });
  }, {});
};

describe('kafkajs per-partition grouping (patched)', () => {
  it('groups exactly as the original, in send order within each partition', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 3 }), { maxLength: 200 }), fc.integer({ min: 0, max: 6 }), (keys, partitions) => {
        const input = {
          topic: 't',
          partitionMetadata: Array.from({ length: partitions }, (_, partition) => ({ partitionId: partition })),
          messages: keys.map((key) => ({ key })),
          partitioner: ({ message }: { message: { key: string } }) => message.key.length % Math.max(1, partitions),
        };
        expect(groupMessagesPerPartition(input)).toEqual(original(input));
      }),
    );
  });

  it('keeps the messages themselves, in order, in a batch of 20,000', () => {
    const messages = Array.from({ length: 20_000 }, (_, i) => ({ key: String(i) }));
    const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: [{}], messages, partitioner: () => 0 });
    // The same array objects, in order: nothing was rebuilt per message.
    expect(grouped[0]).toHaveLength(20_000);
    expect(grouped[0]![19_999]).toBe(messages[19_999]);
  });
});
