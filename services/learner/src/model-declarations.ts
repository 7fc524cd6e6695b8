import { createModel, SluiceError, type OnlineModel } from '@sluice/shared';

/** The algorithms the learner trains on labels (the anomaly model, Half-Space Trees, is declared apart). */
export const SUPERVISED_ALGORITHMS = ['logistic_regression', 'gradient_boosted_trees'] as const;
export type SupervisedAlgorithm = (typeof SUPERVISED_ALGORITHMS)[number];

/** One supervised model of LEARNER_MODELS: its key on model.updates and its algorithm. */
export interface ModelDeclaration {
  name: string;
  algorithm: SupervisedAlgorithm;
}

/**
 * The default set: the logistic regression first (the champion until the
 * trees have learned enough, and the fallback of the rule), the
 * gradient-boosted trees as its challenger.
 */
export const DEFAULT_LEARNER_MODELS = 'fraud-lr:logistic_regression,fraud-gbdt:gradient_boosted_trees';

/**
 * `name:algorithm,name:algorithm,…` in declared order (the first is the
 * champion rule's first incumbent). Throws SluiceError('invalid_model_list')
 * saying which entry is wrong.
 */
export function parseModelDeclarations(text: string): ModelDeclaration[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) throw new SluiceError('invalid_model_list', 'no model declared; expected name:algorithm[,name:algorithm…]');
  const declarations: ModelDeclaration[] = [];
  for (const entry of entries) {
    const match = /^([A-Za-z0-9._-]+):([a-z_]+)$/.exec(entry);
    if (match === null) throw new SluiceError('invalid_model_list', `"${entry}" is not name:algorithm (name of letters, digits, '.', '_', '-')`);
    const [, name, algorithm] = match as unknown as [string, string, string];
    if (!(SUPERVISED_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new SluiceError('invalid_model_list', `"${entry}": algorithm must be one of ${SUPERVISED_ALGORITHMS.join(', ')}`);
    }
    if (declarations.some((d) => d.name === name)) throw new SluiceError('invalid_model_list', `model name "${name}" is declared twice`);
    declarations.push({ name, algorithm: algorithm as SupervisedAlgorithm });
  }
  return declarations;
}

export interface SupervisedModelSettings {
  /** Logistic regression only (the trees use GRADIENT_BOOSTED_TREES_DEFAULTS). */
  learningRate: number;
  l2: number;
}

/** A fresh model for a declaration, as the learner builds it. */
export function createSupervisedModel(declaration: ModelDeclaration, featureNames: readonly string[], settings: SupervisedModelSettings): OnlineModel {
  return declaration.algorithm === 'logistic_regression'
    ? createModel('logistic_regression', featureNames, { learningRate: settings.learningRate, l2: settings.l2 })
    : createModel('gradient_boosted_trees', featureNames);
}
