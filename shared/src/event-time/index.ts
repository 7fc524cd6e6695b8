export * from './watermark.js';
export * from './source-clocks.js';
export * from './input-clock.js';
export * from './ordered-buffer.js';
export * from './input-watermark.js';
export * from './watermark-outbox.js';
export * from './flow-control.js';
export * from './alignment-board.js';
