/**
 * Every code a SluiceError may carry, and whether the same call may succeed
 * if tried again (`retriable`): retries are decided by this flag (isRetriable),
 * never by an error's text. A code is a stable name for a dead letter's
 * `error_code`, a metric label, a CLI's exit message: a closed list, so that
 * a new code is a decision made here.
 */
export const ERROR_CODES = {
  // Configuration and definitions: wrong until someone changes them.
  CONFIG_INVALID: { retriable: false },
  RULES_INVALID: { retriable: false },
  ACL_DEFINITION_INVALID: { retriable: false },
  UNKNOWN_STORE: { retriable: false },
  UNKNOWN_INPUT: { retriable: false },
  WATERMARK_TOPIC_UNDECLARED: { retriable: false },
  STARTUP_FAILED: { retriable: false },

  // A record refused (dead-lettered with the code): the same record is refused again.
  PROCESSING_FAILED: { retriable: false },
  UNDECODABLE_AVRO: { retriable: false },
  WATERMARK_INVALID: { retriable: false },
  MALFORMED_JSON: { retriable: false },
  MISSING_FIELD: { retriable: false },
  FEATURE_INPUT_INVALID: { retriable: false },
  ROUTED_EVENT_EMPTY: { retriable: false },
  NO_TERMINAL_FEATURES: { retriable: false },
  FEATURE_SET_MISMATCH: { retriable: false },

  // Other systems.
  /** Topics just created do not all serve reads yet (topics.ts): they will. */
  TOPICS_NOT_READY: { retriable: true },
  /** Another instance registered the same new subject a moment earlier and is still setting its compatibility rule (serde.ts). */
  SCHEMA_REGISTRY_RACE: { retriable: true },
  SCHEMA_REGISTRATION_FAILED: { retriable: false },
  SCHEMA_NOT_REGISTERED: { retriable: false },
  /** A schema that cannot hold a feature vector where it claims to (feature-vector-schema.ts). */
  SCHEMA_INVALID: { retriable: false },
  /** Some records of a replay may be in Kafka: sending again from the start would repeat them (the CLI says where it stopped). */
  REPLAY_SEND_FAILED: { retriable: false },
  /** A stored vector names its feature list by reference, and the store's changelog holds no such list (feature-names.ts). */
  FEATURE_NAMES_MISSING: { retriable: false },

  // Models and the learner. Lower case, as their modules (shared/src/models, services/learner) and tests name them
  // today; to be renamed to upper snake case there, then here.
  invalid_model_options: { retriable: false },
  invalid_model_list: { retriable: false },
  invalid_learner_options: { retriable: false },
  unknown_algorithm: { retriable: false },
  model_state_invalid: { retriable: false },
  model_snapshot_invalid: { retriable: false },
  learner_state_invalid: { retriable: false },
  champion_no_models: { retriable: false },
  feature_set_mismatch: { retriable: false },
  feature_count_mismatch: { retriable: false },
  feature_not_finite: { retriable: false },
  invalid_score: { retriable: false },
  invalid_drift_value: { retriable: false },
} as const satisfies Record<string, { retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable machine-readable code and a reason a person can act on. */
export class SluiceError extends Error {
  /** Whether the same call may succeed if tried again: the code's, unless the thrower knows better. */
  readonly retriable: boolean;

  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
    options?: { cause?: unknown; retriable?: boolean },
  ) {
    super(`${code}: ${reason}`, options);
    this.name = 'SluiceError';
    this.retriable = options?.retriable ?? ERROR_CODES[code].retriable;
  }
}

/**
 * Whether trying again may succeed, by the error's own flag: a SluiceError's,
 * or kafkajs's (its errors carry `retriable` from the protocol's error table).
 * Anything else (a bug, a library error not classified at its edge) is not.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof SluiceError) return error.retriable;
  return error instanceof Error && (error as { retriable?: unknown }).retriable === true;
}
