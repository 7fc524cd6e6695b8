import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, generatedRecordTypes } from '../scripts/generate-record-types.js';
import type * as Avro from '../src/generated/avro-records.js';
import type * as Records from '../src/records.js';

/**
 * The hand-written record types carry the docs and narrower unions; the Avro
 * schemas are what goes over the wire. Each pair is checked both ways by the
 * type-checker (`npm run typecheck` compiles this file):
 * - what a decoder returns (every field, defaults filled in) is a valid
 *   hand-written value, so a field the schema has and the type lacks, or a
 *   required field the schema does not have, fails;
 * - a hand-written value is what the encoder accepts, so a field the type
 *   requires but the schema lacks a default for, or a wider type, fails.
 */
type Assert<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;
/** Exact key sets: `Extends` alone lets a hand-written type carry a field the schema does not have, if optional. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
type Agrees<Decoded, Input, Hand> = Extends<Decoded, Hand> extends true
  ? Extends<Hand, Input> extends true
    ? SameKeys<Decoded, Hand>
    : false
  : false;

export type RecordsAgreeWithAvro = [
  Assert<Agrees<Avro.AvroTransaction, Avro.AvroTransactionInput, Records.Transaction>>,
  Assert<Agrees<Avro.AvroLabel, Avro.AvroLabelInput, Records.Label>>,
  Assert<Agrees<Avro.AvroFeatureVector, Avro.AvroFeatureVectorInput, Records.FeatureVector>>,
  Assert<Agrees<Avro.AvroRoutedEvent, Avro.AvroRoutedEventInput, Records.RoutedEvent>>,
  Assert<Agrees<Avro.AvroLabelledExample, Avro.AvroLabelledExampleInput, Records.LabelledExample>>,
  Assert<Agrees<Avro.AvroModelMetrics, Avro.AvroModelMetricsInput, Records.ModelMetrics>>,
  Assert<Agrees<Avro.AvroModelSnapshot, Avro.AvroModelSnapshotInput, Records.ModelSnapshot>>,
  Assert<Agrees<Avro.AvroFiredRule, Avro.AvroFiredRuleInput, Records.FiredRule>>,
  Assert<Agrees<Avro.AvroFeatureContribution, Avro.AvroFeatureContributionInput, Records.FeatureContribution>>,
  Assert<Agrees<Avro.AvroScore, Avro.AvroScoreInput, Records.Score>>,
  Assert<Agrees<Avro.AvroAlert, Avro.AvroAlertInput, Records.Alert>>,
];

describe('record types and Avro schemas', () => {
  it('the generated declarations are current (run `npm run generate:records` after changing a schema)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(generatedRecordTypes());
  });
});
