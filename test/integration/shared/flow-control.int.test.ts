import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, type ProcessingContext } from '@sluice/shared';
import { produce } from '../../support/kafka.js';
import { followValues, twoInputTopics } from '../../support/two-inputs.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('flow control', () => {
  it('a paused input waits while the other input of its task flows and punctuation runs; resumed, it delivers the rest exactly once', async () => {
    const { kafka, a, b, out, newProcessor } = await twoInputTopics('flow-control');

    // b's 'pause-a' and 'pause-b' pause an input from `process`; once both have been paused for five punctuations, punctuation resumes them.
    const punctuation = { rounds: 0, roundsWithAPaused: 0, roundsAllPaused: 0 };
    const resumeWhenAllPaused = (context: ProcessingContext) => {
      punctuation.rounds += 1;
      if (context.isInputPaused(a)) punctuation.roundsWithAPaused += 1;
      if (!context.isInputPaused(a) || !context.isInputPaused(b)) return;
      punctuation.roundsAllPaused += 1;
      if (punctuation.roundsAllPaused < 5) return;
      context.resumeInput(a);
      context.resumeInput(b);
    };
    const metrics = createMetricsRegistry('flow-control-test');
    const processor = newProcessor(
      {
        process(message, context) {
          const value = (message.value as Buffer).toString('utf8');
          if (value === 'pause-a') context.pauseInput(a);
          if (value === 'pause-b') context.pauseInput(b);
          context.sendBytes(out, null, Buffer.from(`${message.topic === a ? 'a' : 'b'}:${value}`));
        },
        punctuate: { intervalMs: 100, run: resumeWhenAllPaused },
      },
      metrics,
    );
    await processor.start();
    stops.push(() => processor.stop());

    const { seen, stop } = await followValues(kafka, out);
    stops.push(stop);
    const pausedGauge = async (topic: string) => (await metrics.getSingleMetric('sluice_paused_inputs')!.get()).values.find((value) => value.labels.topic === topic)?.value;

    const values = (name: string, from: number, to: number) => Array.from({ length: to - from }, (_, index) => ({ key: null, value: `${name}${from + index}` }));
    await produce(kafka, b, [{ key: null, value: 'pause-a' }, ...values('b', 0, 5)]);
    await waitUntil(() => seen.filter((value) => value.startsWith('b:')).length === 6, "b's first records");
    expect(await pausedGauge(a)).toBe(1);

    // Written after the pause took effect (its output committed): a is not fetched, b flows, punctuation goes on.
    await produce(kafka, a, values('a', 0, 50));
    const roundsBefore = punctuation.rounds;
    await produce(kafka, b, values('b', 5, 20));
    await waitUntil(() => seen.filter((value) => value.startsWith('b:')).length === 21, "b's later records");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(seen.filter((value) => value.startsWith('a:'))).toEqual([]);
    expect(punctuation.rounds).toBeGreaterThan(roundsBefore + 5);
    expect(punctuation.roundsWithAPaused).toBeGreaterThan(5);

    // Every input of the task paused: punctuation still runs, and resumes both.
    await produce(kafka, b, [{ key: null, value: 'pause-b' }]);
    await waitUntil(() => seen.filter((value) => value.startsWith('a:')).length === 50, "a's records after the resume");
    await produce(kafka, b, values('b', 20, 25));
    await waitUntil(() => seen.length === 1 + 25 + 1 + 50, 'the last records');
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(punctuation.roundsAllPaused).toBe(5);
    expect(seen.filter((value) => value.startsWith('a:'))).toEqual(values('a', 0, 50).map(({ value }) => `a:${value}`));
    expect([...seen].sort()).toEqual([...new Set(seen)].sort());
    expect(seen).toHaveLength(77);
    expect(await pausedGauge(a)).toBe(0);
    expect(await pausedGauge(b)).toBe(0);
  });

  it('wake punctuates at once every task, or only those that paused an input, coalescing a burst of calls', async () => {
    const { kafka, a, b, out, newProcessor } = await twoInputTopics('flow-wake');
    // The timer would punctuate once an hour: only wake runs the punctuation in this test.
    let mayResume = false;
    let punctuations = 0;
    const processor = newProcessor({
      process(message, context) {
        const value = (message.value as Buffer).toString('utf8');
        if (value === 'pause-a') context.pauseInput(a);
        context.sendBytes(out, null, Buffer.from(`${message.topic === a ? 'a' : 'b'}:${value}`));
      },
      punctuate: {
        intervalMs: 3_600_000,
        run(context) {
          punctuations += 1;
          if (mayResume) context.resumeInput(a);
        },
      },
    });
    await processor.start();
    stops.push(() => processor.stop());
    const { seen, stop } = await followValues(kafka, out);
    stops.push(stop);
    const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

    // Nothing paused: no task to wake, unless all are asked for.
    await produce(kafka, b, [{ key: null, value: 'b0' }]);
    await waitUntil(() => seen.length === 1, 'the first record');
    processor.wake('paused');
    await settle();
    expect(punctuations).toBe(0);
    processor.wake('all');
    await settle();
    expect(punctuations).toBe(1);

    await produce(kafka, b, [{ key: null, value: 'pause-a' }]);
    await waitUntil(() => seen.length === 2, 'the pausing record');
    await produce(kafka, a, Array.from({ length: 20 }, (_, index) => ({ key: null, value: `a${index}` })));
    // Ten calls at once: one round, and one more for the calls made during it.
    for (let call = 0; call < 10; call++) processor.wake('paused');
    await settle();
    expect(punctuations).toBe(3);
    expect(seen.filter((value) => value.startsWith('a:'))).toEqual([]);

    mayResume = true;
    processor.wake('paused');
    await waitUntil(() => seen.filter((value) => value.startsWith('a:')).length === 20, "a's records after the wake", 30_000);
    expect(punctuations).toBe(4);
    expect(seen.filter((value) => value.startsWith('a:'))).toEqual(Array.from({ length: 20 }, (_, index) => `a:a${index}`));
  });
});
