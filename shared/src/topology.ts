// A service's topology and the contract's topic names, loadable without Kafka (a service's topology.ts is a domain module).
export * from './runtime/topology.js';
export { changelogTopic, contractTopics, topicNames, type TopicDeclaration, type TopicNames, type TopicsConfig } from './topics.js';
