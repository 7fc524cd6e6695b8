import { featureVectorSchema } from '@sluice/shared/feature-vector-schema';
import type { Label, RoutedEvent, Transaction } from '@sluice/shared/records';
import { defineTopology, input, output, store, topicNames, type ProcessorTopology, type TopicNames, type TopicsConfig, type Topology } from '@sluice/shared/topology';
import { entityStateCodec } from './entity-store.js';
import { CUSTOMER_CLOCKS_STORE, CUSTOMERS_STORE, TERMINAL_BUFFER_STORE, TERMINAL_CLOCKS_STORE, TERMINALS_STORE } from './feature-stages.js';
import { handbookFeatureSpec } from './handbook.js';
import { compileSpec, CUSTOMER_KEY, TERMINAL_KEY, type EntityPlan, type FeaturePlan } from './plan.js';
import { terminalBufferCodec } from './segmented-buffer.js';

/**
 * Features: the customer stage reads validated transactions and labels by
 * customer and routes them by terminal (or, without terminal features, writes
 * the vectors itself); the terminal stage turns the routed events into vectors
 * by customer. What the plan has no use for is not declared: a plan without
 * terminal features has no terminal stage and no routing topic, one without
 * customer features no customer store. The entity stores' changelog codecs
 * are the plan's (the handbook's by default).
 */
export function featuresTopology(config: TopicsConfig, plan: FeaturePlan = compileSpec(handbookFeatureSpec())): FeaturesTopology {
  const topics = topicNames(config.SLUICE_TOPIC_PREFIX);
  const customerPlan = plan.entities.get(CUSTOMER_KEY);
  const terminalPlan = plan.entities.get(TERMINAL_KEY);
  const vectors = output(topics.transactionsFeatures, { schema: featureVectorSchema(topics.transactionsFeatures, plan.version, plan.names), watermarks: true });
  const customers = {
    inputs: customerInputs(topics),
    stores: {
      ...(customerPlan && { [CUSTOMERS_STORE]: entityStore(customerPlan) }),
      [CUSTOMER_CLOCKS_STORE]: store(),
    },
    outputs: [
      terminalPlan
        ? output(topics.transactionsByTerminal, { schema: 'RoutedEvent', watermarks: true })
        : vectors,
    ],
  };
  if (terminalPlan === undefined) return defineTopology(config, 'features', { 'features-customers': customers });
  const terminals = {
    inputs: terminalInputs(topics),
    // The buffered events stay in memory, transactions.by-terminal keeping them (TerminalStage.heldInputs): their
    // store holds what older versions wrote.
    stores: { [TERMINALS_STORE]: entityStore(terminalPlan), [TERMINAL_BUFFER_STORE]: store(terminalBufferCodec), [TERMINAL_CLOCKS_STORE]: store() },
    outputs: [vectors],
  };
  return defineTopology(config, 'features', { 'features-customers': customers, 'features-terminals': terminals });
}

function customerInputs(topics: TopicNames) {
  return {
    transactions: input<Transaction>(topics.transactionsValid, { deadLetter: topics.transactionsDlq, watermarks: true }),
    labels: input<Label>(topics.labelsValid, { deadLetter: topics.labelsDlq, watermarks: true }),
  };
}

function terminalInputs(topics: TopicNames) {
  return { routed: input<RoutedEvent>(topics.transactionsByTerminal, { deadLetter: topics.transactionsDlq, watermarks: true }) };
}

/** An entity store, its states in the changelog through the entity plan's codec. */
function entityStore(entities: EntityPlan) {
  return store(entityStateCodec(entities));
}

export type CustomerInputs = ReturnType<typeof customerInputs>;
export type TerminalInputs = ReturnType<typeof terminalInputs>;
export type FeaturesTopology = Topology<{
  'features-customers': ProcessorTopology<CustomerInputs>;
  /** Only when the plan has terminal features. */
  'features-terminals'?: ProcessorTopology<TerminalInputs>;
}>;
