import { describe, expect, it } from 'vitest';
import { loadConfig } from '@sluice/shared';
import { checkLearnerConfig, learnerConfigSchema } from '../src/config.js';

describe('learner configuration', () => {
  it('trains the regression and the trees by default, the regression first', () => {
    const config = loadConfig(learnerConfigSchema, {});
    expect(config.LEARNER_MODELS).toEqual([
      { name: 'fraud-lr', algorithm: 'logistic_regression' },
      { name: 'fraud-gbdt', algorithm: 'gradient_boosted_trees' },
    ]);
    expect(config.LEARNER_CHAMPION_METRIC).toBe('log_loss');
  });

  it('reads LEARNER_MODELS in declared order', () => {
    const config = loadConfig(learnerConfigSchema, { LEARNER_MODELS: ' trees:gradient_boosted_trees , lr:logistic_regression' });
    expect(config.LEARNER_MODELS.map((m) => m.name)).toEqual(['trees', 'lr']);
  });

  it.each([
    ['lr', /LEARNER_MODELS: .*not name:algorithm/],
    ['lr:half_space_trees', /LEARNER_MODELS: .*algorithm must be one of logistic_regression, gradient_boosted_trees/],
    ['a:logistic_regression,a:gradient_boosted_trees', /LEARNER_MODELS: model name "a" is declared twice/],
    [',', /LEARNER_MODELS: no model declared/],
  ])('names LEARNER_MODELS when it is wrong (%s)', (value, message) => {
    expect(() => loadConfig(learnerConfigSchema, { LEARNER_MODELS: value })).toThrow(message);
  });

  it('names the variable of a bad champion setting', () => {
    expect(() => loadConfig(learnerConfigSchema, { LEARNER_CHAMPION_METRIC: 'f1' })).toThrow(/LEARNER_CHAMPION_METRIC/);
    expect(() => loadConfig(learnerConfigSchema, { LEARNER_CHAMPION_MARGIN: '-0.1' })).toThrow(/LEARNER_CHAMPION_MARGIN/);
  });

  it('refuses a supervised model named as the anomaly model', () => {
    const config = loadConfig(learnerConfigSchema, { LEARNER_MODELS: 'fraud-hst:logistic_regression' });
    expect(() => checkLearnerConfig(config)).toThrow(/LEARNER_MODELS: .*LEARNER_ANOMALY_MODEL_NAME/);
  });
});
