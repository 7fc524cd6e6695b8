import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs 2.2.4 walks the broker's aborted-transaction list in the order given and at most one per message,
// so read_committed consumers could see aborted records; patches/kafkajs+2.2.4.patch (applied on install) fixes it.
const require = createRequire(import.meta.url);
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages.js') as (input: {
  messages: { offset: string; key: Buffer | null; batchContext: { producerId: string; inTransaction: boolean } }[];
  abortedTransactions: { firstOffset: string; producerId: string }[];
}) => { offset: string; key: Buffer | null }[];

const ABORT_MARKER = Buffer.from([0, 0, 0, 0]);
const record = (offset: number, producerId: string, key: Buffer | null = Buffer.from('k')) => ({ offset: String(offset), key, batchContext: { producerId, inTransaction: true } });

// Transactions a (first record at 10) and b (at 11) both aborted; a read begins at 12, after both began.
const fetched = [record(12, 'b'), record(13, 'a'), record(14, 'a', ABORT_MARKER), record(15, 'b'), record(16, 'b', ABORT_MARKER), record(17, 'c')];
const survivors = (abortedTransactions: { firstOffset: string; producerId: string }[]) =>
  filterAbortedMessages({ messages: fetched, abortedTransactions })
    .filter((message) => !message.key?.equals(ABORT_MARKER))
    .map((message) => message.offset);

describe('kafkajs read_committed filtering (patched)', () => {
  it('drops the records of every aborted transaction that began before the first fetched record', () => {
    expect(survivors([{ firstOffset: '10', producerId: 'a' }, { firstOffset: '11', producerId: 'b' }])).toEqual(['17']);
  });

  it('drops them whatever order the broker lists the aborted transactions in', () => {
    expect(survivors([{ firstOffset: '11', producerId: 'b' }, { firstOffset: '10', producerId: 'a' }])).toEqual(['17']);
  });
});
