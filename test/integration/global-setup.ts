import type { TestProject } from 'vitest/node';
import { containerEngineAvailable, startContainerStack } from '../support/containers.js';
import { startLocalStack, type StackEndpoints } from '../support/stack.js';

/**
 * Starts the Kafka + schema registry stack once per test run:
 * - KAFKA_BROKERS and SCHEMA_REGISTRY_URL set: that cluster, as is;
 * - SLUICE_TEST_STACK=containers, or a container engine present and
 *   SLUICE_TEST_STACK unset: Kafka and Apicurio in containers (testcontainers);
 * - otherwise (SLUICE_TEST_STACK=local, or no engine, as on CI here): the local
 *   stack of deploy/local/stack.sh, from Maven Central jars.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let endpoints: StackEndpoints;
  let teardown = async () => {};
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) {
    endpoints = { brokers: process.env.KAFKA_BROKERS, registryUrl: process.env.SCHEMA_REGISTRY_URL };
  } else {
    const choice = process.env.SLUICE_TEST_STACK;
    const useContainers = choice === 'containers' || (choice !== 'local' && (await containerEngineAvailable()));
    const stack = useContainers ? await startContainerStack() : await startLocalStack();
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
