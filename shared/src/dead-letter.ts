/**
 * What a dead-letter record carries: the original bytes untouched, where they
 * came from, and why they were refused. The value is JSON so that any tool can
 * read it; the original bytes are base64 so that nothing is lost.
 */
export interface DeadLetter {
  error_code: string;
  reason: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  source_timestamp: string | null;
  original_key_base64: string | null;
  original_value_base64: string | null;
  original_size_bytes: number;
  service: string;
  dead_lettered_at: string;
}

export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  timestamp?: string | null;
  key: Buffer | null;
  value: Buffer | null;
}

export function buildDeadLetter(source: DeadLetterSource, code: string, reason: string, service: string, now: number): DeadLetter {
  return {
    error_code: code,
    reason,
    source_topic: source.topic,
    source_partition: source.partition,
    source_offset: source.offset,
    source_timestamp: source.timestamp ?? null,
    original_key_base64: source.key ? source.key.toString('base64') : null,
    original_value_base64: source.value ? source.value.toString('base64') : null,
    original_size_bytes: source.value?.length ?? 0,
    service,
    dead_lettered_at: new Date(now).toISOString(),
  };
}

/** Headers on the dead-letter record so that consumers can filter without parsing the value. */
export function deadLetterHeaders(letter: DeadLetter): Record<string, string> {
  return {
    'sluice.error.code': letter.error_code,
    'sluice.source.topic': letter.source_topic,
    'sluice.source.partition': String(letter.source_partition),
    'sluice.source.offset': letter.source_offset,
  };
}
