import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors.js';
import { OrderedBuffer } from '../../src/event-time/ordered-buffer.js';
import { SegmentedBuffer, segmentedBufferCodec, type SegmentFormat } from '../../src/event-time/segmented-buffer.js';
import type { KeyValueStore } from '../../src/state-store.js';
import type { TaskInfo } from '../../src/runtime/contract.js';
import { bytesInput, defineTopology, input, output, store, type TypedHandler } from '../../src/runtime/topology.js';
import { murmur2 } from '../../src/testing/in-memory-topics.js';
import { TopologyTestDriver } from '../../src/testing/test-driver.js';
import type { TopicDeclaration } from '../../src/topics.js';

const CONFIG = { SLUICE_TOPIC_PREFIX: '', TOPIC_PARTITIONS: 3 };
const own = (...names: string[]): TopicDeclaration[] => names.map((name) => ({ name, partitions: 3, cleanupPolicy: 'delete' }));

const { counting: countingTopology, flow: flowTopology, marks: marksTopology, holding: holdingTopology } = defineTopology(
  CONFIG,
  'test',
  {
    counting: { inputs: { events: bytesInput('in', { deadLetter: 'dlq' }) }, stores: { counts: store<number>() }, outputs: [output('out')] },
    flow: { inputs: { a: bytesInput('a', { deadLetter: 'dlq' }), b: bytesInput('b', { deadLetter: 'dlq' }) }, outputs: [output('out')] },
    marks: {
      inputs: { marked: input<{ n: number }>('marked', { deadLetter: 'dlq', watermarks: true }), plain: input<{ n: number }>('plain', { deadLetter: 'dlq' }) },
      outputs: [output('downstream', { watermarks: true })],
    },
    holding: {
      inputs: { events: bytesInput('held-in', { deadLetter: 'dlq' }) },
      stores: { buffer: store(segmentedBufferCodec({ serialize: (value: never) => Buffer.from(JSON.stringify(value)), deserialize: (bytes) => JSON.parse(bytes.toString('utf8')) as unknown })), frontier: store<number>() },
      outputs: [output('out')],
    },
  },
  { internal: own('in', 'out', 'dlq', 'a', 'b', 'marked', 'plain', 'downstream', 'held-in') },
).processors;

type CountingHandler = TypedHandler<typeof countingTopology.inputs>;

/** Counts events per key in a store (as test/integration/fixtures/counting-processor.ts): JSON {id, key} in, {id, key, seen_for_key} out. */
function counting(effects: string[] = []): CountingHandler {
  return {
    process(message, context) {
      let event: { id?: unknown; key?: unknown };
      try {
        event = JSON.parse((message.value ?? Buffer.alloc(0)).toString('utf8')) as typeof event;
      } catch {
        throw new SluiceError('MALFORMED_JSON', 'value is not JSON');
      }
      if (typeof event.id !== 'string' || typeof event.key !== 'string') throw new SluiceError('MISSING_FIELD', 'id and key must be strings');
      const counts = context.store<number>('counts');
      const seen = (counts.get(event.key) ?? 0) + 1;
      counts.put(event.key, seen);
      context.send('out', event.key, { id: event.id, key: event.key, seen_for_key: seen });
      const id = event.id;
      context.afterCommit(() => effects.push(id));
    },
  };
}

const events = (from: number, to: number, keys = 7) =>
  Array.from({ length: to - from }, (_, index) => ({ key: `k${(from + index) % keys}`, value: JSON.stringify({ id: `e${from + index}`, key: `k${(from + index) % keys}` }) }));

type Counted = { id: string; key: string; seen_for_key: number };

describe('murmur2', () => {
  it("puts a key in the partition kafkajs's default partitioner does", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
        expect((murmur2(key) & 0x7fffffff) % partitions).toBe(kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }));
      }),
      { numRuns: 500 },
    );
  });
});

describe('TopologyTestDriver', () => {
  it('delivers piped records to the handler, commits its outputs by key partition and dead-letters what it refuses', async () => {
    const driver = new TopologyTestDriver(countingTopology, counting(), { partitions: 3 });
    driver.pipe('in', [...events(0, 10), { key: 'k1', value: Buffer.from([0x00, 0xff]) }]);
    await driver.run();
    const out = driver.outputs('out');
    expect(out.map((record) => (record.value as Counted).id).sort()).toEqual(events(0, 10).map((event) => JSON.parse(event.value).id).sort());
    for (const record of out) expect(record.partition).toBe((murmur2(record.key!) & 0x7fffffff) % 3);
    expect(driver.deadLetters('dlq')).toMatchObject([{ error_code: 'MALFORMED_JSON', source_topic: 'in', original_value_base64: Buffer.from([0x00, 0xff]).toString('base64'), service: 'test' }]);
    expect(driver.committedOffset('in', 0) + driver.committedOffset('in', 1) + driver.committedOffset('in', 2)).toBe(11);
  });

  it('restores stores from their changelogs after a crash and goes on from the committed offsets', async () => {
    const effects: string[] = [];
    const driver = new TopologyTestDriver(countingTopology, () => counting(effects), { partitions: 2, maxBatchSize: 3 });
    driver.pipe('in', events(0, 20));
    await driver.run();
    const before = [driver.store<number>(0, 'counts'), driver.store<number>(1, 'counts')];
    const task = driver.task(0);
    driver.crash();
    expect(driver.task(0)).toBeUndefined();
    driver.pipe('in', events(20, 40));
    expect(driver.store<number>(0, 'counts')).toEqual(before[0]);
    expect(driver.store<number>(1, 'counts')).toEqual(before[1]);
    expect(driver.task(0)).not.toBe(task);
    await driver.run();
    const values = driver.outputs('out').map((record) => record.value as Counted);
    for (let key = 0; key < 7; key++) {
      const seen = values.filter((value) => value.key === `k${key}`).map((value) => value.seen_for_key);
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: seen.length }, (_, index) => index + 1));
    }
    expect(effects.sort()).toEqual(values.map((value) => value.id).sort());
  });

  it('reports the lag of each input when a task is assigned, and of each batch', async () => {
    const lags: number[] = [];
    const definition = counting();
    const driver = new TopologyTestDriver(countingTopology, { ...definition, process: (message, context) => (lags.push(context.batch!.lag), definition.process(message, context)) }, { maxBatchSize: 4 });
    driver.pipe('in', events(0, 10));
    await driver.run();
    expect(driver.task(0)?.lagAtAssignment.get('in')).toBe(10);
    expect([...new Set(lags)]).toEqual([6, 2, 0]);
  });

  it('an exactly-once oracle: crashes and aborted commits anywhere change nothing in the outputs, effects or state', async () => {
    const step = fc.oneof(fc.constant({ kind: 'crash' as const }), fc.constant({ kind: 'abort' as const }), fc.integer({ min: 1, max: 9 }).map((count) => ({ kind: 'pipe' as const, count })));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 12 }), fc.integer({ min: 1, max: 5 }), async (steps, maxBatchSize) => {
        const effects: string[] = [];
        const driver = new TopologyTestDriver(countingTopology, () => counting(effects), { partitions: 2, maxBatchSize });
        let piped = 0;
        for (const action of steps) {
          if (action.kind === 'crash') driver.crash();
          else if (action.kind === 'abort') driver.failNextCommits();
          else {
            driver.pipe('in', events(piped, piped + action.count));
            piped += action.count;
          }
          await driver.run();
        }
        await driver.run();
        const reference = new TopologyTestDriver(countingTopology, counting(), { partitions: 2 });
        reference.pipe('in', events(0, piped));
        await reference.run();
        const sorted = (records: { value: unknown }[]) => records.map((record) => JSON.stringify(record.value)).sort();
        expect(sorted(driver.outputs('out'))).toEqual(sorted(reference.outputs('out')));
        expect(effects.sort()).toEqual(events(0, piped).map((event) => (JSON.parse(event.value) as { id: string }).id).sort());
        for (const partition of [0, 1]) expect(driver.store(partition, 'counts')).toEqual(reference.store(partition, 'counts'));
      }),
      { numRuns: 150 },
    );
  });

  it('holds a paused input back while the other flows and punctuation runs, then delivers it', async () => {
    const punctuations: boolean[] = [];
    const driver = new TopologyTestDriver(flowTopology, {
      process(message, context) {
        const value = (message.value ?? Buffer.alloc(0)).toString();
        if (value === 'pause-a') context.pauseInput('a');
        context.sendBytes('out', null, Buffer.from(`${message.input}:${value}`));
      },
      punctuate: {
        intervalMs: 100,
        run(context) {
          punctuations.push(context.isInputPaused('a'));
          if (punctuations.length === 3) context.resumeInput('a');
        },
      },
    });
    driver.pipe('b', [{ value: 'pause-a' }]);
    await driver.run();
    driver.pipe('a', [{ value: '1' }, { value: '2' }]);
    driver.pipe('b', [{ value: '3' }]);
    await driver.run();
    expect(driver.outputs('out').map((record) => String(record.value))).toEqual(['b:pause-a', 'b:3']);
    expect(driver.isPaused(0, 'a')).toBe(true);
    await driver.advanceTime(300, { run: true });
    expect(punctuations).toEqual([true, true, true]);
    expect(driver.outputs('out').map((record) => String(record.value))).toEqual(['b:pause-a', 'b:3', 'a:1', 'a:2']);
  });

  it('hands watermark records to an input that declares them, writes its own to every partition, and skips them elsewhere', async () => {
    const seen: string[] = [];
    const driver = new TopologyTestDriver(
      marksTopology,
      {
        process(message, context) {
          seen.push(message.watermark === undefined ? `${message.input}:${JSON.stringify(message.value)}` : `${message.input}:mark ${message.watermark.time}`);
          if (message.watermark !== undefined) context.sendWatermark('downstream', { time: message.watermark.time, idle: false });
        },
      },
      { partitions: 2 },
    );
    driver.topics.create('downstream', 3);
    driver.pipe('marked', [{ key: 'x', value: { n: 1 }, partition: 1 }]);
    driver.pipeWatermark('marked', 1, { source: 0, sources: 1, time: 5_000, idle: false });
    driver.pipeWatermark('plain', 1, { source: 0, sources: 1, time: 6_000, idle: false });
    driver.pipe('plain', [{ key: 'y', value: Buffer.from('not avro'), partition: 1 }]);
    await driver.run();
    expect(seen).toEqual(['marked:{"n":1}', 'marked:mark 5000']);
    expect(driver.watermarks('downstream')).toEqual([0, 1, 2].map((partition) => ({ source: 1, sources: 2, time: 5_000, idle: false, partition })));
    expect(driver.deadLetters('dlq').map((letter) => letter.error_code)).toEqual(['UNDECODABLE_AVRO']);
  });
  it('tells the handler once that a task is restored (with its stores as restored) and once that it is revoked', async () => {
    const heard: string[] = [];
    const withHooks = (): CountingHandler => {
      const handler = counting();
      const restored = new Map<TaskInfo, number>();
      return {
        process(message, context) {
          // The hooks bracket the work: a task is processed only between its onRestored and its onRevoked.
          if (!restored.has(context.task)) throw new Error(`partition ${context.partition} processed before onRestored`);
          return handler.process(message, context);
        },
        onRestored(task) {
          restored.set(task.task, task.partition);
          heard.push(`restored ${task.partition} with ${[...task.store<number>('counts').entries()].reduce((sum, [, count]) => sum + count, 0)}`);
        },
        onRevoked(task) {
          heard.push(`revoked ${restored.get(task)}`);
          restored.delete(task);
        },
      };
    };
    const driver = new TopologyTestDriver(countingTopology, withHooks, { partitions: 1, maxBatchSize: 4 });
    driver.pipe('in', events(0, 6));
    await driver.run();
    expect(heard).toEqual(['restored 0 with 0']);
    driver.failNextCommits();
    driver.pipe('in', events(6, 8));
    await driver.run();
    // The aborted batch's task is revoked; its successor is restored from the changelog (six counted), then redoes the batch.
    expect(heard).toEqual(['restored 0 with 0', 'revoked 0', 'restored 0 with 6']);
    driver.reassign();
    expect(heard.at(-1)).toBe('revoked 0');
    driver.crash();
    driver.pipe('in', events(8, 9));
    await driver.run();
    expect(heard.at(-1)).toBe('restored 0 with 8');
    expect(heard.filter((line) => line.startsWith('revoked'))).toHaveLength(2);
  });

  it('reads the records a task held in memory only again after a crash or an aborted commit: the same outputs as a run without either (property)', async () => {
    // {id, time} is held until a {release: T} passes it; one at or before the frontier already released goes out at once.
    type Held = { id: string; time: number };
    const FORMAT: SegmentFormat<Held> = {
      estimatedBytes: () => 40,
      write: (events) => [...events.values()],
      read: (written) => (written as Held[]).map((event) => [`${event.time}|0|${event.id}`, event]),
      single: (value) => value as Held,
    };
    const holding = (): TypedHandler<typeof holdingTopology.inputs> => {
      const tasks = new Map<TaskInfo, { segments: SegmentedBuffer<Held>; buffer: OrderedBuffer<Held>; frontier: KeyValueStore<number> }>();
      const applied = (task: TaskInfo) => tasks.get(task)!.frontier.get('applied') ?? -Infinity;
      const parse = (value: Buffer | null) => JSON.parse(value!.toString('utf8')) as Held | { release: number };
      return {
        onRestored(task) {
          const frontier = task.store<number>('frontier');
          const segments = new SegmentedBuffer(task.store<unknown>('buffer'), FORMAT, frontier.get('applied') ?? -Infinity, (event) => event.time);
          tasks.set(task.task, { segments, buffer: new OrderedBuffer(segments, (event) => ({ time: event.time, rank: 0, id: event.id })), frontier });
        },
        onRevoked: (task) => void tasks.delete(task),
        process(message, context) {
          const task = tasks.get(context.task)!;
          const event = parse(message.value);
          if ('release' in event) {
            if (event.release <= applied(context.task)) return;
            for (const released of task.buffer.releaseThrough(event.release)) context.send('out', null, released);
            task.frontier.put('applied', event.release);
          } else if (event.time <= applied(context.task)) context.send('out', null, { ...event, late: true });
          else task.buffer.add(event, { topic: message.topic, offset: message.offset });
        },
        heldInputs: {
          oldestHeld: (task, topic) => tasks.get(task)?.segments.oldestHeld(topic),
          replay(message, task) {
            const event = parse(message.value);
            if (!('release' in event) && event.time > applied(task)) tasks.get(task)!.buffer.add(event, { topic: message.topic, offset: message.offset });
          },
        },
      };
    };
    const step = fc.oneof(
      fc.constant({ kind: 'crash' as const }),
      fc.constant({ kind: 'abort' as const }),
      fc.integer({ min: 0, max: 50 }).map((time) => ({ kind: 'release' as const, time })),
      fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 6 }).map((times) => ({ kind: 'events' as const, times })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 14 }), fc.integer({ min: 1, max: 4 }), async (steps, maxBatchSize) => {
        const driver = new TopologyTestDriver(holdingTopology, holding, { partitions: 1, maxBatchSize });
        const reference = new TopologyTestDriver(holdingTopology, holding(), { partitions: 1, maxBatchSize });
        let id = 0;
        for (const action of steps) {
          if (action.kind === 'crash') driver.crash();
          else if (action.kind === 'abort') driver.failNextCommits();
          else {
            const records = action.kind === 'release' ? [{ value: JSON.stringify({ release: action.time }) }] : action.times.map((time) => ({ value: JSON.stringify({ id: `e${id++}`, time }) }));
            driver.pipe('held-in', records);
            reference.pipe('held-in', records);
          }
          await driver.run();
          await reference.run();
        }
        for (const run of [driver, reference]) {
          run.pipe('held-in', [{ value: JSON.stringify({ release: 100 }) }]);
          await run.run();
        }
        const values = (run: TopologyTestDriver) => run.outputs('out').map((record) => JSON.stringify(record.value));
        expect(values(driver)).toEqual(values(reference));
        expect(values(driver)).toHaveLength(id);
        expect(driver.committedOffset('held-in', 0)).toBe(driver.topics.end('held-in', 0));
      }),
      { numRuns: 200 },
    );
  });
});
