import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RecordKind = 'transaction' | 'label';

export class IngestMetrics {
  readonly records: Counter<'kind' | 'outcome'>;
  readonly rejections: Counter<'kind' | 'code'>;
  readonly bytes: Counter<'kind'>;
  readonly latency: Histogram<'kind'>;
  readonly dedupEvictions: Counter<'kind'>;
  readonly dedupEntries: Gauge<'kind'>;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly httpRecords: Counter<'kind' | 'outcome'>;
  readonly httpRefusals: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.records = new Counter({ name: 'sluice_ingest_records_total', help: 'Raw records handled by ingest: accepted, rejected (dead-lettered) or duplicate.', labelNames: ['kind', 'outcome'], registers });
    this.rejections = new Counter({ name: 'sluice_ingest_rejections_total', help: 'Raw records dead-lettered, by error code.', labelNames: ['kind', 'code'], registers });
    this.bytes = new Counter({ name: 'sluice_ingest_bytes_total', help: 'Bytes of raw record values read.', labelNames: ['kind'], registers });
    this.latency = new Histogram({
      name: 'sluice_ingest_latency_seconds',
      help: 'From the raw record\'s append to transactions.raw/labels.raw to its validation.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.dedupEvictions = new Counter({ name: 'sluice_ingest_dedup_evictions_total', help: 'Ids pushed out of the de-duplication store by its size bound while still inside the horizon.', labelNames: ['kind'], registers });
    this.dedupEntries = new Gauge({ name: 'sluice_ingest_dedup_entries', help: 'Ids remembered for de-duplication on this instance.', labelNames: ['kind'], registers });
    this.httpRequests = new Counter({ name: 'sluice_ingest_http_requests_total', help: 'HTTP requests to the ingest door, by route and status.', labelNames: ['route', 'status'], registers });
    this.httpRefusals = new Counter({
      name: 'sluice_http_door_refusals_total',
      help: 'HTTP door requests refused before reading the body: no_credentials, unknown_key, kind_not_granted, rate_limited.',
      labelNames: ['reason'],
      registers,
    });
    this.httpRecords = new Counter({ name: 'sluice_ingest_http_records_total', help: 'Records posted over HTTP, accepted (written to the raw topic) or rejected (answered to the caller).', labelNames: ['kind', 'outcome'], registers });
  }
}
