export { InMemoryTopics, murmur2, type AppendedRecord, type TopicRecord } from './in-memory-topics.js';
export { TopologyTestDriver, type DriverOptions, type PipedRecord } from './test-driver.js';
