export * from './fifo.js';
export * from './min-heap.js';
