/**
 * Compiles a FeatureSpec into the layout the engine runs on.
 *
 * Per entity key (customer_id, terminal_id, ...):
 * - a channel per distinct (source, filter): the sorted points of that entity
 *   which pass the filter, with the fields its features aggregate;
 * - a window group per distinct (channel, window, delay): the running
 *   quantities for that window, laid out in one flat number array per entity
 *   state, so features over the same window (count and mean) share one slide.
 */

import { aggregations, type AggregationDef, type Needs } from './aggregations.js';
import { localTimeIn, type LocalTime } from './calendar.js';
import { compileFilter, type Predicate } from './filter.js';
import {
  DEFAULT_EVENT_TIME_FIELD,
  DEFAULT_EXACT_CAP,
  DEFAULT_GRACE_MS,
  DEFAULT_LABEL_TIME_FIELD,
  validateSpec,
  type CalendarFeature,
  type FeatureSpec,
  type FieldFeature,
  type PointSource,
  type WindowFeature,
  type WindowInput,
} from './spec.js';

/** The entity keys the service can route: the customer (the input's key) and the terminal (repartitioned). */
export const CUSTOMER_KEY = 'customer_id';
export const TERMINAL_KEY = 'terminal_id';

/** Offsets of one field's quantities within a group; -1 when not kept. */
export interface FieldSlots {
  /** Index of the field in its channel. */
  field: number;
  /** Reference value K, Σ(x−K) and its compensation. */
  sum: number;
  /** Σ(x−K)², its compensation, and the mass removed from it since last centred. */
  sumsq: number;
  /** Per half-life: anchor A, Σw·x, compensation, Σw, compensation (w = 2^((t−A)/halfLife)). */
  ewm: { halfLifeMs: number; offset: number }[];
  /** Index of the monotonic queue in the state's queue list. */
  minQueue: number;
  maxQueue: number;
}

/** Slots: offset = first index in the window, offset+1 = one past the last, offset+2 = point count. */
export interface GroupPlan {
  channel: number;
  windowMs: number;
  delayMs: number;
  offset: number;
  fields: FieldSlots[];
}

/** Columns of a bucketed channel per field; -1 when not kept. */
export interface BucketColumns {
  /** First value that entered the bucket; the sums are shifted by it. */
  base: number;
  sum: number;
  sumsq: number;
  min: number;
  max: number;
}

export interface ChannelPlan {
  source: PointSource;
  accepts: Predicate;
  fields: string[];
  bucketColumns: BucketColumns[];
  bucketColumnCount: number;
  groups: number[];
  /** Longest window + delay over its groups: how far back a query can reach. */
  reachMs: number;
  bucketMs: number;
  /**
   * For a label channel: the entity's unfiltered event channel (its transactions), or -1 when it has none. A label
   * is one transaction's label, so it enters only while the transactions at its time outnumber the labels there.
   */
  matches: number;
}

export interface InputPlan {
  group: number;
  /** The input's field; undefined for a count-only input. */
  slots: FieldSlots | undefined;
  /** Offset of the ewm quantities for this input's half-life, or -1. */
  ewmOffset: number;
}

export interface EntityFeaturePlan {
  name: string;
  aggregation: AggregationDef;
  inputs: InputPlan[];
  empty: number;
}

export interface EntityPlan {
  key: string;
  /** Names of this entity's features, in spec order. */
  names: string[];
  features: EntityFeaturePlan[];
  channels: ChannelPlan[];
  groups: GroupPlan[];
  windowSlots: number;
  queueCount: number;
  graceMs: number;
  /** Longest window + delay over all channels. */
  reachMs: number;
  exactCap: number;
  timeField: string;
  labelTimeField: string;
  /** True when some feature reads labels: the service must route labels to this entity's states. */
  usesLabels: boolean;
}

export type EventFeature = FieldFeature | CalendarFeature;

export interface FeaturePlan {
  version: string;
  names: string[];
  graceMs: number;
  eventTimeField: string;
  eventFeatures: EventFeature[];
  localTime: (time: number) => LocalTime;
  /** Entity plans by key, in order of first appearance in the spec. */
  entities: ReadonlyMap<string, EntityPlan>;
  /** For each feature in spec order: where its value comes from (undefined entity = the event itself). */
  order: { entity: string | undefined; index: number }[];
}

const BUCKET_LADDER_MS = [
  1, 10, 100, 1_000, 5_000, 10_000, 15_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
  7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** The smallest round width (dividing a day, so buckets align with midnight) of at least `ms`. */
export function roundBucketMs(ms: number): number {
  return BUCKET_LADDER_MS.find((width) => width >= ms) ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

interface ChannelDraft {
  source: PointSource;
  filter: NonNullable<WindowInput['filter']>;
  fields: string[];
  fieldNeeds: Needs[];
  groups: number[];
}

interface GroupDraft {
  channel: number;
  windowMs: number;
  delayMs: number;
  needs: Map<number, { needs: Needs; halfLives: Set<number> }>;
}

interface InputDraft {
  group: number;
  field: number | undefined;
  halfLifeMs: number | undefined;
}

function mergeNeeds(into: Needs, add: Needs): void {
  into.sum ||= add.sum === true || add.sumsq === true;
  into.sumsq ||= add.sumsq === true;
  into.min ||= add.min === true;
  into.max ||= add.max === true;
  into.ewm ||= add.ewm === true;
}

class EntityDraft {
  readonly channels: ChannelDraft[] = [];
  readonly groups: GroupDraft[] = [];
  readonly features: { feature: WindowFeature; aggregation: AggregationDef; inputs: InputDraft[] }[] = [];
  private readonly channelIds = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();

  constructor(readonly key: string) {}

  add(feature: WindowFeature): void {
    const aggregation = aggregations[feature.aggregation];
    const windowMs = feature.windowMs;
    const delayMs = feature.delayMs ?? 0;
    // A ratio operand with a field sums it, one without counts its points.
    const operand = (input: WindowInput): InputDraft =>
      this.input(input, windowMs, delayMs, input.field === undefined ? {} : { sum: true }, undefined);
    const inputs = aggregation.ratio === true
      ? [operand(feature.numerator ?? {}), operand(feature.denominator ?? {})]
      : [this.input(feature, windowMs, delayMs, aggregation.needs, feature.halfLifeMs)];
    this.features.push({ feature, aggregation, inputs });
  }

  private input(input: WindowInput, windowMs: number, delayMs: number, needs: Needs, halfLifeMs: number | undefined): InputDraft {
    const source = input.source ?? 'events';
    const filter = input.filter ?? [];
    const channelKey = JSON.stringify([source, filter]);
    let channel = this.channelIds.get(channelKey);
    if (channel === undefined) {
      channel = this.channels.push({ source, filter, fields: [], fieldNeeds: [], groups: [] }) - 1;
      this.channelIds.set(channelKey, channel);
    }
    const channelDraft = this.channels[channel]!;
    const groupKey = `${channel}/${windowMs}/${delayMs}`;
    let group = this.groupIds.get(groupKey);
    if (group === undefined) {
      group = this.groups.push({ channel, windowMs, delayMs, needs: new Map() }) - 1;
      this.groupIds.set(groupKey, group);
      channelDraft.groups.push(group);
    }
    if (input.field === undefined) return { group, field: undefined, halfLifeMs: undefined };
    let field = channelDraft.fields.indexOf(input.field);
    if (field < 0) {
      field = channelDraft.fields.push(input.field) - 1;
      channelDraft.fieldNeeds.push({});
    }
    mergeNeeds(channelDraft.fieldNeeds[field]!, needs);
    const groupDraft = this.groups[group]!;
    let groupNeeds = groupDraft.needs.get(field);
    if (groupNeeds === undefined) {
      groupNeeds = { needs: {}, halfLives: new Set() };
      groupDraft.needs.set(field, groupNeeds);
    }
    mergeNeeds(groupNeeds.needs, needs);
    if (halfLifeMs !== undefined) groupNeeds.halfLives.add(halfLifeMs);
    return { group, field, halfLifeMs };
  }

  compile(spec: FeatureSpec, graceMs: number, exactCap: number): EntityPlan {
    let windowSlots = 0;
    let queueCount = 0;
    const groups: GroupPlan[] = this.groups.map((draft) => {
      const offset = windowSlots;
      windowSlots += 3;
      const fields: FieldSlots[] = [];
      for (const [field, { needs, halfLives }] of draft.needs) {
        const slots: FieldSlots = { field, sum: -1, sumsq: -1, ewm: [], minQueue: -1, maxQueue: -1 };
        if (needs.sum === true) {
          slots.sum = windowSlots;
          windowSlots += 3;
        }
        if (needs.sumsq === true) {
          slots.sumsq = windowSlots;
          windowSlots += 3;
        }
        for (const halfLifeMs of halfLives) {
          slots.ewm.push({ halfLifeMs, offset: windowSlots });
          windowSlots += 5;
        }
        if (needs.min === true) slots.minQueue = queueCount++;
        if (needs.max === true) slots.maxQueue = queueCount++;
        fields.push(slots);
      }
      return { channel: draft.channel, windowMs: draft.windowMs, delayMs: draft.delayMs, offset, fields };
    });
    const channels: ChannelPlan[] = this.channels.map((draft) => {
      let bucketColumnCount = 0;
      const bucketColumns = draft.fieldNeeds.map((needs): BucketColumns => ({
        base: bucketColumnCount++,
        sum: bucketColumnCount++,
        sumsq: needs.sumsq === true ? bucketColumnCount++ : -1,
        min: needs.min === true ? bucketColumnCount++ : -1,
        max: needs.max === true ? bucketColumnCount++ : -1,
      }));
      const reachMs = Math.max(...draft.groups.map((g) => this.groups[g]!.windowMs + this.groups[g]!.delayMs));
      return {
        source: draft.source,
        matches: draft.source === 'labels' ? this.channels.findIndex((other) => other.source === 'events' && other.filter.length === 0) : -1,
        accepts: compileFilter(draft.filter),
        fields: draft.fields,
        bucketColumns,
        bucketColumnCount,
        groups: draft.groups,
        reachMs,
        bucketMs: spec.bucketMs ?? roundBucketMs((reachMs + graceMs) / exactCap),
      };
    });
    const features: EntityFeaturePlan[] = this.features.map(({ feature, aggregation, inputs }) => ({
      name: feature.name,
      aggregation,
      empty: feature.empty ?? aggregation.empty(feature.windowMs),
      inputs: inputs.map(({ group, field, halfLifeMs }): InputPlan => {
        const slots = field === undefined ? undefined : groups[group]!.fields.find((f) => f.field === field);
        const ewmOffset = slots?.ewm.find((e) => e.halfLifeMs === halfLifeMs)?.offset ?? -1;
        return { group, slots, ewmOffset };
      }),
    }));
    return {
      key: this.key,
      names: features.map((f) => f.name),
      features,
      channels,
      groups,
      windowSlots,
      queueCount,
      graceMs,
      reachMs: Math.max(...channels.map((c) => c.reachMs)),
      exactCap,
      timeField: spec.eventTimeField ?? DEFAULT_EVENT_TIME_FIELD,
      labelTimeField: spec.labelTimeField ?? DEFAULT_LABEL_TIME_FIELD,
      usesLabels: channels.some((c) => c.source === 'labels'),
    };
  }
}

/** Validates the spec (RangeError on the first problem) and lays it out. */
export function compileSpec(spec: FeatureSpec): FeaturePlan {
  validateSpec(spec);
  const graceMs = spec.graceMs ?? DEFAULT_GRACE_MS;
  const exactCap = spec.exactCap ?? DEFAULT_EXACT_CAP;
  const drafts = new Map<string, EntityDraft>();
  const eventFeatures: EventFeature[] = [];
  const order: FeaturePlan['order'] = [];
  for (const feature of spec.features) {
    if (feature.kind === 'window') {
      let draft = drafts.get(feature.entity);
      if (draft === undefined) {
        draft = new EntityDraft(feature.entity);
        drafts.set(feature.entity, draft);
      }
      order.push({ entity: feature.entity, index: draft.features.length });
      draft.add(feature);
    } else {
      order.push({ entity: undefined, index: eventFeatures.length });
      eventFeatures.push(feature);
    }
  }
  const entities = new Map<string, EntityPlan>();
  for (const [key, draft] of drafts) entities.set(key, draft.compile(spec, graceMs, exactCap));
  return {
    version: spec.version,
    names: spec.features.map((f) => f.name),
    graceMs,
    eventTimeField: spec.eventTimeField ?? DEFAULT_EVENT_TIME_FIELD,
    eventFeatures,
    localTime: localTimeIn(spec.timeZone),
    entities,
    order,
  };
}
