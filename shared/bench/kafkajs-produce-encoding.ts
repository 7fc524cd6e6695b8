/**
 * CPU per record of kafkajs's produce request encoding, as patched (patches/kafkajs+2.2.4.patch): one transactional
 * request of 6 partitions × 500 records, 600-byte values and one header each, the shape of a features batch.
 * Usage: node --import tsx shared/bench/kafkajs-produce-encoding.ts [rounds]
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (input: object) => { encode(): Promise<{ buffer: Buffer }> };
const Long = require('kafkajs/src/utils/long') as { fromInt(value: number): unknown };

const PARTITIONS = 6;
const RECORDS_PER_PARTITION = 500;
const value = Buffer.alloc(600, 7);
const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({
  partition,
  firstSequence: 0,
  messages: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({
    key: Buffer.from(`customer-${i}`),
    value,
    headers: { 'sluice-ingested': Buffer.from('1700000000000') },
    timestamp: 1_700_000_000_000 + i,
  })),
}));
const request = () => produceRequest({ acks: -1, timeout: 30_000, transactionalId: 'bench', producerId: Long.fromInt(5), producerEpoch: 1, topicData: [{ topic: 'transactions.features', partitions }] });

const rounds = Number(process.argv[2] ?? 300);
let bytes = 0;
for (let i = 0; i < 100; i++) bytes = (await request().encode()).buffer.length;
const started = process.cpuUsage();
for (let i = 0; i < rounds; i++) await request().encode();
const { user, system } = process.cpuUsage(started);
const records = rounds * PARTITIONS * RECORDS_PER_PARTITION;
console.log(`kafkajs produce encoding: ${((user + system) / records).toFixed(2)} µs of CPU per record (${records.toLocaleString('en')} records, ${bytes.toLocaleString('en')}-byte requests)`);
