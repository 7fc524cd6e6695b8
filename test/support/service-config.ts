/**
 * The services' own configuration schemas, for checking that a deployment's
 * environment (docker-compose, Kubernetes) is one the services accept.
 */
import { checkCommonConfig, loadConfig } from '@sluice/shared';
import { featuresConfigSchema } from '../../services/features/src/config.js';
import { fraudConfigSchema } from '../../services/fraud/src/config.js';
import { ingestConfigSchema } from '../../services/ingest/src/config.js';
import { learnerConfigSchema } from '../../services/learner/src/config.js';

export const CONFIG_SCHEMAS = {
  ingest: ingestConfigSchema,
  features: featuresConfigSchema,
  learner: learnerConfigSchema,
  fraud: fraudConfigSchema,
} as const;

export type ConfiguredService = keyof typeof CONFIG_SCHEMAS;

/** Variables a container may carry that are the runtime's, not the service's. */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS', 'NODE_ENV', 'TZ']);

/**
 * Loads a service's configuration from `env` the way it does at start-up.
 * Returns the configuration, or throws the service's own CONFIG_INVALID
 * message; variables the service does not know are returned, not ignored.
 */
export function serviceConfig(service: ConfiguredService, env: Record<string, string>): { config: Record<string, unknown>; unknown: string[] } {
  const schema = CONFIG_SCHEMAS[service];
  const config = loadConfig(schema, env) as Record<string, unknown>;
  checkCommonConfig(config as Parameters<typeof checkCommonConfig>[0]);
  const unknown = Object.keys(env).filter((key) => !(key in schema.shape) && !RUNTIME_VARIABLES.has(key));
  return { config, unknown };
}
