import type { RoutedEvent } from '@sluice/shared';
import { segmentedBufferCodec, type SegmentFormat } from '@sluice/shared/event-time';
import { routedFields, routedOf, serializeRoutedEvent, type RoutedFields } from './routed-codec.js';

/**
 * How the terminal stage's buffer writes its routed events in shared's
 * segments (`SegmentedBuffer`, many events to a changelog record): each as
 * its positional fields (routed-codec.ts), with its buffer key.
 */
export const TERMINAL_SEGMENTS: SegmentFormat<RoutedEvent> = {
  // At most 300 bytes an event besides its values, at most 24 a value.
  estimatedBytes: (routed) => 300 + 24 * (routed.event_values.length + routed.customer_values.length),
  write: (events) => Array.from(events, ([key, routed]): [string, RoutedFields] => [key, routedFields(routed)]),
  read: (written) => (written as [string, RoutedFields][]).map(([key, fields]): [string, RoutedEvent] => [key, routedOf(fields)]),
  single: (value) => value as RoutedEvent,
};

/** The buffer store's codec (topology.ts); events stored one per key before segments read as routed-codec's. */
export const terminalBufferCodec = segmentedBufferCodec({
  serialize: serializeRoutedEvent,
  deserialize: (bytes) => routedOf(JSON.parse(bytes.toString('utf8')) as RoutedFields | RoutedEvent),
});
