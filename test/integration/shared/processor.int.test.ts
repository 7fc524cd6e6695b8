import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, OrderedBuffer, SegmentedBuffer, StreamProcessor, type KeyValueStore, type SegmentFormat, type TaskInfo } from '@sluice/shared';
import { groupBy } from '../../support/collections.js';
import { consumeAll, createTopics, produce, serviceEnv, testKafka, testLogger, testSerde, uniquePrefix } from '../../support/kafka.js';
import { twoInputTopics } from '../../support/two-inputs.js';

const fixture = fileURLToPath(new URL('../fixtures/counting-processor.ts', import.meta.url));
const children: ChildProcess[] = [];

function startProcessor(prefix: string, lines: string[] = []): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', fixture], {
    env: serviceEnv(prefix),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  children.push(child);
  return child;
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

async function setUp(name: string) {
  const prefix = uniquePrefix(name);
  const kafka = testKafka();
  await createTopics(kafka, [
    { name: `${prefix}in`, partitions: 3, cleanupPolicy: 'delete' },
    { name: `${prefix}out`, partitions: 3, cleanupPolicy: 'delete' },
    { name: `${prefix}dlq`, partitions: 3, cleanupPolicy: 'delete' },
    { name: `${prefix}counts-changelog`, partitions: 3, cleanupPolicy: 'compact' },
  ]);
  return { prefix, kafka };
}

const events = (from: number, to: number, keys = 7) =>
  Array.from({ length: to - from }, (_, index) => {
    const n = from + index;
    return { key: `k${n % keys}`, value: JSON.stringify({ id: `e${n}`, key: `k${n % keys}` }) };
  });

describe('shared exactly-once processing loop', () => {
  it('passes messages through as Avro via the registry and dead-letters a poison message without stopping', async () => {
    const { prefix, kafka } = await setUp('passthrough');
    startProcessor(prefix);
    const poison = Buffer.from([0x00, 0xff, 0x7b, 0x22]);
    await produce(kafka, `${prefix}in`, [...events(0, 20), { key: 'k1', value: poison }, ...events(20, 40)]);

    const out = await consumeAll(kafka, `${prefix}out`, { count: 40 });
    const serde = testSerde();
    const decoded = await Promise.all(out.map(async (message) => ({ key: message.key, value: await serde.decode<{ id: string; key: string; seen_for_key: number }>(message.value) })));
    expect(decoded.map((entry) => entry.value.id).sort()).toEqual(Array.from({ length: 40 }, (_, n) => `e${n}`).sort());
    for (const entry of decoded) expect(entry.key).toBe(entry.value.key);
    const perKey = groupBy(decoded, (entry) => entry.value.key);
    for (const [, entries] of perKey) {
      expect(entries.map((entry) => entry.value.seen_for_key).sort((a, b) => a - b)).toEqual(entries.map((_, index) => index + 1));
    }

    const dlq = await consumeAll(kafka, `${prefix}dlq`, { count: 1 });
    expect(dlq).toHaveLength(1);
    const letter = JSON.parse(dlq[0]!.value!.toString()) as Record<string, unknown>;
    expect(letter).toMatchObject({ error_code: 'MALFORMED_JSON', source_topic: `${prefix}in`, original_value_base64: poison.toString('base64') });
    expect(dlq[0]!.headers['sluice.error.code']).toBe('MALFORMED_JSON');
  });

  it('yields every input exactly once, with state continuing, across SIGKILLs mid-stream', async () => {
    const { prefix, kafka } = await setUp('sigkill');
    const total = 6_000;
    const waitForOutput = async (atLeast: number) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const seen = await consumeAll(kafka, `${prefix}out`, { count: atLeast, timeoutMs: 2_000, settleMs: 0 });
        if (seen.length >= atLeast) return;
      }
      throw new Error(`output never reached ${atLeast}`);
    };

    let child = startProcessor(prefix);
    await produce(kafka, `${prefix}in`, events(0, 2_000));
    await waitForOutput(200);
    child.kill('SIGKILL');
    await produce(kafka, `${prefix}in`, events(2_000, 4_000));
    child = startProcessor(prefix);
    await waitForOutput(2_500);
    child.kill('SIGKILL');
    await produce(kafka, `${prefix}in`, events(4_000, total));
    startProcessor(prefix);

    const out = await consumeAll(kafka, `${prefix}out`, { count: total, timeoutMs: 180_000, settleMs: 5_000 });
    const serde = testSerde();
    const values = await Promise.all(out.map((message) => serde.decode<{ id: string; key: string; seen_for_key: number }>(message.value)));
    const ids = values.map((value) => value.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(total);
    // The per-key counter lives in the changelog-backed store: exactly-once state means each key counts 1..n with no gap or repeat.
    const perKey = groupBy(values, (value) => value.key);
    for (const [key, entries] of perKey) {
      const expected = events(0, total).filter((event) => event.key === key).length;
      expect(entries.map((entry) => entry.seen_for_key).sort((a, b) => a - b)).toEqual(Array.from({ length: expected }, (_, index) => index + 1));
    }
  });

  it('runs after-commit effects once per input whose transaction committed, never for one that aborted', async () => {
    const { prefix, kafka } = await setUp('after-commit');
    const lines: string[] = [];
    startProcessor(prefix, lines);
    const late = { key: 'k3', value: JSON.stringify({ id: 'late', key: 'k3', route: 'late' }) };
    const inputs = [...events(0, 30), late, ...events(30, 60)];
    await produce(kafka, `${prefix}in`, inputs);
    // The copy to the missing topic fails the transaction of the batch holding `late`: it aborts and is retried on restored state.
    await waitUntil(() => lines.some((line) => line.includes('transaction aborted')), 'an aborted transaction');
    await createTopics(kafka, [{ name: `${prefix}late`, partitions: 1, cleanupPolicy: 'delete' }]);

    const out = await consumeAll(kafka, `${prefix}out`, { count: inputs.length, timeoutMs: 120_000 });
    expect(out).toHaveLength(inputs.length);
    const committed = () => lines.filter((line) => line.startsWith('COMMITTED ')).map((line) => line.slice('COMMITTED '.length));
    await waitUntil(() => committed().length >= inputs.length, 'every effect');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const ids = inputs.map((input) => (JSON.parse(input.value) as { id: string }).id);
    // `late`, and whatever shared its batch, was processed at least twice; its effect ran once, after the commit.
    expect(committed().sort()).toEqual(ids.sort());
    expect(await consumeAll(kafka, `${prefix}late`, { count: 1 })).toHaveLength(1);
  });

  it("runs a task's batches of one fetch in one transaction: each input's batch through the handler in turn, both offsets committed with the outputs", async () => {
    const { kafka, a, b, out, newProcessor } = await twoInputTopics('gathered');
    // Both inputs hold records before the processor starts: its first fetch brings a batch of each.
    const records = (name: string) => Array.from({ length: 10 }, (_, index) => ({ key: null, value: `${name}${index}` }));
    await produce(kafka, a, records('a'));
    await produce(kafka, b, records('b'));
    const batches: { topic: string; input: string | undefined }[] = [];
    const metrics = createMetricsRegistry('gathered-test');
    const start = () =>
      newProcessor(
        {
          process: (message, context) => context.sendBytes(out, null, message.value as Buffer),
          afterBatch: (context) => void batches.push({ topic: context.batch!.topic, input: context.batch?.input }),
        },
        metrics,
      );
    const first = start();
    await first.start();
    try {
      const written = await consumeAll(kafka, out, { count: 20 });
      expect(written.map((message) => message.value!.toString()).sort()).toEqual([...records('a'), ...records('b')].map(({ value }) => value).sort());
      const committed = (await metrics.getSingleMetric('sluice_kafka_transactions_total')!.get()).values.find((value) => value.labels.outcome === 'committed');
      expect(batches.map(({ topic }) => topic).sort()).toEqual([a, b]);
      expect(committed?.value).toBe(1);
    } finally {
      await first.stop();
    }
    // Both offsets were committed with that transaction: a new member of the group reads nothing again.
    const again = start();
    await again.start();
    try {
      await produce(kafka, a, [{ key: null, value: 'a-after' }]);
      const written = await consumeAll(kafka, out, { count: 21 });
      expect(written.map((message) => message.value!.toString()).filter((value) => value.startsWith('a')).sort()).toEqual([...records('a').map(({ value }) => value), 'a-after'].sort());
      expect(batches).toHaveLength(3);
    } finally {
      await again.stop();
    }
  });

  it('reads the records a task held in memory only again when a new member takes the partition: each output once, the oldest held offset committed with the processed one', async () => {
    const prefix = uniquePrefix('held');
    const kafka = testKafka();
    const [input, out, deadLetters, frontierChangelog, heldChangelog] = [`${prefix}in`, `${prefix}out`, `${prefix}dlq`, `${prefix}frontier-changelog`, `${prefix}held-changelog`];
    await createTopics(kafka, [
      ...[input, out, deadLetters].map((name) => ({ name, partitions: 1, cleanupPolicy: 'delete' as const })),
      ...[frontierChangelog, heldChangelog].map((name) => ({ name, partitions: 1, cleanupPolicy: 'compact' as const })),
    ]);
    // "e:<id>:<time>" is held until a "r:<time>" passes it; one at or before the frontier already released goes out at once.
    type Held = { id: string; time: number };
    const format: SegmentFormat<Held> = { estimatedBytes: () => 40, write: (events) => [...events.values()], read: () => [], single: (value) => value as Held };
    const newProcessor = () => {
      const tasks = new Map<TaskInfo, { segments: SegmentedBuffer<Held>; buffer: OrderedBuffer<Held>; frontier: KeyValueStore<number> }>();
      const applied = (task: TaskInfo) => tasks.get(task)!.frontier.get('applied') ?? -Infinity;
      const parse = (value: Buffer): Held | { release: number } => {
        const [kind, a, b] = value.toString().split(':');
        return kind === 'r' ? { release: Number(a) } : { id: a!, time: Number(b) };
      };
      return new StreamProcessor({
        service: 'held-test',
        kafka,
        serde: testSerde(),
        logger: testLogger,
        metrics: createMetricsRegistry('held-test'),
        groupId: `${prefix}group`,
        transactionalIdPrefix: `${prefix}group`,
        inputs: [{ topic: input, format: 'bytes', deadLetterTopic: deadLetters }],
        stores: [
          { name: 'frontier', changelogTopic: frontierChangelog },
          { name: 'held', changelogTopic: heldChangelog },
        ],
        onRestored: (task) => {
          const frontier = task.store<number>('frontier');
          const segments = new SegmentedBuffer<Held>(task.store<unknown>('held'), format, frontier.get('applied') ?? -Infinity, (event) => event.time);
          tasks.set(task.task, { segments, buffer: new OrderedBuffer(segments, (event) => ({ time: event.time, rank: 0, id: event.id })), frontier });
        },
        onRevoked: (task) => void tasks.delete(task),
        process: (message, context) => {
          const task = tasks.get(context.task)!;
          const event = parse(message.value as Buffer);
          if ('release' in event) {
            for (const released of task.buffer.releaseThrough(event.release)) context.sendBytes(out, null, Buffer.from(released.id));
            task.frontier.put('applied', Math.max(event.release, applied(context.task)));
          } else if (event.time <= applied(context.task)) context.sendBytes(out, null, Buffer.from(`${event.id} late`));
          else task.buffer.add(event, { topic: message.topic, offset: message.offset });
        },
        heldInputs: {
          oldestHeld: (task, topic) => tasks.get(task)?.segments.oldestHeld(topic),
          replay: (message, task) => {
            const event = parse(message.value as Buffer);
            if (!('release' in event) && event.time > applied(task)) tasks.get(task)!.buffer.add(event, { topic: message.topic, offset: message.offset });
          },
        },
      });
    };
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () => (await admin.fetchOffsets({ groupId: `${prefix}group`, topics: [input] }))[0]!.partitions[0]!;
    const values = async (count: number) => (await consumeAll(kafka, out, { count, settleMs: 2_000 })).map((message) => message.value!.toString());
    try {
      await produce(kafka, input, ['e:1:10', 'e:2:20', 'r:15', 'e:3:30'].map((value) => ({ key: null, value })));
      const first = newProcessor();
      await first.start();
      try {
        expect(await values(1)).toEqual(['1']);
        // e2 (offset 1) and e3 are held: the group's offset stays at e2, the position read through beside it.
        expect(await committed()).toMatchObject({ offset: '1', metadata: 'sluice-processed:4' });
      } finally {
        await first.stop();
      }
      await produce(kafka, input, ['r:25', 'e:4:5', 'r:100'].map((value) => ({ key: null, value })));
      const second = newProcessor();
      await second.start();
      try {
        // e2 and e3 come back from the input and are released once; nothing before them is applied twice.
        expect(await values(4)).toEqual(['1', '2', '4 late', '3']);
        expect(await committed()).toMatchObject({ offset: '7', metadata: null });
      } finally {
        await second.stop();
      }
      // Held events were never written to their store's changelog: the input kept them.
      expect((await admin.fetchTopicOffsets(heldChangelog))[0]!.high).toBe('0');
    } finally {
      await admin.disconnect();
    }
  });
});
