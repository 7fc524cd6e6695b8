/**
 * Watermarks: how far in event time a source has got. A task that feeds a
 * topic read by other tasks (a repartition, or any topic several upstream
 * partitions write into) writes, in the same transaction as its data, a
 * watermark record to every partition of that topic: "source s of n has sent
 * everything at or before `time`" (or "source s is idle: do not wait for it").
 * A reader applies what it buffered in event-time order once the minimum over
 * all n sources has passed it (source-clocks.ts, ordered-buffer.ts), as Flink
 * does, so its outputs do not depend on how the sources interleaved.
 *
 * On the wire a watermark is a record with no key, no value and the header
 * below: readers that do not follow watermarks skip it (the processor does
 * that for inputs not declared `watermarks: true`).
 */

export interface WatermarkMark {
  /** The writing task: its input partition. */
  source: number;
  /** How many sources write to the topic (the writing stage's partition count). */
  sources: number;
  /** Event time (ms) through which the source has sent everything (inclusive); -Infinity before its first event. */
  time: number;
  /** True when the source has had nothing to read for its idle timeout: readers stop waiting for it. */
  idle: boolean;
}

export const WATERMARK_HEADER = 'sluice-watermark';

export function encodeWatermark(mark: WatermarkMark): string {
  const time = Number.isFinite(mark.time) ? String(mark.time) : '-inf';
  return `${mark.source}/${mark.sources}/${time}/${mark.idle ? 'idle' : 'active'}`;
}

/** The mark a header carries, or undefined when the header is not a well-formed watermark. */
export function decodeWatermark(header: string): WatermarkMark | undefined {
  const parts = header.split('/');
  if (parts.length !== 4) return undefined;
  const [source, sources, time, state] = parts as [string, string, string, string];
  const mark: WatermarkMark = {
    source: Number(source),
    sources: Number(sources),
    time: time === '-inf' ? -Infinity : Number(time),
    idle: state === 'idle',
  };
  if (!Number.isSafeInteger(mark.source) || !Number.isSafeInteger(mark.sources) || mark.source < 0 || mark.source >= mark.sources) return undefined;
  if (!(mark.time === -Infinity || Number.isSafeInteger(mark.time)) || (state !== 'idle' && state !== 'active')) return undefined;
  return mark;
}

/** True for a watermark record (a reader outside the processor skips these: they carry no data). */
export function isWatermarkRecord(headers: Readonly<Record<string, unknown>> | undefined): boolean {
  return headers !== undefined && headers[WATERMARK_HEADER] !== undefined;
}
