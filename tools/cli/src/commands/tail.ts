import { randomUUID } from 'node:crypto';
import type { Alert } from '@sluice/shared';
import { formatAlert } from '../alert-format.js';
import { connect } from '../connection.js';

export interface TailOptions {
  json: boolean;
  fromBeginning: boolean;
}

/** Follows fraud.alerts (read_committed) until interrupted. */
export async function tailAlertsCommand(options: TailOptions): Promise<void> {
  const connection = connect();
  const consumer = connection.kafka.consumer({ groupId: `sluice-cli-tail-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [connection.topics.fraudAlerts], fromBeginning: options.fromBeginning });
  const stop = async () => {
    await consumer.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await consumer.run({
    eachMessage: async ({ message }) => {
      try {
        const alert = await connection.serde.decode<Alert>(message.value);
        process.stdout.write(`${options.json ? JSON.stringify(alert) : formatAlert(alert)}\n`);
      } catch (error) {
        process.stderr.write(`undecodable alert at offset ${message.offset}: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    },
  });
}
