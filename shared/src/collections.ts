export * from './fifo.js';
export * from './min-heap.js';
export * from './collections/keyed-heap.js';
export * from './collections/expiring-index.js';
