import type { Admin, Kafka } from 'kafkajs';
import { restoreChangelogs, retrying, type AvroSerde, type Logger, type ModelSnapshot } from '@sluice/shared';

/**
 * Reads model.updates (one partition) from its beginning to its current end,
 * committed records only, and returns the last snapshot of each wanted model
 * name. Only the last record per key is kept (O(1) memory however long the
 * uncompacted tail is): model.updates has one partition and one writer at a
 * time (the training partition's transactional id), so the last snapshot of a
 * name is also its highest version.
 */
export async function readLatestSnapshots(
  kafka: Kafka,
  admin: Admin,
  serde: AvroSerde,
  topic: string,
  names: readonly string[],
  logger: Logger,
): Promise<Map<string, ModelSnapshot>> {
  const wanted = new Set(names);
  const last = new Map<string, Buffer>();
  await restoreChangelogs(
    kafka,
    admin,
    [{ topic, partitions: [0] }],
    (record) => {
      if (!wanted.has(record.key)) return;
      if (record.value === null) last.delete(record.key);
      else last.set(record.key, record.value);
    },
    logger,
  );
  const snapshots = new Map<string, ModelSnapshot>();
  for (const [name, bytes] of last) snapshots.set(name, await serde.decode<ModelSnapshot>(bytes));
  return snapshots;
}

/**
 * `read` with a few attempts. A learner that cannot tell whether a model exists
 * must not train one from zero, so after the last attempt `onGiveUp` runs
 * (main.ts: log and exit; the uncommitted batch is redone by the next owner).
 */
export function withAttempts<T>(read: () => Promise<T>, options: { attempts: number; backoffMs: number; logger: Logger; onGiveUp: (error: unknown) => never }): () => Promise<T> {
  return async () => {
    try {
      return await retrying(read, {
        attempts: options.attempts,
        delayMs: (attempt) => options.backoffMs * attempt,
        onRetry: (error, attempt) => options.logger.warn({ err: error, attempt }, 'could not read model.updates; retrying'),
      });
    } catch (error) {
      return options.onGiveUp(error);
    }
  };
}
