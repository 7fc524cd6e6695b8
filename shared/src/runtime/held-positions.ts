/**
 * What a processor commits for an input partition when its handler holds some
 * of its records in memory only (ProcessorHandler.heldInputs): the offset of
 * the oldest record still held, so that a new owner reads it again, and, in
 * the commit's metadata, the offset processed through, so that the new owner
 * knows which of those records were processed already (they are only held
 * again, `replay`) and where new work starts. Kafka keeps the metadata with
 * the offset, in the same transaction.
 */
const PROCESSED_PREFIX = 'sluice-processed:';

export interface CommitPosition {
  offset: string;
  /** Null when nothing is held: the offset is the position itself. */
  metadata: string | null;
}

/** `next`: the offset after the last record processed; `oldestHeld`: the handler's oldest held record of the input. */
export function commitPosition(next: bigint, oldestHeld: string | undefined): CommitPosition {
  if (oldestHeld === undefined || BigInt(oldestHeld) >= next) return { offset: next.toString(), metadata: null };
  return { offset: oldestHeld, metadata: `${PROCESSED_PREFIX}${next}` };
}

/**
 * The position processed through, from a committed offset and its metadata: the offset itself unless the
 * metadata names a later one. Metadata this processor did not write (another tool's commit) is ignored.
 */
export function processedPosition(offset: string, metadata: string | null | undefined): string {
  if (metadata == null || !metadata.startsWith(PROCESSED_PREFIX)) return offset;
  const processed = metadata.slice(PROCESSED_PREFIX.length);
  if (!/^\d+$/.test(processed) || BigInt(processed) < BigInt(offset)) return offset;
  return processed;
}
