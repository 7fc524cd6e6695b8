import { describe, expect, it } from 'vitest';
import { EntityStore } from '../src/entity-store.js';
import { compileSpec } from '../src/plan.js';
import { assembleVector, eventFeatures } from '../src/vector.js';

describe('feature vectors', () => {
  const plan = compileSpec({
    version: 'clicks-v1',
    timeZone: 'Asia/Tokyo',
    features: [
      { kind: 'window', name: 'PAGE_VIEWS_1H', entity: 'page_id', windowMs: 3_600_000, aggregation: 'count' },
      { kind: 'field', name: 'DWELL', field: 'dwell_ms' },
      { kind: 'window', name: 'USER_DWELL_MAX_1D', entity: 'user_id', windowMs: 86_400_000, aggregation: 'max', field: 'dwell_ms' },
      { kind: 'calendar', name: 'HOUR', part: 'hour' },
      { kind: 'field', name: 'BOUNCED', field: 'bounced' },
      { kind: 'window', name: 'USER_CLICKS_1D', entity: 'user_id', windowMs: 86_400_000, aggregation: 'count' },
    ],
  });

  it('assembles the parts of each stage in spec order, for any entity keys', () => {
    expect([...plan.entities.keys()]).toEqual(['page_id', 'user_id']);
    const users = new EntityStore(plan.entities.get('user_id')!);
    const pages = new EntityStore(plan.entities.get('page_id')!);
    const t = Date.UTC(2024, 0, 1, 15);
    const clicks = [
      { user_id: 'u', page_id: 'p', event_time: t, dwell_ms: 300, bounced: false },
      { user_id: 'u', page_id: 'q', event_time: t + 1000, dwell_ms: 100, bounced: true },
    ];
    const vectors = clicks.map((click) => {
      const own = eventFeatures(plan, click);
      const user = users.update(click).values;
      const page = pages.update(click).values;
      return assembleVector(plan, own, { user_id: user, page_id: page });
    });
    // 15:00 UTC is midnight in Tokyo (UTC+9).
    expect(vectors).toEqual([
      [1, 300, 300, 0, 0, 1],
      [1, 100, 300, 0, 1, 2],
    ]);
  });

  it('refuses a vector missing an entity part', () => {
    expect(() => assembleVector(plan, [1, 2, 3], { user_id: [1, 2] })).toThrow(RangeError);
  });

  it('refuses an event without the fields its features read', () => {
    expect(() => eventFeatures(plan, { event_time: 0, bounced: true })).toThrow(TypeError);
    expect(() => eventFeatures(plan, { event_time: 'yesterday', dwell_ms: 1, bounced: true })).toThrow(TypeError);
  });
});
