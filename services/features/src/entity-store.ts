/**
 * The states of one entity kind owned by one instance (e.g. the customers of
 * one partition), keyed by entity id, over a key-value map. In the service
 * that map is the partition's changelogged store: every `put` marks the id
 * for the changelog, and the codec below writes the state as it stands when
 * the batch commits. A state is put only when it changed (a late event
 * leaves it as it was), and expired states are deleted (a tombstone).
 */

import {
  applyLabel,
  createEntityState,
  entityIdOf,
  isExpired,
  updateEntity,
  type EntityState,
  type EntityUpdate,
  type LabelOutcome,
} from './entity-state.js';
import type { EntityPlan } from './plan.js';
import { deserializeEntityState, estimateEntityStateBytes, serializeEntityState } from './state-codec.js';

/** The part of a key-value store the entity store needs (shared's KeyValueStore has this shape). */
export interface StateMap<V> {
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  delete(key: string): void;
  readonly size: number;
  entries(): IterableIterator<[string, V]>;
}

/** A plain in-memory StateMap, for tests and benchmarks. */
export class MemoryStateMap<V> implements StateMap<V> {
  private readonly map = new Map<string, V>();
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  put(key: string, value: V): void {
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  get size(): number {
    return this.map.size;
  }
  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }
}

/** Entity states to and from changelog bytes (compact JSON, see state-codec.ts). */
export function entityStateCodec(plan: EntityPlan): { serialize(state: EntityState): Buffer; deserialize(bytes: Buffer): EntityState } {
  return {
    serialize: (state) => Buffer.from(JSON.stringify(serializeEntityState(plan, state))),
    deserialize: (bytes) => deserializeEntityState(plan, JSON.parse(bytes.toString('utf8'))),
  };
}

export class EntityStore {
  constructor(
    readonly plan: EntityPlan,
    private readonly states: StateMap<EntityState> = new MemoryStateMap(),
  ) {}

  get size(): number {
    return this.states.size;
  }

  get(entityId: string): EntityState | undefined {
    return this.states.get(entityId);
  }

  /** Applies an event to its entity (created on first sight); a late event leaves the state as it was. */
  update(event: object): EntityUpdate & { entityId: string } {
    const entityId = entityIdOf(this.plan, event);
    const state = this.states.get(entityId) ?? createEntityState(this.plan);
    const { outcome, values } = updateEntity(this.plan, state, event);
    if (outcome !== 'late') this.states.put(entityId, state);
    return { entityId, outcome, values };
  }

  /** Applies a label to its entity; an entity is created only when the label is applied. */
  applyLabel(label: object): { entityId: string; outcome: LabelOutcome } {
    const entityId = entityIdOf(this.plan, label);
    const state = this.states.get(entityId) ?? createEntityState(this.plan);
    const outcome = applyLabel(this.plan, state, label);
    if (outcome === 'applied') this.states.put(entityId, state);
    return { entityId, outcome };
  }

  /** The newest event time over all entities (the partition's watermark after a restore). */
  watermark(): number {
    let newest = -Infinity;
    for (const [, state] of this.states.entries()) if (state.watermark > newest) newest = state.watermark;
    return newest;
  }

  /** Deletes the states expired at this (partition) watermark and returns their ids. */
  evictExpired(watermark: number): string[] {
    const evicted: string[] = [];
    for (const [entityId, state] of this.states.entries()) {
      if (isExpired(this.plan, state, watermark)) evicted.push(entityId);
    }
    for (const entityId of evicted) this.states.delete(entityId);
    return evicted;
  }

  estimateBytes(): number {
    let bytes = 0;
    for (const [, state] of this.states.entries()) bytes += estimateEntityStateBytes(state);
    return bytes;
  }
}
