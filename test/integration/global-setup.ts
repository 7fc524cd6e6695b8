import type { TestProject } from 'vitest/node';
import { startLocalStack, type StackEndpoints } from '../support/stack.js';

/**
 * Starts the Kafka + schema registry stack once per test run. With
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL set, an existing cluster is used as is.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let endpoints: StackEndpoints;
  let teardown = async () => {};
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) {
    endpoints = { brokers: process.env.KAFKA_BROKERS, registryUrl: process.env.SCHEMA_REGISTRY_URL };
  } else {
    const stack = await startLocalStack();
    endpoints = stack.endpoints;
    teardown = stack.stop;
  }
  process.env.KAFKA_BROKERS = endpoints.brokers;
  process.env.SCHEMA_REGISTRY_URL = endpoints.registryUrl;
  project.provide('kafkaBrokers', endpoints.brokers);
  project.provide('schemaRegistryUrl', endpoints.registryUrl);
  return teardown;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}
