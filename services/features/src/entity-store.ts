/**
 * The states of one entity kind owned by one instance (e.g. the customers of
 * the partitions it is assigned), keyed by entity id. It remembers which ids
 * changed so the service can write exactly those to the changelog in the same
 * transaction as its outputs, and drops expired states (whose ids then need a
 * tombstone).
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
import {
  deserializeEntityState,
  estimateEntityStateBytes,
  serializeEntityState,
  type SerializedEntityState,
} from './state-codec.js';

export class EntityStore {
  private readonly states = new Map<string, EntityState>();
  private readonly touched = new Set<string>();

  constructor(readonly plan: EntityPlan) {}

  get size(): number {
    return this.states.size;
  }

  ids(): IterableIterator<string> {
    return this.states.keys();
  }

  get(entityId: string): EntityState | undefined {
    return this.states.get(entityId);
  }

  /** Applies an event to its entity (created on first sight); a late event leaves the state as it was. */
  update(event: object): EntityUpdate & { entityId: string } {
    const entityId = entityIdOf(this.plan, event);
    let state = this.states.get(entityId);
    if (state === undefined) {
      state = createEntityState(this.plan);
      this.states.set(entityId, state);
    }
    const { outcome, values } = updateEntity(this.plan, state, event);
    if (outcome !== 'late') this.touched.add(entityId);
    return { entityId, outcome, values };
  }

  /** Applies a label to its entity; an entity is created only when the label is applied. */
  applyLabel(label: object): { entityId: string; outcome: LabelOutcome } {
    const entityId = entityIdOf(this.plan, label);
    const state = this.states.get(entityId) ?? createEntityState(this.plan);
    const outcome = applyLabel(this.plan, state, label);
    if (outcome === 'applied') {
      this.states.set(entityId, state);
      this.touched.add(entityId);
    }
    return { entityId, outcome };
  }

  /** Ids changed since the last call, in order of first change; the set is emptied. */
  takeTouched(): string[] {
    const ids = [...this.touched];
    this.touched.clear();
    return ids;
  }

  serialize(entityId: string): SerializedEntityState | undefined {
    const state = this.states.get(entityId);
    return state === undefined ? undefined : serializeEntityState(this.plan, state);
  }

  /** Loads a changelog record; null (a tombstone) removes the entity. */
  restore(entityId: string, value: unknown): void {
    if (value === null) this.states.delete(entityId);
    else this.states.set(entityId, deserializeEntityState(this.plan, value));
  }

  /** Removes the states expired at this (partition) watermark and returns their ids. */
  evictExpired(watermark: number): string[] {
    const evicted: string[] = [];
    for (const [entityId, state] of this.states) {
      if (isExpired(this.plan, state, watermark)) evicted.push(entityId);
    }
    for (const entityId of evicted) {
      this.states.delete(entityId);
      this.touched.delete(entityId);
    }
    return evicted;
  }

  estimateBytes(): number {
    let bytes = 0;
    for (const state of this.states.values()) bytes += estimateEntityStateBytes(state);
    return bytes;
  }
}
