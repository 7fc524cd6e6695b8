import { bytesInput, defineTopology, output, store, topicNames, type TopicsConfig } from '@sluice/shared/topology';
import { SEEN_LABELS_STORE, SEEN_TRANSACTIONS_STORE } from './ingest-processor.js';

/** Ingest: raw JSON in, validated Avro out by customer, refusals to the dead-letter topics, ids seen for de-duplication. */
export function ingestTopology(config: TopicsConfig) {
  const topics = topicNames(config.SLUICE_TOPIC_PREFIX);
  return defineTopology(config, 'ingest', {
    ingest: {
      inputs: {
        transactions: bytesInput(topics.transactionsRaw, { deadLetter: topics.transactionsDlq }),
        labels: bytesInput(topics.labelsRaw, { deadLetter: topics.labelsDlq }),
      },
      // Segments of ids (dedup.ts); their shape is the de-duplication's own.
      stores: { [SEEN_TRANSACTIONS_STORE]: store<unknown>(), [SEEN_LABELS_STORE]: store<unknown>() },
      outputs: [
        output(topics.transactionsValid, { schema: 'Transaction', watermarks: true }),
        output(topics.labelsValid, { schema: 'Label', watermarks: true }),
      ],
    },
  });
}

export type IngestTopology = ReturnType<typeof ingestTopology>;
export type IngestInputs = IngestTopology['processors']['ingest']['inputs'];
