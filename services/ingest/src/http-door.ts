import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger, TopicNames } from '@sluice/shared';
import { splitBatchBody } from './batch-body.js';
import { presentedKey, type DoorGuard } from './door-auth.js';
import type { IngestMetrics, RecordKind } from './ingest-metrics.js';
import { validateLabel, validateTransaction, type ValidationLimits } from './validation.js';

export interface RecordOutcome {
  index: number;
  line: number;
  status: 'accepted' | 'rejected';
  transaction_id?: string;
  code?: string;
  reason?: string;
}

export interface HttpDoorOptions {
  port: number;
  host: string;
  maxBodyBytes: number;
  limits: ValidationLimits;
  /** Who may post what, how often (door-auth.ts). */
  guard: DoorGuard;
  /** Serve HTTPS with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
}

const routes: Record<string, RecordKind> = { '/v1/transactions': 'transaction', '/v1/labels': 'label' };

/**
 * An HTTP door for producers that cannot speak Kafka. Each record is checked
 * by the same validator as the Kafka path, so the caller learns at once which
 * records were refused and why; accepted records are written, as sent, to the
 * raw topic, and from there take exactly the Kafka path (de-duplication,
 * exactly-once). "accepted" means durably written (acks=all). Callers are
 * checked (key, granted kind, rate) before the body is read; a refusal is
 * counted in sluice_http_door_refusals_total{reason}.
 */
export class HttpDoor {
  private server?: Server;
  private producer?: Producer;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: TopicNames,
    private readonly options: HttpDoorOptions,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<number> {
    this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    const listener = (request: IncomingMessage, response: ServerResponse) => {
      this.handle(request, response).catch((error: unknown) => {
        this.logger.error({ err: error }, 'http door failed');
        this.reply(response, request.url ?? '', 503, { error: 'UNAVAILABLE', reason: 'could not write to Kafka; retry later' });
      });
    };
    this.server = this.options.tls ? createTlsServer({ cert: this.options.tls.cert, key: this.options.tls.key }, listener) : createServer(listener);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port, this.options.host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.producer?.disconnect();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const route = (request.url ?? '/').split('?')[0] ?? '/';
    const kind = routes[route];
    if (!kind) return this.reply(response, route, 404, { error: 'NOT_FOUND', reason: 'POST to /v1/transactions or /v1/labels' });
    if (request.method !== 'POST') return this.reply(response, route, 405, { error: 'METHOD_NOT_ALLOWED', reason: 'use POST' });
    const decision = this.options.guard.check(presentedKey(request.headers), kind, Date.now());
    if (decision.outcome === 'refused') {
      this.metrics.httpRefusals.inc({ reason: decision.reason });
      request.resume();
      const headers: Record<string, string> = {};
      if (decision.retryAfterSeconds !== undefined) headers['retry-after'] = String(decision.retryAfterSeconds);
      if (decision.status === 401) headers['www-authenticate'] = 'Bearer';
      return this.reply(response, route, decision.status, { error: decision.reason.toUpperCase(), reason: decision.message }, headers);
    }
    const body = await this.readBody(request);
    if (body === undefined) {
      return this.reply(response, route, 413, { error: 'BODY_TOO_LARGE', reason: `the body exceeds ${this.options.maxBodyBytes} bytes: send fewer records per request` });
    }
    const split = splitBatchBody(body);
    if (!split.ok) return this.reply(response, route, 400, { error: split.code, reason: split.reason });

    const now = Date.now();
    const topic = kind === 'transaction' ? this.topics.transactionsRaw : this.topics.labelsRaw;
    const outcomes: RecordOutcome[] = [];
    const messages: { key: string; value: Buffer }[] = [];
    for (const item of split.items) {
      const context = { nowMs: now, ingestedAt: now };
      const result = kind === 'transaction' ? validateTransaction(item.raw, context, this.options.limits) : validateLabel(item.raw, context, this.options.limits);
      if (result.ok) {
        outcomes.push({ index: item.index, line: item.line, status: 'accepted', transaction_id: result.record.transaction_id });
        messages.push({ key: result.record.customer_id, value: Buffer.from(item.raw) });
      } else {
        outcomes.push({ index: item.index, line: item.line, status: 'rejected', code: result.code, reason: result.reason });
      }
    }
    if (messages.length > 0) await this.producer!.send({ topic, messages, acks: -1 });
    const accepted = messages.length;
    this.metrics.httpRecords.inc({ kind, outcome: 'accepted' }, accepted);
    this.metrics.httpRecords.inc({ kind, outcome: 'rejected' }, outcomes.length - accepted);
    const status = accepted === outcomes.length ? 200 : accepted === 0 ? 422 : 207;
    this.reply(response, route, status, { accepted, rejected: outcomes.length - accepted, records: outcomes });
  }

  private readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.options.maxBodyBytes) tooLarge = true;
        else chunks.push(chunk);
      });
      request.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
      request.on('error', reject);
    });
  }

  private reply(response: ServerResponse, route: string, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.metrics.httpRequests.inc({ route: routes[route] ? route : 'other', status: String(status) });
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  }
}
