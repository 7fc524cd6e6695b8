import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { FeatureContribution } from '@sluice/shared';
import { alertIdFor, buildAlert, explainTop, topContributions, uuidV5 } from '../src/explanation.js';

const contributionsArb = fc.uniqueArray(
  fc.record({ feature: fc.string({ minLength: 1, maxLength: 6 }), contribution: fc.oneof(fc.double(), fc.constantFrom(0, -0, 1, -1)) }),
  { selector: (c) => c.feature, maxLength: 12 },
);

describe('topContributions', () => {
  it('keeps the k largest by absolute value, largest first, as a subset', () => {
    fc.assert(
      fc.property(contributionsArb, fc.integer({ min: 0, max: 14 }), (contributions, k) => {
        const top = topContributions(contributions, k);
        const eligible = contributions.filter((c) => Number.isFinite(c.contribution) && c.contribution !== 0);
        expect(top).toHaveLength(Math.min(k, eligible.length));
        for (const c of top) expect(eligible).toContainEqual(c);
        for (let i = 1; i < top.length; i++) {
          expect(Math.abs((top[i - 1] as FeatureContribution).contribution)).toBeGreaterThanOrEqual(Math.abs((top[i] as FeatureContribution).contribution));
        }
        const smallestKept = Math.min(...top.map((c) => Math.abs(c.contribution)));
        for (const c of eligible) if (!top.includes(c)) expect(Math.abs(c.contribution)).toBeLessThanOrEqual(smallestKept);
      }),
      { numRuns: 500 },
    );
  });

  it('orders by magnitude whatever the sign, ties in feature order', () => {
    const contributions = [
      { feature: 'a', contribution: 0.1 },
      { feature: 'b', contribution: -2 },
      { feature: 'c', contribution: 0 },
      { feature: 'd', contribution: 0.5 },
      { feature: 'e', contribution: -0.5 },
      { feature: 'f', contribution: Number.NaN },
    ];
    expect(topContributions(contributions, 3).map((c) => c.feature)).toEqual(['b', 'd', 'e']);
    expect(topContributions(contributions, 10).map((c) => c.feature)).toEqual(['b', 'd', 'e', 'a']);
  });

  it('explains nothing when the scorer cannot', () => {
    expect(explainTop({ predict: () => 0.5 }, [1], 3)).toEqual([]);
    expect(explainTop({ predict: () => 0.5, explain: () => { throw new Error('no'); } }, [1], 3)).toEqual([]);
    expect(explainTop({ predict: () => 0.5, explain: (x) => x.map((v, i) => ({ feature: `f${i}`, contribution: v })) }, [1, -3, 2], 2)).toEqual([
      { feature: 'f1', contribution: -3 },
      { feature: 'f2', contribution: 2 },
    ]);
  });
});

describe('alert ids', () => {
  it('are RFC 9562 version 5 UUIDs (published test vector)', () => {
    const dns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
    expect(uuidV5(dns, 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('are the same for the same transaction and differ between transactions', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(alertIdFor(a)).toBe(alertIdFor(a));
        expect(alertIdFor(a)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        if (a !== b) expect(alertIdFor(a)).not.toBe(alertIdFor(b));
      }),
    );
  });
});

describe('buildAlert', () => {
  const vector = { transaction_id: 'tx-1', customer_id: 'c-1', terminal_id: 't-1', amount: 1500, event_time: 1000, ingested_at: 1100 };
  const rules = [{ name: 'large-amount', severity: 'high' as const, description: 'amount above 1000' }];
  const top = [{ feature: 'amount', contribution: 2.5 }];

  it('carries the vector, the score, the model, the reasons and the count', () => {
    expect(
      buildAlert({ vector, score: 0.9, threshold: 0.5, model: { model_name: 'fraud-lr', version: 7 }, firedRules: rules, topFeatures: top, transactionCount: 3, alertedAt: 2000 }),
    ).toEqual({
      alert_id: alertIdFor('tx-1'),
      transaction_id: 'tx-1',
      customer_id: 'c-1',
      terminal_id: 't-1',
      amount: 1500,
      score: 0.9,
      threshold: 0.5,
      model_name: 'fraud-lr',
      model_version: 7,
      rules_fired: rules,
      top_features: top,
      transaction_count: 3,
      event_time: 1000,
      ingested_at: 1100,
      alerted_at: 2000,
    });
  });

  it('has no model fields when rules alone decided, and copies its inputs', () => {
    const alert = buildAlert({ vector, score: null, threshold: 0.5, model: null, firedRules: rules, topFeatures: [], transactionCount: 1, alertedAt: 2000 });
    expect([alert.score, alert.model_name, alert.model_version]).toEqual([null, null, null]);
    expect(alert.rules_fired[0]).not.toBe(rules[0]);
  });
});
