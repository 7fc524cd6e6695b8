import { readFileSync } from 'node:fs';
import { bootstrapService, createProcessor, loadConfig, runService, serveMetrics } from '@sluice/shared';
import { ingestConfigSchema } from './config.js';
import { doorAccess } from './door-auth.js';
import { HttpDoor } from './http-door.js';
import { IngestMetrics } from './ingest-metrics.js';
import { IngestProcessor } from './ingest-processor.js';
import { IngestWatermarks } from './ingest-watermarks.js';
import { ingestTopology } from './topology.js';

runService('ingest', async () => {
  const config = loadConfig(ingestConfigSchema);
  // Read before connecting to anything: a bad key file or TLS setting fails start-up at once, naming the variable.
  const access = config.INGEST_HTTP_ENABLED ? doorAccess(config, (path) => readFileSync(path)) : undefined;
  const topology = ingestTopology(config);
  const runtime = await bootstrapService(config, topology);
  const { topics, logger } = runtime;
  const limits = {
    maxMessageBytes: config.INGEST_MAX_MESSAGE_BYTES,
    maxDepth: config.INGEST_MAX_JSON_DEPTH,
    maxFutureMs: config.INGEST_MAX_FUTURE_MS,
    minEventTimeMs: Date.parse(config.INGEST_MIN_EVENT_TIME),
  };
  const metrics = new IngestMetrics(runtime.metrics);
  const watermarks = new IngestWatermarks(topics, { disorderMs: config.INGEST_WATERMARK_DISORDER_MS, idleTimeoutMs: config.INGEST_IDLE_TIMEOUT_MS });
  const ingest = new IngestProcessor(topics, { limits, dedup: { horizonMs: config.INGEST_DEDUP_HORIZON_MS, maxEntries: config.INGEST_DEDUP_MAX_ENTRIES } }, metrics, watermarks);

  const processor = createProcessor(
    runtime,
    topology.processors.ingest,
    {
      process: (message, context) => ingest.process(message, context),
      onRestored: (task) => ingest.onRestored(task),
      onRevoked: (task) => ingest.onRevoked(task),
      punctuate: { intervalMs: config.INGEST_WATERMARK_INTERVAL_MS, run: (context) => watermarks.send(context) },
      afterBatch: (context) => {
        watermarks.afterBatch(context);
        ingest.noteDedupSizes(context);
        metrics.dedupEntries.set({ kind: 'transaction' }, ingest.dedupEntries('transaction'));
        metrics.dedupEntries.set({ kind: 'label' }, ingest.dedupEntries('label'));
      },
    },
    { maxBytesPerPartition: config.INGEST_FETCH_MAX_BYTES },
  );
  runtime.shutdown.register('processor', () => processor.stop());
  await serveMetrics(runtime, { healthy: () => processor.healthy(), ready: () => processor.readiness() });

  if (access?.mode === 'closed') {
    logger.warn('HTTP door closed: no API keys configured. Set INGEST_HTTP_KEYS_FILE (or INGEST_HTTP_KEYS) to open it to key holders, INGEST_HTTP_AUTH=none to open it to anyone, or INGEST_HTTP_ENABLED=false to silence this');
  } else if (access !== undefined) {
    const door = new HttpDoor(
      runtime.kafka,
      topics,
      { port: config.INGEST_HTTP_PORT, host: config.INGEST_HTTP_HOST, maxBodyBytes: config.INGEST_HTTP_MAX_BODY_BYTES, limits, guard: access.guard, tls: access.tls },
      metrics,
      logger,
    );
    const port = await door.start();
    runtime.shutdown.register('http door', () => door.stop());
    if (access.mode === 'none') logger.warn({ port }, 'HTTP door open without authentication (INGEST_HTTP_AUTH=none): anyone who reaches the port can write to the raw topics');
    logger.info({ port, auth: access.mode, keys: access.mode === 'keys' ? access.keys : 0, tls: access.tls !== undefined }, 'HTTP door listening: POST /v1/transactions, /v1/labels');
  }
  await processor.start();
});
